//! The Hivekeep channel id.

use core::fmt;

/// A Hivekeep channel id: a version-4 UUID in its hyphenated form, as it appears in the webhook path
/// `/api/channels/plugin/twilio-sms/webhook/{channelId}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(uuid::Uuid);

/// Why a string is not a channel id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelIdError {
    /// Not a UUID in the 36-character hyphenated form.
    #[error("a channel id is a UUID written as 8-4-4-4-12 hexadecimal digits")]
    NotUuid,
    /// A UUID, but not version 4 (random).
    #[error("a channel id is a version-4 (random) UUID")]
    NotVersion4,
}

impl ChannelId {
    /// Parses a hyphenated version-4 UUID (either letter case; it is written out in lower case).
    ///
    /// # Errors
    /// [`ChannelIdError::NotUuid`] or [`ChannelIdError::NotVersion4`].
    pub fn parse(s: &str) -> Result<Self, ChannelIdError> {
        if s.len() != 36 {
            return Err(ChannelIdError::NotUuid);
        }
        let id = uuid::Uuid::try_parse(s).map_err(|_| ChannelIdError::NotUuid)?;
        if id.get_version() != Some(uuid::Version::Random) || id.get_variant() != uuid::Variant::RFC4122 {
            return Err(ChannelIdError::NotVersion4);
        }
        Ok(Self(id))
    }

    /// A new random channel id (feature `random-id`, on by default).
    #[cfg(feature = "random-id")]
    #[must_use]
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({})", self.0.hyphenated())
    }
}

impl core::str::FromStr for ChannelId {
    type Err = ChannelIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_refuses_the_rest() {
        let id = ChannelId::parse("3F2504E0-4F89-41D3-9A0C-0305E82C3301").unwrap();
        assert_eq!(id.to_string(), "3f2504e0-4f89-41d3-9a0c-0305e82c3301");
        assert_eq!(
            ChannelId::parse("3f2504e04f8941d39a0c0305e82c3301").unwrap_err(),
            ChannelIdError::NotUuid
        );
        assert_eq!(ChannelId::parse("not-a-uuid").unwrap_err(), ChannelIdError::NotUuid);
        assert_eq!(
            ChannelId::parse("3f2504e0-4f89-11d3-9a0c-0305e82c3301").unwrap_err(),
            ChannelIdError::NotVersion4
        );
    }

    #[cfg(feature = "random-id")]
    #[test]
    fn random_ids_parse_back() {
        let fresh = ChannelId::new_random();
        assert_eq!(ChannelId::parse(&fresh.to_string()).unwrap(), fresh);
    }
}
