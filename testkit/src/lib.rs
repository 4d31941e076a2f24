//! # twilio-sms-testkit
//!
//! The test kit of `twilio-sms`, a dev crate outside the library's dependency graph: the library's
//! tests, examples and doctests use it, and so can the tests of a service built on the library.
//!
//! - Signing ([`sign`], [`SigningKey`], [`encode_form`], [`body_sha256_hex`]): what Twilio sends,
//!   computed from Twilio's documented algorithm rather than with the library's code, so that a
//!   request signed here checks the verifier against an independent implementation.
//! - [`mock`]: an embedded mock of Twilio's Messages API on loopback, with signed status callbacks and
//!   inbound webhooks.
//!
//! It uses the library's public API only. Nothing here prints a token: [`SigningKey`]'s `Debug` is
//! redacted, and so is every `Debug` of the mock.
//!
//! ```
//! use http::{HeaderMap, HeaderValue, Method};
//! use twilio_sms::{AuthToken, BodyLimit, UnverifiedWebhook, WebhookUrl, WebhookVerifier};
//! use twilio_sms_testkit::{encode_form, sign};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! const TOKEN: &str = "0123456789abcdef0123456789abcdef";
//! let url = "https://agents.example.com/hook";
//! let params = [("Body", "hello"), ("From", "+14155550100")];
//! let mut headers = HeaderMap::new();
//! headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
//! headers.insert("x-twilio-signature", HeaderValue::from_str(&sign(TOKEN, url, &params).to_string())?);
//! let body = encode_form(&params);
//! let webhook =
//!     UnverifiedWebhook::new(Method::POST, WebhookUrl::exact(url)?, headers, body, BodyLimit::DEFAULT)?;
//! let verified = WebhookVerifier::new(&AuthToken::new(TOKEN)?).verify(webhook)?;
//! assert_eq!(verified.param("Body"), Some("hello"));
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
// The mock runs inside other crates' tests: no input can panic it either.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod mock;
mod signing;

pub use signing::{SigningKey, body_sha256_hex, encode_form, sign};
