//! Phone numbers in E.164 form, and the addresses found in signed webhooks.
//!
//! Two costs shape this module (see the crate docs): a full validity check with `phonenumber` costs tens
//! of microseconds (milliseconds for some invalid numbers), while a syntax check costs nanoseconds. Numbers
//! the crate sends to or is configured with are checked fully ([`E164::parse`]); the `From`/`To` of a
//! verified webhook were signed by Twilio and are checked for syntax only ([`Address`]).
//!
//! Neither type implements `Display`: a full number is written out only through an explicit
//! [`E164::as_str`], and `Debug` and [`E164::redacted`] mask the middle digits, so a number does not reach a
//! log line by accident.

use core::fmt;

/// A phone number in E.164 form (`+` and 2 to 15 digits, no leading zero) that `phonenumber` holds to be a
/// valid number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(Box<str>);

/// Why a string is not a usable E.164 phone number. It never repeats the number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// The text is not `+` followed by 2 to 15 digits with no leading zero.
    #[error("a phone number in E.164 form is '+' followed by 2 to 15 digits, the first not 0")]
    NotE164Syntax,
    /// The text has the E.164 shape but is not a valid, assigned number pattern.
    #[error("not a valid phone number (its country code or length does not match a numbering plan)")]
    InvalidNumber,
    /// Nothing that looks like a phone number could be read from the text.
    #[error("no phone number could be read from the input")]
    Unparseable,
    /// The region given as a default is not a two-letter CLDR region code.
    #[error("unknown region code (expected two letters such as \"US\" or \"GB\")")]
    UnknownRegion,
}

/// `^\+[1-9]\d{1,14}$`, byte by byte.
pub(crate) fn is_e164_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    match b {
        [b'+', first, rest @ ..] => {
            (b'1'..=b'9').contains(first)
                && (1..=14).contains(&rest.len())
                && rest.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

impl E164 {
    /// Parses a number already written in E.164 form, such as `+14155550100`, and checks that it is a
    /// valid number.
    ///
    /// # Errors
    /// [`PhoneError::NotE164Syntax`] when the text is not of the E.164 shape (spaces, dashes and
    /// parentheses are refused here; use [`E164::normalize`] for what people type),
    /// [`PhoneError::InvalidNumber`] when `phonenumber` does not hold it valid.
    pub fn parse(s: &str) -> Result<Self, PhoneError> {
        if !is_e164_syntax(s) {
            return Err(PhoneError::NotE164Syntax);
        }
        let number = phonenumber::parse(None, s).map_err(|_| PhoneError::InvalidNumber)?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::InvalidNumber);
        }
        Ok(Self(s.into()))
    }

    /// Normalises a number as people type it (`(415) 555-0100`, `+44 20 7946 0958`, `0044…`) into E.164,
    /// reading national numbers in `default_region` (a two-letter CLDR code such as `"US"`).
    ///
    /// # Errors
    /// [`PhoneError::UnknownRegion`] for a bad region code, [`PhoneError::Unparseable`] when no number can
    /// be read, [`PhoneError::InvalidNumber`] when the number read is not valid.
    pub fn normalize(input: &str, default_region: &str) -> Result<Self, PhoneError> {
        let region: phonenumber::country::Id =
            default_region.trim().to_ascii_uppercase().parse().map_err(|_| PhoneError::UnknownRegion)?;
        Self::normalize_in(input, Some(region))
    }

    /// A recipient as an agent or a person may write it: E.164 (`+14155550142`), the same with spaces,
    /// dashes, dots, brackets or a `(0)` trunk prefix (`+1 (415) 555-0142`, `+44 (0)20 7946 0958`), or a
    /// national number of the country of `home` (the channel's own number), such as `(415) 555-0142`
    /// for a US channel. Nothing else: letters (keypad words, `tel:` or `whatsapp:` prefixes,
    /// extensions) are refused rather than read into some other number.
    ///
    /// # Errors
    /// [`PhoneError::Unparseable`] when no number can be read (other characters, or a national number
    /// with no `home` among them), [`PhoneError::InvalidNumber`] when the number read is not valid.
    pub fn recipient(input: &str, home: Option<&E164>) -> Result<Self, PhoneError> {
        let input = input.trim();
        if let Ok(number) = Self::parse(input) {
            return Ok(number);
        }
        if !input.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')')) {
            return Err(PhoneError::Unparseable);
        }
        let input = if input.starts_with('+') { input.replacen("(0)", "", 1) } else { input.to_owned() };
        let region =
            home.and_then(|n| phonenumber::parse(None, n.as_str()).ok()).and_then(|n| n.country().id());
        Self::normalize_in(&input, region)
    }

    fn normalize_in(input: &str, region: Option<phonenumber::country::Id>) -> Result<Self, PhoneError> {
        let number = phonenumber::parse(region, input.trim()).map_err(|_| PhoneError::Unparseable)?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::InvalidNumber);
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        if !is_e164_syntax(&e164) {
            return Err(PhoneError::InvalidNumber);
        }
        Ok(Self(e164.into()))
    }

    /// A number from a Twilio-signed webhook: the syntax is checked, the number plan is not (Twilio
    /// routed the message, and a full check would cost more than the whole signature verification).
    pub(crate) fn from_signed(s: &str) -> Option<Self> {
        is_e164_syntax(s).then(|| Self(s.into()))
    }

    /// The full number, e.g. `+14155550100`. This is the only way to write the whole number out.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form fit for logs: the country-code end and the last two digits, the rest masked, at least six
    /// characters always (`+141••••••00`, `+56••••••26`; see [`Redacted`]).
    #[must_use]
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(&self.0)
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164({})", self.redacted())
    }
}

