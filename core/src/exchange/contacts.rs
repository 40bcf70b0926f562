//! How a user is reached outside Herald: their email address, phone number, quiet hours and
//! which fallback channels they accept (`PUT /api/v1/users/{uid}/contacts`). Kept in the
//! user's inbox; read by the policy when a fallback falls due (`policy.rs`).
//!
//! An update names only what it changes: a field left out keeps its value, `null` clears it.

use super::Channel;
use crate::error::Error;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// Longest email address (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;

/// A user's contacts as the inbox keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contacts {
    #[serde(default)]
    pub email: Option<String>,
    /// E.164: `+` and 8 to 15 digits.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// The fallback channels the user accepts; every channel when `None`.
    #[serde(default)]
    pub channels: Option<Vec<Channel>>,
}

impl Contacts {
    /// Where `channel` reaches the user, if they gave an address for it.
    pub fn address(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Email => self.email.as_deref(),
            Channel::Sms => self.phone.as_deref(),
            // Devices are not contacts: they are subscribed (`inbox/devices.rs`).
            Channel::Push => None,
        }
    }

    /// Whether the user accepts `channel`.
    pub fn accepts(&self, channel: Channel) -> bool {
        self.channels.as_ref().is_none_or(|list| list.contains(&channel))
    }

    /// Applies an update: each field it names replaces (or, with `None`, clears) this one's.
    pub fn apply(&mut self, update: ContactsUpdate) {
        if let Some(email) = update.email {
            self.email = email;
        }
        if let Some(phone) = update.phone {
            self.phone = phone;
        }
        if let Some(quiet_hours) = update.quiet_hours {
            self.quiet_hours = quiet_hours;
        }
        if let Some(channels) = update.channels {
            self.channels = channels;
        }
    }

    /// The answer of the contacts routes: every field, `null` when unset, and the channels the
    /// user accepts spelled out.
    pub fn to_json(&self) -> String {
        let channels: Vec<Channel> = Channel::ALL.into_iter().filter(|c| self.accepts(*c)).collect();
        serde_json::json!({
            "email": self.email,
            "phone": self.phone,
            "quiet_hours": self.quiet_hours,
            "channels": channels,
        })
        .to_string()
    }
}

/// A validated contacts update: for each field, `None` when the body leaves it out,
/// `Some(None)` when it clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContactsUpdate {
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub quiet_hours: Option<Option<QuietHours>>,
    pub channels: Option<Option<Vec<Channel>>>,
}

impl ContactsUpdate {
    /// The body of `PUT /api/v1/users/{uid}/contacts`: `{email?, phone?, quiet_hours?, channels?}`.
    pub fn parse(body: &str) -> Result<Self, Error> {
        let fields: Map<String, Value> = crate::json::object(body, "body")?;
        let known = ["email", "phone", "quiet_hours", "channels"];
        if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(Error::invalid_field(unknown, "is not a contacts field (email, phone, quiet_hours, channels)"));
        }
        // Absent: unchanged; null: cleared; a value: checked.
        fn field<T>(
            fields: &Map<String, Value>,
            name: &str,
            parse: impl Fn(&Value) -> Result<T, Error>,
        ) -> Result<Option<Option<T>>, Error> {
            match fields.get(name) {
                None => Ok(None),
                Some(Value::Null) => Ok(Some(None)),
                Some(value) => parse(value).map(|v| Some(Some(v))),
            }
        }
        Ok(Self {
            email: field(&fields, "email", parse_email)?,
            phone: field(&fields, "phone", parse_phone)?,
            quiet_hours: field(&fields, "quiet_hours", QuietHours::parse)?,
            channels: field(&fields, "channels", parse_channels)?,
        })
    }
}

/// An address with one `@`, a local part and a dotted domain, no spaces or control
/// characters, at most [`EMAIL_MAX`] bytes. (Deliverability is the provider's to find out.)
fn parse_email(value: &Value) -> Result<String, Error> {
    let refuse = || Error::invalid_field("email", format!("must be an email address of at most {EMAIL_MAX} bytes"));
    let email = value.as_str().ok_or_else(refuse)?;
    let (local, domain) = email.split_once('@').ok_or_else(refuse)?;
    let clean = |s: &str| !s.is_empty() && !s.contains('@') && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    let dotted = domain.split('.').count() >= 2 && domain.split('.').all(|label| !label.is_empty());
    if email.len() > EMAIL_MAX || !clean(local) || !clean(domain) || !dotted {
        return Err(refuse());
    }
    Ok(email.to_owned())
}

