//! # twilio-sms
//!
//! The typed, audited core of Hivekeep's Twilio SMS channel.
//!
//! - [`webhook`]: strict `X-Twilio-Signature` verification. An [`UnverifiedWebhook`] becomes a
//!   [`VerifiedWebhook`] (and a [`VerifiedInbound`]) only through [`WebhookVerifier::verify`].
//! - Validated identifiers: [`AccountSid`], [`MessageSid`], [`MessagingServiceSid`], [`E164`],
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

pub mod adapter;
pub mod api_error;
mod channel;
#[cfg(feature = "client")]
pub mod client;
mod credentials;
pub mod delivery;
mod ids;
pub mod outbound;
mod phone;
pub mod retry;
#[cfg(feature = "axum")]
pub mod router;
#[cfg(feature = "axum")]
mod serve;
pub mod sms_text;
mod status;
pub mod store;
mod token;
mod url;
pub mod webhook;

#[cfg(feature = "test-util")]
pub mod danger;
#[cfg(feature = "test-util")]
pub mod mock;

pub use api_error::{ErrorKind, RetrySafety, TwilioApiError};
pub use channel::{ChannelId, ChannelIdError};
pub use credentials::{
    ConfigError, Credentials, MemoryVault, SecretSource, SecretSourceError, Sender, StoredChannelConfig,
};
pub use ids::{AccountSid, ApiKeySid, MessageSid, MessagingServiceSid, SidError};
pub use outbound::{SentMessage, Sms, StatusCallback};
pub use phone::{Address, AddressKind, E164, PhoneError, Redacted};
pub use sms_text::{BodyError, SmsBody};
pub use status::{DeliveryRank, HivekeepStatus, MessageStatus, StatusDecision, decide};
pub use token::{ApiKeySecret, AuthToken, AuthTokenError};
pub use url::{ApiBase, PublicUrl, UrlError, WebhookUrl};
pub use webhook::{
    BodyLimit, InboundError, Media, OptOut, Signature, UnverifiedWebhook, VerifiedInbound, VerifiedWebhook,
    VerifyError, WebhookVerifier,
};
