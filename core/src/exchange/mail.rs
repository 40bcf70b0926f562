//! A minimal RFC 5322 message for Cloudflare's `send_email` binding, which takes raw text: one
//! plain-text part, every header ASCII (RFC 2047 encoded-words for a Unicode subject or sender
//! name), the body in base64 so any text survives, CRLF line ends.

use base64ct::{Base64, Encoding};

/// Longest line of base64 in the body (RFC 2045 §6.8).
const BASE64_LINE: usize = 76;
/// Bytes of text per encoded-word, so that each stays within RFC 2047's 75 characters.
const WORD_BYTES: usize = 45;

/// The whole message, headers and body.
pub fn message(from: &str, to: &str, subject: &str, text: &str, message_id: &str, now: i64) -> String {
    let date = date(now);
    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    header("From", &mailbox(from));
    header("To", to);
    header("Subject", &unstructured(subject));
    header("Date", &date);
    header("Message-ID", message_id);
    header("MIME-Version", "1.0");
    header("Content-Type", "text/plain; charset=utf-8");
    header("Content-Transfer-Encoding", "base64");
    out.push_str("\r\n");
    let encoded = Base64::encode_string(text.as_bytes());
    for line in encoded.as_bytes().chunks(BASE64_LINE) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

/// `now` (milliseconds since the epoch) as RFC 5322 §3.3 writes a date, in UTC:
/// `Mon, 2 Nov 2026 09:00:00 +0000` (the day without a leading zero, as chrono wrote it).
pub fn date(now: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let seconds = now.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    let (hour, minute, second) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    let month = MONTHS[month as usize - 1];
    format!("{weekday}, {day} {month} {year:04} {hour:02}:{minute:02}:{second:02} +0000")
}

/// The proleptic Gregorian (year, month 1–12, day 1–31) of a count of days since 1970-01-01:
/// Howard Hinnant's `civil_from_days`, over 400-year eras of 146,097 days each.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The bare address of a mailbox written `Name <address>` or `address`.
pub fn address_of(mailbox: &str) -> Option<&str> {
    let address = match (mailbox.rfind('<'), mailbox.rfind('>')) {
        (Some(open), Some(close)) if open < close => &mailbox[open + 1..close],
        (None, None) => mailbox,
        _ => return None,
    };
    let address = address.trim();
    let (local, domain) = address.split_once('@')?;
    (!local.is_empty() && !domain.is_empty() && !address.chars().any(|c| c.is_whitespace() || c.is_control()))
        .then_some(address)
}

/// The symbols of RFC 5322's `atext` (§3.2.3) but `%`, which escapes the others. (Not `.`
/// either: a dot-atom may not hold two in a row.)
const ATEXT_SYMBOLS: &[u8] = b"!#$&'*+-/=?^_`{|}~";

/// `<{key}@{domain}>`, the key's bytes outside `atext` written `%XX`, so one job always gives
/// one Message-ID.
pub fn message_id(key: &str, domain: &str) -> String {
    let mut id = String::from("<");
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || ATEXT_SYMBOLS.contains(&byte) {
            id.push(byte as char);
        } else {
            id.push_str(&format!("%{byte:02X}"));
        }
    }
    id.push('@');
    id.push_str(domain);
    id.push('>');
    id
}

/// `Name <address>` with the name encoded when it is not plain ASCII.
fn mailbox(from: &str) -> String {
    match from.rfind('<') {
        Some(open) if open > 0 => {
            let name = from[..open].trim();
            format!("{} {}", unstructured(name), &from[open..])
        }
        _ => from.to_owned(),
    }
}

