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

/// What an inbound message says about the sender's consent to receive SMS: Twilio's opt-out keywords.
///
/// Twilio acts on them itself (it blocks messages to a sender who sent `STOP` until `START`, error
/// 21610, and answers `HELP`); the channel only has to know, so that an agent does not answer a `STOP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OptOut {
    /// The sender unsubscribed (`STOP`, `STOPALL`, `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT`, `OPTOUT`,
    /// `REVOKE`): nothing can be sent to them until they send `START`.
    Stop,
    /// The sender subscribed again (`START`, `YES`, `UNSTOP`).
    Start,
    /// The sender asked for help (`HELP`, `INFO`).
    Help,
}

impl OptOut {
    /// Twilio's `OptOutType` (Advanced Opt-Out) when it names one, else a body that is one of Twilio's
    /// default keywords alone (in any case, surrounding spaces ignored).
    fn read(opt_out_type: Option<&str>, body: &str) -> Option<Self> {
        let keyword = |word: &str| {
            const STOP: [&str; 8] =
                ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"];
            let is = |list: &[&str]| list.iter().any(|k| k.eq_ignore_ascii_case(word));
            if is(&STOP) {
                Some(Self::Stop)
            } else if is(&["START", "YES", "UNSTOP"]) {
                Some(Self::Start)
            } else if is(&["HELP", "INFO"]) {
                Some(Self::Help)
            } else {
                None
            }
        };
        opt_out_type.and_then(|named| keyword(named.trim())).or_else(|| keyword(body.trim()))
    }
}

/// A media item of an inbound MMS: where Twilio keeps it, and its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Media<'a> {
    /// `MediaUrl{N}`: an `https` URL on a host of `twilio.com`.
    pub url: &'a str,
    /// `MediaContentType{N}`, when given.
    pub content_type: Option<&'a str>,
}

/// The most media an MMS carries.
const MAX_MEDIA: u32 = 10;

/// Whether `url` is `https` on `twilio.com` or one of its subdomains (a plain host name, any port).
fn is_twilio_media(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = authority.split_once(':').unwrap_or((authority, "0"));
    let host = host.to_ascii_lowercase();
    let plain = host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    plain && port_ok && (host == "twilio.com" || host.ends_with(".twilio.com"))
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

    /// The media of an MMS, in order: `MediaUrl{N}` and `MediaContentType{N}` for each `N` below
    /// `NumMedia` (at most 10); an item whose URL is missing, not `https` or not on a host of
    /// `twilio.com` is left out (the host downloads these URLs).
    pub fn media(&self) -> impl Iterator<Item = Media<'_>> + '_ {
        (0..self.num_media.min(MAX_MEDIA)).filter_map(move |n| {
            let url = self.webhook.param(&format!("MediaUrl{n}")).filter(|u| is_twilio_media(u))?;
            let content_type = self.webhook.param(&format!("MediaContentType{n}")).filter(|t| !t.is_empty());
            Some(Media { url, content_type })
        })
    }

    /// The opt-out keyword the message is, if any: Twilio's `OptOutType`, else the body alone.
    #[must_use]
    pub fn opt_out(&self) -> Option<OptOut> {
        OptOut::read(self.webhook.param("OptOutType"), &self.body)
    }

    /// The verified webhook, for every other parameter (`FromCountry`, `MediaUrl0`, ...).
    pub fn webhook(&self) -> &VerifiedWebhook {
        &self.webhook
    }
}

#[cfg(test)]
mod tests {
    use super::OptOut;

    #[test]
    fn opt_out_keywords_are_read_like_twilio() {
        let body = |text: &str| OptOut::read(None, text);
        for stop in
            ["STOP", "  stop \n", "StopAll", "unsubscribe", "CANCEL", "end", "Quit", "optout", "REVOKE"]
        {
            assert_eq!(body(stop), Some(OptOut::Stop), "{stop:?}");
        }
        for start in ["START", "yes", "Unstop"] {
            assert_eq!(body(start), Some(OptOut::Start), "{start:?}");
        }
        assert_eq!(body("help"), Some(OptOut::Help));
        assert_eq!(body("INFO"), Some(OptOut::Help));
        // A keyword inside a sentence, or near one, is a message.
        for text in ["please stop", "STOP!", "stop it", "Stopp", "", "  ", "HELPME", "yes please"] {
            assert_eq!(body(text), None, "{text:?}");
        }
        // Twilio's own reading wins when it gives one; an unknown or blank one falls back to the body.
        assert_eq!(OptOut::read(Some("STOP"), "Stop texting me please"), Some(OptOut::Stop));
        assert_eq!(OptOut::read(Some("START"), "stop"), Some(OptOut::Start));
        assert_eq!(OptOut::read(Some("CUSTOM"), "stop"), Some(OptOut::Stop));
        assert_eq!(OptOut::read(Some("CUSTOM"), "hello"), None);
        assert_eq!(OptOut::read(Some(""), "stop"), Some(OptOut::Stop));
    }

    #[test]
    fn media_urls_must_be_twilios() {
        for ok in [
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            "https://API.Twilio.com:443/x",
            "https://media.dublin.ie1.twilio.com/x?a=b",
        ] {
            assert!(super::is_twilio_media(ok), "{ok}");
        }
        for bad in [
            "http://api.twilio.com/x",
            "https://evil.example/api.twilio.com/x",
            "https://api.twilio.com.evil.example/x",
            "https://eviltwilio.com/x",
            "https://api.twilio.com@evil.example/x",
            "https://evil.example?.twilio.com",
            "https://evil.example#.twilio.com",
            "https://evil.example:.twilio.com/x",
            "",
        ] {
            assert!(!super::is_twilio_media(bad), "{bad}");
        }
    }
}
