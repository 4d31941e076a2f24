//! Twilio resource identifiers: a two-letter prefix followed by 32 hexadecimal digits.
//!
//! Each kind of SID is its own type, so a [`MessageSid`] can never stand where an [`AccountSid`] is
//! expected. They are parsed once (`FromStr` / `TryFrom<&str>` / `parse`) and keep their text as given.

/// Why a string is not a SID of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SidError {
    /// The string does not start with the prefix this kind of SID has.
    #[error("{kind} must start with {expected}")]
    WrongPrefix {
        /// The kind of SID that was expected, e.g. "Account SID".
        kind: &'static str,
        /// The prefixes that kind accepts, e.g. "AC".
        expected: &'static str,
    },
    /// The string is not 34 characters long.
    #[error("{kind} must be 34 characters long, got {len}")]
    WrongLength {
        /// The kind of SID that was expected.
        kind: &'static str,
        /// The length that was given.
        len: usize,
    },
    /// A character after the prefix is not a hexadecimal digit.
    #[error("{kind} must have 32 hexadecimal digits after its prefix")]
    NotHex {
        /// The kind of SID that was expected.
        kind: &'static str,
    },
}

/// Checks `prefix + 32 hex digits`.
const fn check_sid(
    s: &str,
    prefixes: &[[u8; 2]],
    kind: &'static str,
    expected: &'static str,
) -> Result<(), SidError> {
    let [p0, p1, digits @ ..] = s.as_bytes() else {
        return Err(SidError::WrongPrefix { kind, expected });
    };
    let mut found = false;
    let mut candidates = prefixes;
    while let [[c0, c1], rest @ ..] = candidates {
        found |= *p0 == *c0 && *p1 == *c1;
        candidates = rest;
    }
    if !found {
        return Err(SidError::WrongPrefix { kind, expected });
    }
    if digits.len() != 32 {
        return Err(SidError::WrongLength { kind, len: s.len() });
    }
    let mut rest = digits;
    while let [d, tail @ ..] = rest {
        if !d.is_ascii_hexdigit() {
            return Err(SidError::NotHex { kind });
        }
        rest = tail;
    }
    Ok(())
}

macro_rules! sid_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $expected:literal, [$($prefix:literal),+]) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Box<str>);

        impl $name {
            const PREFIXES: &'static [[u8; 2]] = &[$(*$prefix),+];

            /// Parses a SID of this kind.
            ///
            /// # Errors
            /// [`SidError`] says whether the prefix, the length or a digit is wrong.
            pub fn parse(s: &str) -> Result<Self, SidError> {
                check_sid(s, Self::PREFIXES, $kind, $expected)?;
                Ok(Self(s.into()))
            }

            /// Checks a SID written in the source at compile time when used in a `const` item.
            ///
            /// Returns the string unchanged; use it as `const SID: &str = ...::checked("...")` and then
            /// [`parse`](Self::parse) it, which cannot fail.
            ///
            /// # Panics
            /// When `s` is not a valid SID. In a `const` context this is a compile error.
            #[allow(clippy::panic, reason = "compile-time check of a literal")]
            pub const fn checked(s: &'static str) -> &'static str {
                match check_sid(s, Self::PREFIXES, $kind, $expected) {
                    Ok(()) => s,
                    Err(_) => panic!(concat!("not a valid ", $kind)),
                }
            }

            /// The SID as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl core::str::FromStr for $name {
            type Err = SidError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = SidError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

sid_type!(
    /// A Twilio Account SID: `AC` followed by 32 hexadecimal digits.
    AccountSid, "Account SID", "AC", [b"AC"]
);
sid_type!(
    /// A Twilio Message SID: `SM` (SMS) or `MM` (MMS) followed by 32 hexadecimal digits.
    MessageSid, "Message SID", "SM or MM", [b"SM", b"MM"]
);
sid_type!(
    /// A Twilio API key SID: `SK` followed by 32 hexadecimal digits. It authenticates REST calls together
    /// with an [`ApiKeySecret`](crate::token::ApiKeySecret); webhooks are always signed with the Auth Token.
    ApiKeySid, "API key SID", "SK", [b"SK"]
);
sid_type!(
    /// A Twilio Messaging Service SID: `MG` followed by 32 hexadecimal digits.
    MessagingServiceSid, "Messaging Service SID", "MG", [b"MG"]
);

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdefABCDEF0123456789";

    #[test]
    fn valid_sids_parse_and_keep_their_text() {
        let ac = AccountSid::parse(&format!("AC{HEX}")).unwrap();
        assert_eq!(ac.as_str(), format!("AC{HEX}"));
        assert_eq!(ac.to_string(), format!("AC{HEX}"));
        assert!(MessageSid::parse(&format!("SM{HEX}")).is_ok());
        assert!(MessageSid::parse(&format!("MM{HEX}")).is_ok());
        assert!(MessagingServiceSid::parse(&format!("MG{HEX}")).is_ok());
    }

    #[test]
    fn each_kind_refuses_the_others() {
        assert!(matches!(
            AccountSid::parse(&format!("SM{HEX}")),
            Err(SidError::WrongPrefix { expected: "AC", .. })
        ));
        assert!(matches!(
            MessageSid::parse(&format!("AC{HEX}")),
            Err(SidError::WrongPrefix { expected: "SM or MM", .. })
        ));
        assert!(MessagingServiceSid::parse(&format!("SM{HEX}")).is_err());
    }

    #[test]
    fn bad_lengths_digits_and_short_input_are_named() {
        assert_eq!(
            AccountSid::parse("AC123").unwrap_err(),
            SidError::WrongLength { kind: "Account SID", len: 5 }
        );
        assert!(matches!(AccountSid::parse(""), Err(SidError::WrongPrefix { .. })));
        assert!(matches!(AccountSid::parse("A"), Err(SidError::WrongPrefix { .. })));
        let bad = format!("AC{}g", &HEX[..31]);
        assert_eq!(AccountSid::parse(&bad).unwrap_err(), SidError::NotHex { kind: "Account SID" });
        // Non-ASCII input never panics on a char boundary.
        assert!(AccountSid::parse("ACé").is_err());
        assert!(AccountSid::parse(&format!("AC{}é", &HEX[..30])).is_err());
        assert!(AccountSid::parse(&format!("ac{HEX}")).is_err());
    }

    #[test]
    fn const_checked_accepts_literals() {
        const SID: &str = AccountSid::checked("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert!(AccountSid::parse(SID).is_ok());
    }

    #[test]
    fn error_messages_read_well() {
        assert_eq!(AccountSid::parse("nope").unwrap_err().to_string(), "Account SID must start with AC");
    }
}
