//! `serde` for the validated types (feature `serde`): each is written as its text, and read back
//! through its own check (`parse`, or `WebhookUrl::exact`), so a deserialised value is as valid as a
//! parsed one. Secrets (`AuthToken`, `ApiKeySecret`) have no `serde` at all.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::channel::ChannelId;
use crate::ids::{AccountSid, ApiKeySid, MessageSid, MessagingServiceSid};
use crate::phone::E164;
use crate::url::{ApiBase, PublicUrl, WebhookUrl};

macro_rules! as_checked_text {
    ($($name:ty => $check:expr),+ $(,)?) => {$(
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.as_text())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                // Not the format's own error: it would quote a value that is not a string (a number
                // written bare, say).
                let text = String::deserialize(deserializer)
                    .map_err(|_| D::Error::custom(concat!("expected ", stringify!($name), " as a string")))?;
                // The check's error names what is wrong, never the value (a number, a URL).
                $check(text.as_str()).map_err(D::Error::custom)
            }
        }
    )+};
}

/// The text a type is written as.
trait AsText {
    fn as_text(&self) -> String;
}

macro_rules! as_text_by_as_str {
    ($($name:ty),+) => {$(
        impl AsText for $name {
            fn as_text(&self) -> String {
                self.as_str().to_owned()
            }
        }
    )+};
}

as_text_by_as_str!(
    AccountSid,
    ApiKeySid,
    MessageSid,
    MessagingServiceSid,
    E164,
    PublicUrl,
    ApiBase,
    WebhookUrl
);

impl AsText for ChannelId {
    fn as_text(&self) -> String {
        self.to_string()
    }
}

as_checked_text! {
    AccountSid => AccountSid::parse,
    ApiKeySid => ApiKeySid::parse,
    MessageSid => MessageSid::parse,
    MessagingServiceSid => MessagingServiceSid::parse,
    E164 => E164::parse,
    ChannelId => ChannelId::parse,
    PublicUrl => PublicUrl::parse,
    ApiBase => ApiBase::parse,
    WebhookUrl => WebhookUrl::exact,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Config {
        account: AccountSid,
        from: E164,
        channel: ChannelId,
        public_url: PublicUrl,
    }

    #[test]
    fn validated_types_round_trip_as_text_and_are_checked_when_read() {
        let text = r#"{"account":"AC0123456789abcdef0123456789abcdef","from":"+14155550100","channel":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","public_url":"https://agents.example.com"}"#;
        let config: Config = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&config).unwrap(), text);
        for (field, bad) in [
            ("account", "\"MG0123456789abcdef0123456789abcdef\""),
            ("from", "\"+1415555\""),
            ("channel", "\"not-a-uuid\""),
            ("public_url", "\"http://agents.example.com\""),
        ] {
            let broken = text.replacen(&format!("\"{field}\":"), &format!("\"{field}\":{bad},\"_\":"), 1);
            let error = serde_json::from_str::<Config>(&broken).unwrap_err().to_string();
            assert!(!error.contains("1415555"), "the error repeats the value: {error}");
        }
        // A number written bare (as YAML reads `from: +14155550100`) is not quoted back either.
        let error = serde_json::from_str::<E164>("14155550100").unwrap_err().to_string();
        assert!(!error.contains("4155550100"), "{error}");
    }
}
