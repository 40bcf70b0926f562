//! The inbox's REST bodies, validated at the edge before any object is reached: `send` and
//! `inbox/read` (the contacts body is `contacts.rs`'s, `native/subscribe`'s `device.rs`'s). Each refusal is
//! `invalid_field` naming the field (or `malformed_json`).

use super::inbox::{PAGE_DEFAULT, PAGE_MAX};
use super::{inbox_of, parse_msg, NotifyRequest, Opts};
use crate::error::Error;
use crate::ids::{RoomId, User, UserId};
use serde_json::{Map, Value};

/// The device of `native/subscribe` (its own file, `device.rs`).
pub use super::device::Device;

/// `POST /api/v1/send`: `{msg, uid, opts?}` from `from` (the token's user), with the
/// `Idempotency-Key` header, at `now`. The recipient, their inbox, and what to ask it.
pub fn send(
    body: &str,
    header_key: Option<&str>,
    from: &User,
    now: i64,
) -> Result<(UserId, RoomId, NotifyRequest), Error> {
    let fields: Map<String, Value> = crate::json::object(body, "body")?;
    only(&fields, &["msg", "uid", "opts"])?;
    let msg = parse_msg(fields.get("msg"))?;
    let (uid, inbox) = match fields.get("uid") {
        Some(Value::String(uid)) => UserId::parse(uid)
            .ok()
            .and_then(|uid| inbox_of(&uid).map(|inbox| (uid, inbox)))
            .ok_or_else(|| Error::invalid_field("uid", "must be a user id of 1 to 128 bytes, no control characters"))?,
        Some(_) => return Err(Error::invalid_field("uid", "must be a string")),
        None => return Err(Error::invalid_field("uid", "is required")),
    };
    let opts = Opts::parse(fields.get("opts"), header_key)?;
    opts.check_send_at(now)?;
    Ok((uid, inbox, NotifyRequest { from: from.clone(), msg, opts }))
}

/// `POST /api/v1/inbox/read`: `{seq}`, every notification up to it read.
pub fn read(body: &str) -> Result<u64, Error> {
    let fields: Map<String, Value> = crate::json::object(body, "body")?;
    only(&fields, &["seq"])?;
    match fields.get("seq") {
        Some(seq) => seq.as_u64().ok_or_else(|| Error::invalid_field("seq", "must be a whole number")),
        None => Err(Error::invalid_field("seq", "is required")),
    }
}

/// `GET /api/v1/inbox?before=&limit=`: notifications with a seq below `before` (all when
/// absent), at most `limit` (1 to [`PAGE_MAX`], default [`PAGE_DEFAULT`]).
pub fn page_query(before: Option<&str>, limit: Option<&str>) -> Result<(Option<u64>, usize), Error> {
    let before = before
        .map(|b| b.parse::<u64>().map_err(|_| Error::invalid_field("before", "must be a whole number (a seq)")))
        .transpose()?;
    let limit = match limit {
        None => PAGE_DEFAULT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=PAGE_MAX).contains(l))
            .ok_or_else(|| Error::invalid_field("limit", format!("must be a whole number from 1 to {PAGE_MAX}")))?,
    };
    Ok((before, limit))
}

pub(super) fn only(fields: &Map<String, Value>, known: &[&str]) -> Result<(), Error> {
    match fields.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => {
            Err(Error::invalid_field(unknown, format!("is not a field here (known: {})", known.join(", "))))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::exchange::{Urgency, SEND_AT_MAX_AHEAD_MS};
    use serde_json::json;

    /// 2026-11-02 09:00 UTC.
    const NOW: i64 = 1_793_610_000_000;

    fn field(result: Result<impl std::fmt::Debug, Error>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidField, "{error:?}");
        error.details.unwrap()["field"].as_str().unwrap().to_owned()
    }

    #[test]
    fn a_send_names_the_recipients_inbox_and_carries_the_sender() {
        let alice = User::anonymous_profile(UserId::parse("alice").unwrap());
        let body = json!({ "msg": "hi", "uid": "bob@example.com", "opts": { "urgency": "high" } }).to_string();
        let (uid, inbox, notify) = send(&body, Some("k1"), &alice, NOW).unwrap();
        assert_eq!(uid.as_str(), "bob@example.com");
        assert_eq!(inbox.as_str(), "inbox:bob_40example.com");
        assert_eq!(notify.from, alice);
        assert_eq!(notify.msg, "hi");
        assert_eq!((notify.opts.urgency, notify.opts.idempotency_key.as_deref()), (Urgency::High, Some("k1")));
        assert_eq!(field(send(r#"{"msg":"hi"}"#, None, &alice, NOW)), "uid");
        assert_eq!(field(send(r#"{"msg":"hi","uid":7}"#, None, &alice, NOW)), "uid");
        assert_eq!(field(send(r#"{"msg":"hi","uid":""}"#, None, &alice, NOW)), "uid");
        assert_eq!(field(send(&json!({ "msg": "hi", "uid": "x".repeat(130) }).to_string(), None, &alice, NOW)), "uid");
        assert_eq!(field(send(r#"{"uid":"bob"}"#, None, &alice, NOW)), "msg");
        assert_eq!(field(send(r#"{"msg":"hi","uid":"bob","to":"x"}"#, None, &alice, NOW)), "to");
        let later = |ahead: i64| json!({ "msg": "hi", "uid": "bob", "opts": { "send_at": NOW + ahead } }).to_string();
        assert!(send(&later(SEND_AT_MAX_AHEAD_MS), None, &alice, NOW).is_ok());
        assert_eq!(field(send(&later(SEND_AT_MAX_AHEAD_MS + 1), None, &alice, NOW)), "send_at", "over 30 days ahead");
        assert_eq!(field(send(r#"{"msg":"hi","uid":"bob","opts":{"urgency":0}}"#, None, &alice, NOW)), "urgency");
        assert_eq!(send("[1]", None, &alice, NOW).unwrap_err().code, ErrorCode::InvalidField);
        assert_eq!(send("{", None, &alice, NOW).unwrap_err().code, ErrorCode::MalformedJson);
    }

    #[test]
    fn a_read_is_a_whole_seq() {
        assert_eq!(read(r#"{"seq":4}"#).unwrap(), 4);
        for bad in [r#"{}"#, r#"{"seq":-1}"#, r#"{"seq":"4"}"#, r#"{"seq":1.5}"#] {
            assert_eq!(field(read(bad)), "seq", "{bad}");
        }
    }

    #[test]
    fn a_page_query_is_a_seq_and_a_bounded_limit() {
        assert_eq!(page_query(None, None).unwrap(), (None, PAGE_DEFAULT));
        assert_eq!(page_query(Some("9"), Some("100")).unwrap(), (Some(9), 100));
        assert_eq!(field(page_query(Some("x"), None)), "before");
        for bad in ["0", "101", "-1", "ten"] {
            assert_eq!(field(page_query(None, Some(bad))), "limit", "{bad}");
        }
    }
}