/// An E.164 number: `+`, then 8 to 15 digits, the first not 0.
fn parse_phone(value: &Value) -> Result<String, Error> {
    let phone = value.as_str().unwrap_or_default();
    let digits = phone.strip_prefix('+').unwrap_or_default();
    if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0') {
        Ok(phone.to_owned())
    } else {
        Err(Error::invalid_field("phone", "must be an E.164 number: + and 8 to 15 digits, such as +447700900123"))
    }
}

fn parse_channels(value: &Value) -> Result<Vec<Channel>, Error> {
    let refuse = || Error::invalid_field("channels", "must list channels by name: \"push\", \"email\", \"sms\"");
    let mut channels = Vec::new();
    for item in value.as_array().ok_or_else(refuse)? {
        let channel = item.as_str().and_then(Channel::parse).ok_or_else(refuse)?;
        if !channels.contains(&channel) {
            channels.push(channel);
        }
    }
    Ok(channels)
}

const DAY_MINUTES: i64 = 24 * 60;
const MINUTE_MS: i64 = 60_000;

/// A daily window in the user's local time when low and normal fallbacks wait: from `start`
/// (included) to `end` (excluded), across midnight when `end` is earlier. Written
/// `{"start": "22:00", "end": "07:00", "utc_offset_minutes": 60}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    #[serde(serialize_with = "clock", deserialize_with = "from_clock")]
    pub start: u16,
    #[serde(serialize_with = "clock", deserialize_with = "from_clock")]
    pub end: u16,
    /// The user's offset from UTC, in minutes (-720 to 840).
    pub utc_offset_minutes: i16,
}

impl QuietHours {
    pub fn parse(value: &Value) -> Result<Self, Error> {
        let refuse = |why: &str| Error::invalid_field("quiet_hours", why);
        let fields = value
            .as_object()
            .ok_or_else(|| refuse("must be {\"start\": \"HH:MM\", \"end\": \"HH:MM\", \"utc_offset_minutes\": N}"))?;
        if let Some(unknown) = fields.keys().find(|k| !["start", "end", "utc_offset_minutes"].contains(&k.as_str())) {
            return Err(refuse(&format!("has {unknown:?}; known: start, end, utc_offset_minutes")));
        }
        let time = |name: &str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .and_then(minutes_of)
                .ok_or_else(|| refuse(&format!("needs `{name}` as a 24-hour \"HH:MM\"")))
        };
        let (start, end) = (time("start")?, time("end")?);
        if start == end {
            return Err(refuse("must not start and end at the same time"));
        }
        let offset = match fields.get("utc_offset_minutes") {
            None => 0,
            Some(v) => v
                .as_i64()
                .filter(|o| (-720..=840).contains(o))
                .ok_or_else(|| refuse("needs `utc_offset_minutes` as whole minutes from -720 to 840"))?,
        };
        Ok(Self { start, end, utc_offset_minutes: offset as i16 })
    }

    /// The user's local minute of the day at `now` (ms since the epoch).
    fn local_minute(&self, now: i64) -> i64 {
        (now.div_euclid(MINUTE_MS) + i64::from(self.utc_offset_minutes)).rem_euclid(DAY_MINUTES)
    }

    /// Whether `now` falls in the window.
    pub fn contains(&self, now: i64) -> bool {
        let (minute, start, end) = (self.local_minute(now), i64::from(self.start), i64::from(self.end));
        if start < end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        }
    }

    /// When the window that holds `now` ends: the next local `end` after `now`.
    pub fn end_after(&self, now: i64) -> i64 {
        let wait = (i64::from(self.end) - self.local_minute(now)).rem_euclid(DAY_MINUTES);
        (now.div_euclid(MINUTE_MS) + wait) * MINUTE_MS
    }
}