/// An unstructured header value: as it is when it is printable ASCII, otherwise RFC 2047
/// B-encoded words of whole characters, folded one per line.
fn unstructured(value: &str) -> String {
    if value.bytes().all(|b| (0x20..=0x7e).contains(&b)) && !value.contains("=?") {
        return value.to_owned();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        // Line breaks and other controls become spaces: a subject is one line.
        let c = if c.is_control() { ' ' } else { c };
        if chunk.len() + c.len_utf8() > WORD_BYTES {
            words.push(encoded_word(&chunk));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(encoded_word(&chunk));
    }
    words.join("\r\n ")
}

fn encoded_word(text: &str) -> String {
    format!("=?UTF-8?B?{}?=", Base64::encode_string(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_in_utc_with_an_unpadded_day() {
        assert_eq!(date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(date(1_793_610_000_000), "Mon, 2 Nov 2026 09:00:00 +0000");
        assert_eq!(date(1_793_610_000_999), "Mon, 2 Nov 2026 09:00:00 +0000", "milliseconds are dropped");
        assert_eq!(date(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 +0000", "a leap day of a 400th year");
        assert_eq!(date(4_107_456_000_000), "Sun, 28 Feb 2100 00:00:00 +0000");
        assert_eq!(date(4_107_542_400_000), "Mon, 1 Mar 2100 00:00:00 +0000", "2100 is not a leap year");
        assert_eq!(date(1_704_067_199_000), "Sun, 31 Dec 2023 23:59:59 +0000");
        assert_eq!(date(-1), "Wed, 31 Dec 1969 23:59:59 +0000", "before the epoch rounds down");
        assert_eq!(date(253_402_300_799_000), "Fri, 31 Dec 9999 23:59:59 +0000");
    }

    #[test]
    fn civil_dates_round_trip_through_day_counts() {
        // The inverse (Hinnant's days_from_civil), to start the walk; then every day from 1600
        // to 2400 follows the one before it by the calendar's own rules.
        fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
            let year = year - i64::from(month <= 2);
            let era = year.div_euclid(400);
            let year_of_era = year.rem_euclid(400);
            let month_from_march = i64::from(if month > 2 { month - 3 } else { month + 9 });
            let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
            let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
            era * 146_097 + day_of_era - 719_468
        }
        let mut expected = civil_from_days(days_from_civil(1600, 1, 1) - 1);
        assert_eq!(expected, (1599, 12, 31));
        for days in days_from_civil(1600, 1, 1)..days_from_civil(2400, 1, 1) {
            let (year, month, day) = expected;
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            expected = if day < month_days[month as usize - 1] {
                (year, month, day + 1)
            } else if month < 12 {
                (year, month + 1, 1)
            } else {
                (year + 1, 1, 1)
            };
            let civil = civil_from_days(days);
            assert_eq!(civil, expected, "day {days}");
            assert_eq!(days_from_civil(civil.0, civil.1, civil.2), days);
        }
    }

    #[test]
    fn addresses_come_out_of_mailboxes() {
        assert_eq!(address_of("Herald <notifications@example.com>"), Some("notifications@example.com"));
        assert_eq!(address_of("bob@example.com"), Some("bob@example.com"));
        for bad in ["Herald", "Herald <>", "a <b@c", "<a b@c>", "x@"] {
            assert_eq!(address_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn message_ids_keep_atext_and_escape_the_rest() {
        assert_eq!(message_id("bob/n-1/email", "example.com"), "<bob/n-1/email@example.com>");
        assert_eq!(message_id("zoë@x/n 1/sms%", "h.io"), "<zo%C3%AB%40x/n%201/sms%25@h.io>");
    }

    #[test]
    fn unicode_subjects_become_encoded_words_of_whole_characters() {
        assert_eq!(unstructured("Plain subject"), "Plain subject");
        assert_eq!(unstructured("Zoë"), "=?UTF-8?B?Wm/Dqw==?=");
        assert_eq!(unstructured("a\r\nBcc: x"), "=?UTF-8?B?YSAgQmNjOiB4?=");
        let long = "é".repeat(40);
        let folded = unstructured(&long);
        let words: Vec<&str> = folded.split("\r\n ").collect();
        assert_eq!(words.len(), 2);
        assert!(words.iter().all(|w| w.len() <= 75), "{folded}");
        let decoded: String = words
            .iter()
            .map(|w| {
                let b64 = w.trim_start_matches("=?UTF-8?B?").trim_end_matches("?=");
                String::from_utf8(Base64::decode_vec(b64).unwrap()).unwrap()
            })
            .collect();
        assert_eq!(decoded, long);
    }
}