impl core::str::FromStr for E164 {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for E164 {
    type Error = PhoneError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

/// A redacted view of an address for logs, from [`E164::redacted`] or [`Address::redacted`]: of more than
/// 8 characters the last 2 and up to 4 leading ones stay, and at least 6 are always masked
/// (`+14155550100` → `+141••••••00`, `+5641234526` → `+56••••••26`); 8 or fewer are masked whole.
#[derive(Clone, Copy)]
pub struct Redacted<'a>(&'a str);

/// Whether the character at `i` of a `count`-character address stays visible in a [`Redacted`] form:
/// the last two, and up to four leading ones while at least six others stay masked.
pub(crate) fn visible(i: usize, count: usize) -> bool {
    count > 8 && (i < (count - 8).min(4) || i + 2 >= count)
}

impl<'a> Redacted<'a> {
    /// A masked view of any address text.
    pub(crate) fn new(text: &'a str) -> Self {
        Self(text)
    }
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.chars().count();
        for (i, c) in self.0.chars().enumerate() {
            if visible(i, count) {
                f.write_fmt(format_args!("{c}"))?;
            } else {
                f.write_str("•")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// What kind of address an [`Address`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressKind {
    /// A phone number in E.164 form.
    Number,
    /// A short code: 3 to 8 digits.
    ShortCode,
    /// An alphanumeric sender id: 1 to 11 letters, digits or spaces, at least one letter.
    Alphanumeric,
    /// Anything else, kept as sent (for example `whatsapp:+14155550100` or `client:alice`).
    Other,
}

/// A sender or recipient as it appears in a signed webhook's `From` or `To`.
///
/// SMS traffic comes from phone numbers, but also from short codes (`89898`), alphanumeric sender ids
/// (`HIVEKEEP`) and channel addresses (`whatsapp:+14155550100`). All stay usable; only phone numbers
/// become [`E164`] (syntax-checked, since Twilio signed them). Only a verified webhook makes one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Address(Inner);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Inner {
    Number(E164),
    Other(AddressKind, Box<str>),
}

impl Address {
    /// Classifies an address from a signed webhook.
    pub(crate) fn from_signed(s: &str) -> Self {
        if let Some(n) = E164::from_signed(s) {
            return Self(Inner::Number(n));
        }
        let len = s.len();
        let kind = if (3..=8).contains(&len) && s.bytes().all(|b| b.is_ascii_digit()) {
            AddressKind::ShortCode
        } else if (1..=11).contains(&len)
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
            && s.bytes().any(|b| b.is_ascii_alphabetic())
        {
            AddressKind::Alphanumeric
        } else {
            AddressKind::Other
        };
        Self(Inner::Other(kind, s.into()))
    }

    /// What kind of address this is.
    #[must_use]
    pub fn kind(&self) -> AddressKind {
        match &self.0 {
            Inner::Number(_) => AddressKind::Number,
            Inner::Other(kind, _) => *kind,
        }
    }

    /// The address exactly as Twilio sent it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Inner::Number(n) => n.as_str(),
            Inner::Other(_, s) => s,
        }
    }

    /// The phone number, when the address is one (syntax-checked: Twilio signed it).
    #[must_use]
    pub fn as_e164(&self) -> Option<&E164> {
        match &self.0 {
            Inner::Number(n) => Some(n),
            Inner::Other(..) => None,
        }
    }

    /// Whether this address is exactly `number` (a string comparison, no parsing).
    #[must_use]
    pub fn is(&self, number: &E164) -> bool {
        self.as_str() == number.as_str()
    }

