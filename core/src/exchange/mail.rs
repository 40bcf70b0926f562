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
    let date = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().to_rfc2822();
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
