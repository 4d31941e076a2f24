//! The typed view of an inbound SMS.

use super::VerifiedWebhook;
use crate::ids::{AccountSid, MessageSid, SidError};
use crate::phone::Address;

/// Why a verified webhook is not a readable inbound SMS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InboundError {
    /// A parameter every inbound SMS has is missing.
    #[error("inbound SMS without the {0} parameter")]
    Missing(&'static str),
    /// `MessageSid` or `AccountSid` is not a SID of its kind.
    #[error("inbound SMS parameter {name}: {error}")]
    InvalidSid {
        /// The parameter name.
        name: &'static str,
        /// What is wrong with it.
        error: SidError,
    },
    /// `NumMedia` or `NumSegments` is not a whole number.
    #[error("inbound SMS parameter {0} is not a whole number")]
    NotANumber(&'static str),
}

/// An inbound SMS (or MMS) read from a [`VerifiedWebhook`]. Only that conversion makes one.
///
/// `From` and `To` are [`Address`]es: phone numbers are syntax-checked E.164 (Twilio signed them), and
/// short codes and alphanumeric senders stay usable. Every other parameter is reachable through
/// [`VerifiedInbound::webhook`].
///
/// Its `Debug` masks the numbers and leaves the message text out (it may quote a phone number).
#[must_use]
pub struct VerifiedInbound {
    from: Address,
    to: Address,
    body: String,
    message_sid: MessageSid,
    account_sid: AccountSid,
    num_media: u32,
    num_segments: u32,
    webhook: VerifiedWebhook,
}

impl core::fmt::Debug for VerifiedInbound {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedInbound")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("body_len", &self.body.len())
            .field("message_sid", &self.message_sid)
            .field("account_sid", &self.account_sid)
            .field("num_media", &self.num_media)
            .field("num_segments", &self.num_segments)
            .field("webhook", &self.webhook)
            .finish()
    }
}

impl TryFrom<VerifiedWebhook> for VerifiedInbound {
    type Error = InboundError;

    /// Reads the inbound SMS parameters of a verified webhook.
    ///
    /// `MessageSid` (or the older `SmsSid`), `AccountSid`, `From` and `To` are required; `Body` may be
    /// absent (an MMS without text) and reads as empty; `NumMedia` and `NumSegments` default to 0 and 1.
    fn try_from(webhook: VerifiedWebhook) -> Result<Self, Self::Error> {
        let required = |name: &'static str| webhook.param(name).ok_or(InboundError::Missing(name));
        let sid = |name: &'static str, error| InboundError::InvalidSid { name, error };
        let message_sid = match webhook.param("MessageSid").or_else(|| webhook.param("SmsSid")) {
            Some(s) => MessageSid::parse(s).map_err(|e| sid("MessageSid", e))?,
            None => return Err(InboundError::Missing("MessageSid")),
        };
        let account_sid = AccountSid::parse(required("AccountSid")?).map_err(|e| sid("AccountSid", e))?;
        let from = Address::from_signed(required("From")?);
        let to = Address::from_signed(required("To")?);
        let number = |name: &'static str, default: u32| match webhook.param(name) {
            None => Ok(default),
            Some(n) => n.parse::<u32>().map_err(|_| InboundError::NotANumber(name)),
        };
        let num_media = number("NumMedia", 0)?;
        let num_segments = number("NumSegments", 1)?;
        let body = webhook.param("Body").unwrap_or("").to_owned();
        Ok(Self { from, to, body, message_sid, account_sid, num_media, num_segments, webhook })
    }
}

impl VerifiedInbound {
    /// The sender (`From`).
    #[must_use]
    pub fn from(&self) -> &Address {
        &self.from
    }

    /// The recipient (`To`): the channel's number, for a message that belongs to the channel.
    #[must_use]
    pub fn to(&self) -> &Address {
        &self.to
    }

    /// The message text (`Body`), exactly as sent.
    #[must_use]
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The message's SID (`MessageSid`).
    #[must_use]
    pub fn message_sid(&self) -> &MessageSid {
        &self.message_sid
    }

    /// The account the message was sent to (`AccountSid`).
    #[must_use]
    pub fn account_sid(&self) -> &AccountSid {
        &self.account_sid
    }

    /// How many media items an MMS carries (`NumMedia`, 0 for SMS).
    #[must_use]
    pub fn num_media(&self) -> u32 {
        self.num_media
    }

    /// How many segments the message had (`NumSegments`).
    #[must_use]
    pub fn num_segments(&self) -> u32 {
        self.num_segments
    }

    /// The verified webhook, for every other parameter (`FromCountry`, `MediaUrl0`, ...).
    pub fn webhook(&self) -> &VerifiedWebhook {
        &self.webhook
    }
}
