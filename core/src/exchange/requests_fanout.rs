//! The bodies of `POST /api/v1/multicast` and `POST /api/v1/broadcast` (admin calls),
//! validated into what the inboxes and the fan-out queue take.
//!
//! - multicast `{msg, uids, opts?}`: `uids` a list of 1 to [`MULTICAST_MAX`] user ids, each
//!   with an inbox; repeats are dropped (each user gets the notification once).
//! - broadcast `{msg, opts?}`: its id is its idempotency key when the caller gave one
//!   (`opts.idempotency_key` or the `Idempotency-Key` header), else a fresh one, and every
//!   inbox is asked with that key, so a fan-out task delivered twice notifies nobody twice.
//!
//! Fields other than these are refused, like unknown `opts` (a typo must not pass silently).

use super::fanout::check_size;
use super::{inbox_of, parse_msg, NotifyRequest, Opts};
use crate::error::{Error, ErrorCode};
use crate::ids::{User, UserId};
use serde_json::{Map, Value};

/// The most recipients of one multicast. Each is one call to an inbox and the directory takes
/// a few more, all within one invocation's subrequests (docs/notifications.md).
pub const MULTICAST_MAX: usize = 500;

/// A validated multicast: who, and what each inbox is asked to take.
#[derive(Debug, Clone, PartialEq)]
pub struct Multicast {
    pub uids: Vec<UserId>,
    pub notify: NotifyRequest,
}

/// A validated broadcast: its id (the fan-out tasks carry it) and what each inbox takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    pub id: String,
    pub notify: NotifyRequest,
}

/// The idempotency key of a broadcast the caller gave no key for.
pub fn fresh_key(fresh: &str) -> String {
    format!("broadcast:{fresh}")
}

/// `{msg, uids, opts?}` from `from` (an admin), with the `Idempotency-Key` header if any, at
/// `now`.
pub fn multicast(body: &str, header_key: Option<&str>, from: &User, now: i64) -> Result<Multicast, Error> {
    let fields = fields(body, &["msg", "uids", "opts"])?;
    let msg = parse_msg(fields.get("msg"))?;
    let uids = parse_uids(fields.get("uids"))?;
    let opts = Opts::parse(fields.get("opts"), header_key)?;
    opts.check_send_at(now)?;
    Ok(Multicast { uids, notify: NotifyRequest { from: from.clone(), msg, opts } })
}

/// `{msg, opts?}` from `from` (an admin) at `now`; `fresh` names it when the caller gave no
/// key.
pub fn broadcast(body: &str, header_key: Option<&str>, from: &User, fresh: &str, now: i64) -> Result<Broadcast, Error> {
    let fields = fields(body, &["msg", "opts"])?;
    let msg = parse_msg(fields.get("msg"))?;
    let mut opts = Opts::parse(fields.get("opts"), header_key)?;
    opts.check_send_at(now)?;
    let id = opts.idempotency_key.get_or_insert_with(|| fresh_key(fresh)).clone();
    let notify = NotifyRequest { from: from.clone(), msg, opts };
    check_size(&notify)?;
    Ok(Broadcast { id, notify })
}

/// A broadcast whose fan-out could not be queued (`error`), or only in part: the answer names
/// its idempotency key in `details.idempotency_key`, so the caller can retry it without
/// notifying anyone twice (a key the caller did not give was made up here, and is told only
/// this way).
pub fn not_queued(error: Error, broadcast: &Broadcast) -> Error {
    let mut details = match error.details {
        Some(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    details.insert("idempotency_key".into(), Value::String(broadcast.id.clone()));
    let message = format!(
        "the broadcast was not (wholly) queued: {}; retry with Idempotency-Key: {} (those already reached are not \
         notified twice)",
        error.message, broadcast.id
    );
    Error { message, details: Some(Value::Object(details)), ..error }
}

/// A multicast of `of` recipients that `unreached` did not take (each inbox's own error): the
/// others did. With an idempotency key, sending the same request again is safe; without one
/// it would notify the others twice, so the caller is told to send to `unreached` only.
pub fn undelivered(unreached: &[(UserId, Error)], of: usize, keyed: bool) -> Error {
    let retry = if keyed {
        "send the same request again (same Idempotency-Key): those already reached are not notified twice"
    } else {
        "send again to details.uids only (an Idempotency-Key makes whole retries safe)"
    };
    let first = unreached.first().map(|(_, e)| e.message.as_str()).unwrap_or_default();
    Error::new(
        ErrorCode::Undelivered,
        format!("{} of {of} inboxes did not take the notification ({first}); {retry}", unreached.len()),
    )
    .with_details(serde_json::json!({ "uids": unreached.iter().map(|(u, _)| u).collect::<Vec<_>>() }))
}

/// The body as a JSON object with only `known` fields.
fn fields(body: &str, known: &[&str]) -> Result<Map<String, Value>, Error> {
    let fields: Map<String, Value> = crate::json::object(body, "body")?;
    if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::invalid_field(unknown, format!("is not a field of this call; known: {}", known.join(", "))));
    }
    Ok(fields)
}

