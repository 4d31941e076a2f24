//! # twilio-sms
//!
//! The typed, audited core of Hivekeep's Twilio SMS channel.
//!
//! - [`webhook`]: strict `X-Twilio-Signature` verification. An [`UnverifiedWebhook`] becomes a
//!   [`VerifiedWebhook`] (and a [`VerifiedInbound`]) only through [`WebhookVerifier::verify`].
//! - Validated identifiers: [`AccountSid`], [`MessageSid`], [`ids::MessagingServiceSid`], [`E164`],
//!   [`ChannelId`], [`PublicUrl`], [`ApiBase`], and the [`AuthToken`] secret.
//!
//! ```
//! use twilio_sms::{AuthToken, BodyLimit, PublicUrl, UnverifiedWebhook, VerifiedInbound, WebhookVerifier};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let token = AuthToken::new("0123456789abcdef0123456789abcdef")?;
//! let verifier = WebhookVerifier::new(&token);
//! let public_url = PublicUrl::parse("https://agents.example.com")?;
//!
//! // What a server received (here without a signature, so it is refused).
//! let request = http::Request::post("/api/channels/plugin/twilio-sms/webhook/abc")
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body(b"Body=hello".to_vec())?;
//! let webhook = UnverifiedWebhook::from_http(&public_url, request, BodyLimit::DEFAULT)?;
//! match verifier.verify(webhook) {
//!     Ok(verified) => {
//!         let sms = VerifiedInbound::try_from(verified)?;
//!         println!("{}", sms.body());
//!     }
//!     Err(rejection) => assert_eq!(rejection.response().status(), 403),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Security model
//! - A verified webhook proves that someone holding the Auth Token signed this URL and these
//!   parameters. It does not prove freshness: Twilio signatures carry no timestamp, so a captured
//!   request can be replayed. De-duplicate on `MessageSid` (or the idempotency token).
//! - The public URL is configuration, never taken from the request's `Host` or forwarded headers.
//! - The Auth Token is never printed; the one place that reads it is `src/token.rs`.
//! - Rejections answer a bare `403`; their reason goes to `tracing` without secrets or phone numbers.

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
// No input can panic the library: no unwrap, expect, panic or unchecked indexing outside tests.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod api_error;
pub mod channel;
pub mod checks;
#[cfg(feature = "client")]
pub mod client;
pub mod credentials;
pub mod hivekeep;
pub mod ids;
pub mod outbound;
pub mod phone;
pub mod retry;
#[cfg(feature = "axum")]
pub mod router;
#[cfg(feature = "serde")]
mod serde_impls;
#[cfg(feature = "axum")]
mod serve;
pub mod sms_text;
pub mod status;
pub mod token;
pub mod url;
pub mod webhook;

// The root holds what a reviewer audits: the secret, the verifier, the unverified and verified webhook
// types, the URL types and the identifiers. Everything else lives in its module.
pub use channel::ChannelId;
pub use ids::{AccountSid, MessageSid};
pub use phone::E164;
pub use token::AuthToken;
pub use url::{ApiBase, PublicUrl, WebhookUrl};
pub use webhook::{
    BodyLimit, UnverifiedWebhook, VerifiedInbound, VerifiedWebhook, VerifyError, WebhookVerifier,
};

/// The Rust code of README.md, compiled with the doctests (`cargo test`), so that what it shows builds.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
