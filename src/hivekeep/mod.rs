//! The Hivekeep channel, sans I/O where it decides: what the `twilio-sms` channel plugin does with the
//! Twilio protocol of the rest of the crate.
//!
//! - [`adapter`]: Hivekeep's shapes (`IncomingMessage`, `OutboundMessageResult`...), the webhook
//!   decision and its steps ([`adapter::WebhookStep`]), a reply's plan and its send steps
//!   ([`adapter::SendStep`]), the config schema, and `TwilioSmsChannel`, the native driver (feature
//!   `client`);
//! - [`delivery`]: a verified webhook classified for the channel (inbound message, status callback), the
//!   multi-part protocol, the status ordering step and its localized hints;
//! - [`store`]: what a channel remembers between webhooks (de-duplication, the applied status), the
//!   in-memory and Redis stores, and the sweep schedule of a host's key-value storage.

pub mod adapter;
pub mod delivery;
pub mod store;