    /// A form fit for logs, masked like [`E164::redacted`].
    #[must_use]
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(self.as_str())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}({})", self.kind(), self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_check_matches_the_e164_pattern() {
        for ok in ["+14155550100", "+12", "+123456789012345"] {
            assert!(is_e164_syntax(ok), "{ok}");
        }
        for bad in
            ["", "+", "+1", "+0123", "14155550100", "+1234567890123456", "+1 415", "+1415555010a", "++1"]
        {
            assert!(!is_e164_syntax(bad), "{bad}");
        }
    }

    #[test]
    fn parse_checks_validity() {
        let n = E164::parse("+14155550100").unwrap();
        assert_eq!(n.as_str(), "+14155550100");
        assert!(E164::parse("+15005550006").is_ok(), "Twilio's magic test number");
        assert_eq!(E164::parse("+1 415 555 0100").unwrap_err(), PhoneError::NotE164Syntax);
        assert_eq!(E164::parse("+15551234567").unwrap_err(), PhoneError::InvalidNumber);
        assert_eq!(E164::parse("+999123456").unwrap_err(), PhoneError::InvalidNumber);
    }

    #[test]
    fn normalize_reads_what_people_type() {
        assert_eq!(E164::normalize("(415) 555-0100", "US").unwrap().as_str(), "+14155550100");
        assert_eq!(E164::normalize("+44 20 7946 0958", "US").unwrap().as_str(), "+442079460958");
        assert_eq!(E164::normalize("020 7946 0958", "gb").unwrap().as_str(), "+442079460958");
        assert_eq!(E164::normalize("hello", "US").unwrap_err(), PhoneError::Unparseable);
        assert_eq!(E164::normalize("(415) 555-0100", "XX").unwrap_err(), PhoneError::UnknownRegion);
        assert_eq!(E164::normalize("555-1234567", "US").unwrap_err(), PhoneError::InvalidNumber);
    }

    #[test]
    fn debug_and_redacted_mask_the_number() {
        let n = E164::parse("+14155550100").unwrap();
        assert_eq!(format!("{n:?}"), "E164(+141••••••00)");
        assert!(!format!("{n:?}").contains("5550100"));
        let a = Address::from_signed("+14155550100");
        assert_eq!(format!("{a:?}"), "Number(+141••••••00)");
        assert_eq!(Address::from_signed("1234").redacted().to_string(), "••••");
    }

    #[test]
    fn recipients_are_read_as_people_write_them() {
        let home = E164::parse("+14155550100").unwrap();
        let read = |s: &str| E164::recipient(s, Some(&home)).map(|n| n.as_str().to_owned());
        for written in
            ["+14155550142", " +1 (415) 555-0142 ", "+1.415.555.0142", "(415) 555-0142", "415-555-0142"]
        {
            assert_eq!(read(written).as_deref(), Ok("+14155550142"), "{written:?}");
        }
        assert_eq!(read("+44 20 7946 0958").as_deref(), Ok("+442079460958"));
        let paris = E164::parse("+33142685300").unwrap();
        assert_eq!(E164::recipient("01 42 68 53 00", Some(&paris)).unwrap().as_str(), "+33142685300");
        assert_eq!(E164::recipient("(415) 555-0142", None).unwrap_err(), PhoneError::Unparseable);
        assert_eq!(read("hello").unwrap_err(), PhoneError::Unparseable);
        assert_eq!(read("+44 (0) 20 7946 0958").as_deref(), Ok("+442079460958"));
        // Only digits and separators: nothing is read into some other number.
        for other in [
            "+1 (415) CALL-NOW",
            "415-555-0142 ext. 99",
            "415-555-0142 x99",
            "whatsapp:+14155550142",
            "tel:+14155550142",
            "415,555,0142",
        ] {
            assert_eq!(read(other).unwrap_err(), PhoneError::Unparseable, "{other:?}");
        }
        assert_eq!(read("+1 555 123 4567").unwrap_err(), PhoneError::InvalidNumber);
    }

    #[test]
    fn at_least_six_characters_are_always_masked() {
        let masked = |s: &str| Address::from_signed(s).redacted().to_string();
        // Short numbers keep fewer leading characters rather than show most of themselves.
        assert_eq!(masked("+12345678"), "+••••••78");
        assert_eq!(masked("+123456789"), "+1••••••89");
        assert_eq!(masked("+1234567890"), "+12••••••90");
        assert_eq!(masked("+12345678901"), "+123••••••01");
        assert_eq!(masked("+441234567890"), "+441•••••••90");
        assert_eq!(masked("+1234567"), "••••••••");
        for count in 0..40 {
            let hidden = (0..count).filter(|&i| !visible(i, count)).count();
            assert!(if count <= 8 { hidden == count } else { hidden >= 6 }, "{count}: {hidden} hidden");
            assert!((0..count).filter(|&i| visible(i, count)).count() <= 6);
        }
    }

    #[test]
    fn addresses_are_classified_without_parsing() {
        let channel = E164::parse("+14155550100").unwrap();
        assert!(Address::from_signed("+14155550100").is(&channel));
        assert!(!Address::from_signed("+14155550101").is(&channel));
        assert_eq!(Address::from_signed("+15551234567").kind(), AddressKind::Number);
        assert_eq!(Address::from_signed("89898").kind(), AddressKind::ShortCode);
        assert_eq!(Address::from_signed("HIVEKEEP").kind(), AddressKind::Alphanumeric);
        assert_eq!(Address::from_signed("whatsapp:+14155550100").kind(), AddressKind::Other);
        assert_eq!(Address::from_signed("whatsapp:+1").as_str(), "whatsapp:+1");
        assert!(Address::from_signed("89898").as_e164().is_none());
    }
}
