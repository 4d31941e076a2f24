//! Small text helpers: SIDs, RFC 2822 dates, masking for `Debug`.

use std::time::{SystemTime, UNIX_EPOCH};

use twilio_sms::E164;

/// A fresh SID: `prefix` and 32 lowercase hexadecimal digits, as Twilio writes them.
pub(super) fn new_sid(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A date as the 2010 API writes it: `Thu, 24 Aug 2023 05:01:45 +0000`.
pub(super) fn rfc2822(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS.get(usize::try_from(days % 7).unwrap_or(0)).copied().unwrap_or("Thu");
    let month_name =
        MONTHS.get(usize::try_from(month.saturating_sub(1)).unwrap_or(0)).copied().unwrap_or("Jan");
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01 (Howard Hinnant's algorithm, for
/// dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `^\+[1-9]\d{1,14}$`: the E.164 shape Twilio checks a `To` against (error 21211).
pub(super) fn is_e164_syntax(s: &str) -> bool {
    match s.as_bytes() {
        [b'+', b'1'..=b'9', rest @ ..] => {
            (1..=14).contains(&rest.len()) && rest.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// A valid phone number masked for `Debug` (`+141••••••00`); anything else is masked entirely.
pub(super) fn redact(value: &str) -> String {
    match E164::parse(value) {
        Ok(number) => number.redacted().to_string(),
        Err(_) => "•".repeat(value.chars().count().min(16)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn dates_are_rfc_2822() {
        // The spec's example date.
        let time = UNIX_EPOCH + Duration::from_secs(1_692_853_305);
        assert_eq!(rfc2822(time), "Thu, 24 Aug 2023 05:01:45 +0000");
        assert_eq!(rfc2822(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 +0000");
        // A leap day.
        assert_eq!(rfc2822(UNIX_EPOCH + Duration::from_secs(951_782_400)), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn sids_have_the_twilio_shape() {
        let sid = new_sid("SM");
        assert!(twilio_sms::MessageSid::parse(&sid).is_ok(), "{sid}");
        assert_ne!(new_sid("SM"), sid);
    }

    #[test]
    fn e164_syntax() {
        for ok in ["+14155550100", "+12", "+123456789012345"] {
            assert!(is_e164_syntax(ok), "{ok}");
        }
        for bad in
            ["", "+", "+1", "14155550100", "+04155550100", "+1234567890123456", "+1415555010a", "+1 415"]
        {
            assert!(!is_e164_syntax(bad), "{bad}");
        }
    }

    #[test]
    fn redaction_hides_the_middle_digits() {
        assert_eq!(redact("+14155550100"), "+141••••••00");
        assert_eq!(redact("+1555123"), "••••••••");
    }
}