/// `uids`: 1 to [`MULTICAST_MAX`] user ids with inboxes, first occurrences kept in order.
fn parse_uids(value: Option<&Value>) -> Result<Vec<UserId>, Error> {
    let list = match value {
        None | Some(Value::Null) => return Err(Error::invalid_field("uids", "is required")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Error::invalid_field("uids", "must be a list of user ids")),
    };
    if list.is_empty() {
        return Err(Error::invalid_field("uids", "must name at least one user"));
    }
    let mut uids: Vec<UserId> = Vec::with_capacity(list.len());
    for (n, item) in list.iter().enumerate() {
        let raw = item.as_str().ok_or_else(|| Error::invalid_field("uids", format!("[{n}] is not a string")))?;
        let uid = UserId::parse(raw).map_err(|why| Error::invalid_field("uids", format!("[{n}] {why}")))?;
        if inbox_of(&uid).is_none() {
            return Err(Error::invalid_field("uids", format!("[{n}] is too long for an inbox once escaped")));
        }
        if !uids.contains(&uid) {
            uids.push(uid);
        }
    }
    if uids.len() > MULTICAST_MAX {
        return Err(Error::invalid_field("uids", format!("names {} users; the most is {MULTICAST_MAX}", uids.len())));
    }
    Ok(uids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Urgency, SEND_AT_MAX_AHEAD_MS};
    use crate::message::KEY_MAX;
    use serde_json::json;

    /// 2026-11-02 09:00 UTC.
    const NOW: i64 = 1_793_610_000_000;

    fn admin() -> User {
        User { id: UserId::parse("ops").unwrap(), name: Some("Ops".into()), avatar: None }
    }

    fn field_of(result: Result<impl std::fmt::Debug, Error>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidField, "{error:?}");
        error.details.unwrap()["field"].as_str().unwrap().to_owned()
    }

    #[test]
    fn a_multicast_names_each_recipient_once_in_order() {
        let body = json!({ "msg": "hi", "uids": ["b", "a", "b"], "opts": { "urgency": 4, "data": { "k": 1 } } });
        let multicast = multicast(&body.to_string(), Some("key-1"), &admin(), NOW).unwrap();
        assert_eq!(multicast.uids, [UserId::parse("b").unwrap(), UserId::parse("a").unwrap()]);
        assert_eq!(multicast.notify.from, admin());
        assert_eq!(multicast.notify.msg, "hi");
        assert_eq!(multicast.notify.opts.urgency, Urgency::High);
        assert_eq!(multicast.notify.opts.data, Some(json!({ "k": 1 })));
        assert_eq!(multicast.notify.opts.idempotency_key.as_deref(), Some("key-1"));
    }

    #[test]
    fn a_malformed_multicast_is_refused_naming_the_field() {
        let m = |body: Value| multicast(&body.to_string(), None, &admin(), NOW);
        assert_eq!(field_of(m(json!({ "uids": ["a"] }))), "msg");
        assert_eq!(field_of(m(json!({ "msg": "", "uids": ["a"] }))), "msg");
        assert_eq!(field_of(m(json!({ "msg": "hi" }))), "uids");
        assert_eq!(field_of(m(json!({ "msg": "hi", "uids": [] }))), "uids");
        assert_eq!(field_of(m(json!({ "msg": "hi", "uids": "a" }))), "uids");
        assert_eq!(field_of(m(json!({ "msg": "hi", "uids": ["a", 7] }))), "uids");
        assert_eq!(field_of(m(json!({ "msg": "hi", "uids": [""] }))), "uids");
        assert_eq!(field_of(m(json!({ "msg": "hi", "uids": ["a\nb"] }))), "uids");
        assert_eq!(field_of(m(json!({ "msg": "hi", "uids": ["@".repeat(60)] }))), "uids");
        let too_many: Vec<String> = (0..=MULTICAST_MAX).map(|n| format!("u{n}")).collect();
        assert_eq!(field_of(m(json!({ "msg": "hi", "uids": too_many }))), "uids");
        assert_eq!(field_of(m(json!({ "msg": "hi", "uids": ["a"], "opts": { "urgency": 7 } }))), "urgency");
        assert_eq!(field_of(m(json!({ "msg": "hi", "uids": ["a"], "uid": "a" }))), "uid");
        assert_eq!(multicast("[1]", None, &admin(), NOW).unwrap_err().code, ErrorCode::InvalidField);
        assert_eq!(multicast("{nope", None, &admin(), NOW).unwrap_err().code, ErrorCode::MalformedJson);
        // Repeats do not count toward the limit.
        let repeated = vec!["a"; MULTICAST_MAX + 10];
        assert_eq!(m(json!({ "msg": "hi", "uids": repeated })).unwrap().uids.len(), 1);
    }

    #[test]
    fn an_incomplete_multicast_names_who_was_not_reached_and_how_to_retry() {
        let unreached = [(UserId::parse("b").unwrap(), Error::internal("inbox:b is down"))];
        let keyed = undelivered(&unreached, 3, true);
        assert_eq!((keyed.code, keyed.code.http_status()), (ErrorCode::Undelivered, 503));
        assert_eq!(keyed.details, Some(json!({ "uids": ["b"] })));
        assert!(keyed.message.starts_with("1 of 3 inboxes did not take the notification (inbox:b is down)"));
        assert!(keyed.message.contains("same Idempotency-Key"), "{}", keyed.message);
        assert!(undelivered(&unreached, 3, false).message.contains("details.uids only"));
    }

    #[test]
    fn a_broadcast_is_named_by_its_key_or_a_fresh_one() {
        let given = broadcast(r#"{"msg":"hi"}"#, Some("launch-1"), &admin(), "f00d", NOW).unwrap();
        assert_eq!(given.id, "launch-1");
        assert_eq!(given.notify.opts.idempotency_key.as_deref(), Some("launch-1"));
        let fresh = broadcast(r#"{"msg":"hi","opts":null}"#, None, &admin(), "f00d", NOW).unwrap();
        assert_eq!(fresh.id, "broadcast:f00d");
        assert_eq!(fresh.notify.opts.idempotency_key.as_deref(), Some("broadcast:f00d"));
        assert!(fresh_key(&"f".repeat(32)).len() <= KEY_MAX);
    }

    #[test]
    fn a_malformed_broadcast_is_refused_naming_the_field() {
        let b = |body: Value| broadcast(&body.to_string(), None, &admin(), "f", NOW);
        assert_eq!(field_of(b(json!({}))), "msg");
        assert_eq!(field_of(b(json!({ "msg": 5 }))), "msg");
        assert_eq!(field_of(b(json!({ "msg": "hi", "opts": [] }))), "opts");
        assert_eq!(field_of(b(json!({ "msg": "hi", "uids": ["a"] }))), "uids");
        let huge = b(json!({ "msg": "hi", "opts": { "data": "x".repeat(70_000) } })).unwrap_err();
        assert_eq!(huge.code, ErrorCode::PayloadTooLarge);
        let later = b(json!({ "msg": "hi", "opts": { "send_at": NOW + SEND_AT_MAX_AHEAD_MS + 1 } }));
        assert_eq!(field_of(later), "send_at");
        let m = multicast(
            &json!({ "msg": "hi", "uids": ["a"], "opts": { "send_at": NOW + SEND_AT_MAX_AHEAD_MS + 1 } }).to_string(),
            None,
            &admin(),
            NOW,
        );
        assert_eq!(field_of(m), "send_at");
    }

    #[test]
    fn a_broadcast_that_could_not_be_queued_names_its_key_for_the_retry() {
        let fresh = broadcast(r#"{"msg":"hi"}"#, None, &admin(), "f00d", NOW).unwrap();
        let error = not_queued(Error::internal("the queue refused the batch"), &fresh);
        assert_eq!((error.code, error.code.http_status()), (ErrorCode::Internal, 500));
        assert_eq!(error.details, Some(json!({ "idempotency_key": "broadcast:f00d" })));
        assert!(error.message.contains("the queue refused the batch"), "{}", error.message);
        assert!(error.message.contains("retry with Idempotency-Key: broadcast:f00d"), "{}", error.message);
        let keyed = broadcast(r#"{"msg":"hi"}"#, Some("launch-1"), &admin(), "f00d", NOW).unwrap();
        let with_details = Error::internal("x").with_details(json!({ "shard": 3 }));
        assert_eq!(
            not_queued(with_details, &keyed).details,
            Some(json!({ "shard": 3, "idempotency_key": "launch-1" }))
        );
    }
}