/// `"HH:MM"` (24-hour) → minutes since midnight.
fn minutes_of(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn clock<S: Serializer>(minutes: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{:02}:{:02}", minutes / 60, minutes % 60))
}

fn from_clock<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let text = String::deserialize(d)?;
    minutes_of(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not HH:MM")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-11-02 00:00 UTC.
    const MIDNIGHT: i64 = 1_793_577_600_000;
    const HOUR: i64 = 3_600_000;

    fn field(body: Value) -> String {
        let error = ContactsUpdate::parse(&body.to_string()).unwrap_err();
        error.details.unwrap()["field"].as_str().unwrap().to_owned()
    }

    #[test]
    fn an_update_names_what_it_sets_and_what_it_clears() {
        let update = ContactsUpdate::parse(
            r#"{"email":"a@example.com","phone":null,"quiet_hours":{"start":"22:00","end":"07:30","utc_offset_minutes":-300},"channels":["sms","sms"]}"#,
        )
        .unwrap();
        assert_eq!(update.email, Some(Some("a@example.com".into())));
        assert_eq!(update.phone, Some(None));
        assert_eq!(update.quiet_hours, Some(Some(QuietHours { start: 1320, end: 450, utc_offset_minutes: -300 })));
        assert_eq!(update.channels, Some(Some(vec![Channel::Sms])));
        let mut contacts = Contacts { phone: Some("+15550001111".into()), ..Contacts::default() };
        contacts.apply(update);
        assert_eq!(contacts.phone, None);
        assert!(contacts.accepts(Channel::Sms) && !contacts.accepts(Channel::Email));
        contacts.apply(ContactsUpdate::parse(r#"{"channels":null}"#).unwrap());
        assert!(contacts.accepts(Channel::Email), "null channels accept every channel again");
        assert_eq!(contacts.email.as_deref(), Some("a@example.com"), "left out: kept");
        let answer: Value = serde_json::from_str(&contacts.to_json()).unwrap();
        assert_eq!(
            answer,
            json!({"email":"a@example.com","phone":null,"quiet_hours":{"start":"22:00","end":"07:30","utc_offset_minutes":-300},"channels":["email","sms","push"]})
        );
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(field(json!({ "fax": "1" })), "fax");
        for bad in ["nope", "a@b", "@example.com", "a b@example.com", "a@@example.com", "a@example..com"] {
            assert_eq!(field(json!({ "email": bad })), "email", "{bad}");
        }
        assert_eq!(field(json!({ "email": format!("{}@example.com", "a".repeat(250)) })), "email");
        for bad in [json!("07700900123"), json!("+44"), json!("+0123456789"), json!("+4477009001234567"), json!(7)] {
            assert_eq!(field(json!({ "phone": bad })), "phone", "{bad}");
        }
        for bad in [
            json!("22-07"),
            json!({ "start": "22:00" }),
            json!({ "start": "24:00", "end": "07:00" }),
            json!({ "start": "7:00", "end": "08:00" }),
            json!({ "start": "07:00", "end": "07:00" }),
            json!({ "start": "22:00", "end": "07:00", "utc_offset_minutes": 900 }),
            json!({ "start": "22:00", "end": "07:00", "tz": "UTC" }),
        ] {
            assert_eq!(field(json!({ "quiet_hours": bad })), "quiet_hours", "{bad}");
        }
        assert_eq!(field(json!({ "channels": ["pigeon"] })), "channels");
        let error = ContactsUpdate::parse("[]").unwrap_err();
        assert_eq!(error.code, crate::ErrorCode::InvalidField);
        assert_eq!(ContactsUpdate::parse("{").unwrap_err().code, crate::ErrorCode::MalformedJson);
    }

    #[test]
    fn quiet_hours_across_midnight_hold_the_late_evening_and_the_early_morning_in_local_time() {
        // 22:00 to 07:00 at UTC+1: 21:00 to 06:00 UTC.
        let quiet = QuietHours { start: 22 * 60, end: 7 * 60, utc_offset_minutes: 60 };
        assert!(!quiet.contains(MIDNIGHT + 20 * HOUR + 59 * MINUTE_MS));
        assert!(quiet.contains(MIDNIGHT + 21 * HOUR));
        assert!(quiet.contains(MIDNIGHT + 2 * HOUR));
        assert!(quiet.contains(MIDNIGHT + 5 * HOUR + 59 * MINUTE_MS));
        assert!(!quiet.contains(MIDNIGHT + 6 * HOUR), "the end is not in the window");
        assert_eq!(quiet.end_after(MIDNIGHT + 21 * HOUR + 30_000), MIDNIGHT + 30 * HOUR);
        assert_eq!(quiet.end_after(MIDNIGHT + 2 * HOUR), MIDNIGHT + 6 * HOUR);
        // 09:00 to 17:00 at UTC-5: 14:00 to 22:00 UTC.
        let office = QuietHours { start: 9 * 60, end: 17 * 60, utc_offset_minutes: -300 };
        assert!(!office.contains(MIDNIGHT + 13 * HOUR) && office.contains(MIDNIGHT + 14 * HOUR));
        assert!(!office.contains(MIDNIGHT + 22 * HOUR));
        assert_eq!(office.end_after(MIDNIGHT + 15 * HOUR), MIDNIGHT + 22 * HOUR);
    }
}
