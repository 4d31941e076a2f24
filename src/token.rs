//! The Auth Token: the only module that exposes a secret.
//!
//! `clippy::disallowed_methods` denies `ExposeSecret::expose_secret` everywhere else in the crate, so a
//! reviewer audits every use of the raw token by reading this file.

use hmac::{Hmac, KeyInit};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;

/// HMAC-SHA1 keyed with an Auth Token.
pub(crate) type HmacSha1 = Hmac<Sha1>;

/// A Twilio Auth Token: the key Twilio signs webhooks with.
///
/// It cannot be printed (no `Display`; `Debug` prints `AuthToken([redacted])`), serialised, compared or
/// cloned into a plain string. It is never empty: the `hmac` crate accepts an empty key, which would let
/// anyone sign.
pub struct AuthToken(SecretString);

/// Why a string was refused as an Auth Token. It never contains the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthTokenError {
    /// The token was empty (or only white space): an empty HMAC key would let anyone sign.
    #[error("the Auth Token is empty")]
    Empty,
    /// The token had leading or trailing white space, which usually means a copy-paste accident.
    #[error("the Auth Token has leading or trailing white space")]
    Whitespace,
    /// The token holds a control character. HMAC pads a short key with zero bytes, so a token and the
    /// same token with NULs appended would sign alike.
    #[error("the Auth Token holds a control character")]
    ControlCharacter,
}

impl AuthToken {
    /// Wraps an Auth Token.
    ///
    /// # Errors
    /// [`AuthTokenError::Empty`] for an empty token, [`AuthTokenError::Whitespace`] when it starts or ends
    /// with white space, [`AuthTokenError::ControlCharacter`] when it holds one. The error never echoes the
    /// token.
    pub fn new(token: impl Into<String>) -> Result<Self, AuthTokenError> {
        let token: String = token.into();
        if token.trim().is_empty() {
            return Err(AuthTokenError::Empty);
        }
        if token.trim() != token {
            return Err(AuthTokenError::Whitespace);
        }
        if token.chars().any(char::is_control) {
            return Err(AuthTokenError::ControlCharacter);
        }
        Ok(Self(SecretString::from(token)))
    }

    /// Wraps an Auth Token read from a vault.
    ///
    /// # Errors
    /// As [`AuthToken::new`].
    #[expect(
        clippy::disallowed_methods,
        reason = "the vault hands over a secret; it is checked and kept secret"
    )]
    pub fn from_secret(secret: &SecretString) -> Result<Self, AuthTokenError> {
        Self::new(secret.expose_secret())
    }

    /// An HMAC-SHA1 instance keyed with this token (the one audited exposure of the secret).
    #[expect(
        clippy::disallowed_methods,
        reason = "the single audited place where the Auth Token is used as a key"
    )]
    pub(crate) fn hmac_sha1(&self) -> HmacSha1 {
        // HMAC accepts keys of any length, so this cannot fail; the fallback keeps the crate panic-free and
        // is never taken.
        match HmacSha1::new_from_slice(self.0.expose_secret().as_bytes()) {
            Ok(mac) => mac,
            Err(_) => HmacSha1::new(&Default::default()),
        }
    }
}

/// A Twilio API key secret (the password that goes with an `SK…` API key SID), for REST calls only:
/// webhooks are always signed with the Auth Token, so this type cannot verify or sign one.
///
/// Like [`AuthToken`]: no `Display`, no `Serialize`, a redacted `Debug`, never empty.
pub struct ApiKeySecret(SecretString);

impl ApiKeySecret {
    /// Wraps an API key secret.
    ///
    /// # Errors
    /// As [`AuthToken::new`]; the error never echoes the secret.
    pub fn new(secret: impl Into<String>) -> Result<Self, AuthTokenError> {
        let AuthToken(secret) = AuthToken::new(secret)?;
        Ok(Self(secret))
    }
}

impl ApiKeySecret {
    /// Wraps an API key secret read from a vault.
    ///
    /// # Errors
    /// As [`AuthToken::new`].
    pub fn from_secret(secret: &SecretString) -> Result<Self, AuthTokenError> {
        let AuthToken(secret) = AuthToken::from_secret(secret)?;
        Ok(Self(secret))
    }
}

impl core::fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ApiKeySecret([redacted])")
    }
}

/// A secret usable as the password of HTTP Basic authentication.
pub(crate) trait BasicPassword {
    fn secret(&self) -> &SecretString;
}

impl BasicPassword for AuthToken {
    fn secret(&self) -> &SecretString {
        &self.0
    }
}

impl BasicPassword for ApiKeySecret {
    fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// The `Authorization: Basic …` header for `user` and a secret, marked sensitive so `http` and
/// `reqwest` never print it.
#[expect(
    clippy::disallowed_methods,
    reason = "the single audited place where a secret becomes a Basic credential"
)]
pub(crate) fn basic_authorization(user: &str, password: &impl BasicPassword) -> http::HeaderValue {
    use base64::Engine as _;
    let credential = Wiped(format!("{user}:{}", password.secret().expose_secret()));
    let encoded = Wiped(base64::engine::general_purpose::STANDARD.encode(credential.0.as_bytes()));
    let mut value = http::HeaderValue::from_str(&format!("Basic {}", encoded.0))
        .unwrap_or_else(|_| http::HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// A `String` wiped when dropped (through `secrecy`'s zeroize).
struct Wiped(String);

impl Drop for Wiped {
    fn drop(&mut self) {
        use secrecy::zeroize::Zeroize as _;
        self.0.zeroize();
    }
}

impl core::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AuthToken([redacted])")
    }
}

impl core::str::FromStr for AuthToken {
    type Err = AuthTokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_tokens_are_refused() {
        assert_eq!(AuthToken::new("").unwrap_err(), AuthTokenError::Empty);
        assert_eq!(AuthToken::new("   ").unwrap_err(), AuthTokenError::Empty);
        assert_eq!(AuthToken::new(" abc").unwrap_err(), AuthTokenError::Whitespace);
        assert_eq!(AuthToken::new("abc\n").unwrap_err(), AuthTokenError::Whitespace);
        // A token with NULs appended would sign like the token (HMAC zero-pads short keys).
        for bad in ["abc\0", "abc\0\0def", "a\u{7f}b", "a\u{85}b", "ab\tc"] {
            assert_eq!(AuthToken::new(bad).unwrap_err(), AuthTokenError::ControlCharacter, "{bad:?}");
        }
        assert!(AuthToken::new("0123456789abcdef0123456789abcdef").is_ok());
    }

    #[test]
    fn debug_prints_no_part_of_the_token() {
        let token = AuthToken::new("0123456789abcdef0123456789abcdef").unwrap();
        let dbg = format!("{token:?} {token:#?}");
        assert_eq!(format!("{token:?}"), "AuthToken([redacted])");
        for window in "0123456789abcdef0123456789abcdef".as_bytes().windows(4) {
            assert!(!dbg.contains(std::str::from_utf8(window).unwrap()));
        }
    }

    #[test]
    fn the_key_is_the_utf8_bytes_of_the_token() {
        use hmac::Mac;
        let mut a = AuthToken::new("12345").unwrap().hmac_sha1();
        a.update(b"data");
        let mut b = HmacSha1::new_from_slice(b"12345").unwrap();
        b.update(b"data");
        assert_eq!(a.finalize().into_bytes(), b.finalize().into_bytes());
    }
}
