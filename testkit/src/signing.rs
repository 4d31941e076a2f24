//! Signing helpers for tests and tools: they produce what Twilio sends.
//!
//! Nothing here weakens verification; it lets a test or a local tool sign a request the way Twilio
//! does, with a token it holds. The signature is computed from Twilio's documented algorithm, not with
//! the library's canonical form, so that a test signing with it checks the verifier against an
//! independent implementation:
//!
//! 1. the data string is the full URL, query included, byte for byte;
//! 2. then each parameter's decoded name and value, concatenated without separators, the pairs sorted by
//!    name then value, bytewise, an exact duplicate pair counted once;
//! 3. the signature is the base64 (standard, padded) of the HMAC-SHA1 of that string, keyed with the
//!    Auth Token's UTF-8 bytes.

use base64::Engine as _;
use hmac::{Hmac, KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Digest as _;
use twilio_sms::webhook::Signature;

/// An Auth Token held by the test kit, to sign requests as Twilio signs them.
///
/// Unlike [`twilio_sms::AuthToken`] it accepts any text (a test may sign with an empty or malformed
/// token on purpose). Its `Debug` prints `SigningKey([redacted])`.
pub struct SigningKey(SecretString);

impl SigningKey {
    /// Holds `token` as a signing key.
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }

    /// The `X-Twilio-Signature` Twilio would send for a form POST of `params` to `url` (for a GET, or a
    /// JSON body signed through `bodySHA256`, pass no params).
    #[must_use]
    #[expect(clippy::disallowed_methods, reason = "the test kit's one use of a token as a signing key")]
    #[expect(clippy::expect_used, reason = "HMAC takes a key of any length; a 20-byte tag is a signature")]
    pub fn sign(&self, url: &str, params: &[(&str, &str)]) -> Signature {
        let mut pairs = params.to_vec();
        // `str` orders bytewise: by name, then by value.
        pairs.sort_unstable();
        pairs.dedup();
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(self.0.expose_secret().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(url.as_bytes());
        for (name, value) in pairs {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
        let header = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        Signature::parse(header.as_bytes()).expect("the base64 of a 20-byte tag is a well-formed signature")
    }

    /// Whether `candidate` is this key's token, compared in constant time.
    pub(crate) fn matches(&self, candidate: &str) -> bool {
        secret_matches(&self.0, candidate)
    }

    /// The token itself, for the mock's account resource, which returns it as Twilio does.
    #[expect(clippy::disallowed_methods, reason = "the mock's account resource returns the token")]
    pub(crate) fn token_text(&self) -> &str {
        self.0.expose_secret()
    }
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// Whether `candidate` is `secret`, compared in constant time (the mock's Basic authentication).
#[expect(clippy::disallowed_methods, reason = "constant-time comparison against a presented credential")]
pub(crate) fn secret_matches(secret: &SecretString, candidate: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(secret.expose_secret().as_bytes().ct_eq(candidate.as_bytes()))
}

/// The `X-Twilio-Signature` of a form POST of `params` to `url`, signed with `token`: the same as
/// [`SigningKey::new(token).sign(url, params)`](SigningKey::sign).
#[must_use]
pub fn sign(token: &str, url: &str, params: &[(&str, &str)]) -> Signature {
    SigningKey::new(token).sign(url, params)
}

/// The lowercase hex SHA-256 of a body, as Twilio puts it in the `bodySHA256` query parameter.
#[must_use]
pub fn body_sha256_hex(body: &[u8]) -> String {
    sha2::Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

/// Encodes parameters the way Twilio does (`java.net.URLEncoder`): a space becomes `+`, only
/// `A-Z a-z 0-9 . - * _` stay as they are, every other byte becomes `%XX` in upper-case hex.
#[must_use]
pub fn encode_form(params: &[(&str, &str)]) -> String {
    fn push(out: &mut String, s: &str) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                    out.push(char::from(b))
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        push(&mut out, k);
        out.push('=');
        push(&mut out, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_documented_example() {
        // The worked example of Twilio's documentation (reference: twilio-signature.md §1).
        let params = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ];
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(sign("12345", url, &params).to_string(), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        let mut reversed = params;
        reversed.reverse();
        assert_eq!(sign("12345", url, &reversed).to_string(), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    }

    #[test]
    fn sdk_vectors() {
        // From the official SDKs' tests (twilio-signature.md §1).
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        // A repeated key: its values sorted, an exact duplicate counted once (twilio-python).
        let digits = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")];
        assert_eq!(sign("12345", url, &digits).to_string(), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        let with_duplicate = [digits.as_slice(), &[("Digits", "1234")]].concat();
        assert_eq!(sign("12345", url, &with_duplicate).to_string(), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        // Sorted by name, not by the `name value` concatenation (twilio-go#139).
        let reasons = [
            ("Digits", "1234"),
            ("CallSid", "CA1234567890ABCDE"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
            ("From", "+14158675309"),
            ("ReasonConferenceEnded", "test"),
            ("Reason", "Participant"),
        ];
        assert_eq!(sign("12345", url, &reasons).to_string(), "vOEb5UThFn24KEfnOFLQY2AE5FY=");
        // Bytewise: upper case first (twilio-java).
        let cases = [("callSid", "lowercase"), ("CallSid", "uppercase"), ("CALLSID", "allcaps")];
        assert_eq!(sign("12345", url, &cases).to_string(), "jDK7WKT8wiNrwggd4ceTv4e1MJ4=");
    }

    #[test]
    fn forms_are_encoded_as_twilio_encodes_them() {
        assert_eq!(encode_form(&[("Body", "a b+c/é"), ("To", "+1")]), "Body=a+b%2Bc%2F%C3%A9&To=%2B1");
        assert_eq!(
            body_sha256_hex(br#"{"property": "value", "boolean": true}"#),
            "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let key = SigningKey::new("secret-token-value");
        assert_eq!(format!("{key:?}"), "SigningKey([redacted])");
        assert!(key.matches("secret-token-value") && !key.matches("secret-token-valuf"));
    }
}
