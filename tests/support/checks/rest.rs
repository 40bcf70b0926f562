//! The REST bodies and page queries, read at the edge before any object is reached.

use super::internal::round_trip;
use super::{assert_coded, clip};
use crate::{user, T0};
use herald_core::dialect::threedrepo::logout_request;
use herald_core::dialect::tndata::HistoryQuery as ChatQuery;
use herald_core::error::ErrorCode;
use herald_core::exchange::contacts::{Contacts, ContactsUpdate};
use herald_core::exchange::dead_letters::ListQuery;
use herald_core::exchange::directory::PageQuery;
use herald_core::exchange::endpoint::EndpointRules;
use herald_core::exchange::requests::{self, Device};
use herald_core::exchange::requests_fanout::{broadcast, multicast};
use herald_core::ids::UserId;
use herald_core::message::Draft;
use herald_core::query;
use herald_core::room::HistoryQuery;
use serde_json::Value;

/// What a body may be refused with (docs/api.md, docs/notifications.md).
pub const BODY_CODES: [ErrorCode; 3] = [ErrorCode::MalformedJson, ErrorCode::InvalidField, ErrorCode::PayloadTooLarge];

/// One body, with an `Idempotency-Key` header or none, given to every REST body reader:
/// each refuses it with a body code or takes it into values within their documented limits.
pub fn body(body: &str, header_key: Option<&str>) {
    let alice = user("alice");
    let refused = |error: herald_core::Error| assert_coded(&error, &BODY_CODES, &(body, header_key));
    match Draft::from_rest_body(body, header_key) {
        Ok(draft) => {
            assert!(!draft.event.is_empty() && draft.event.len() <= 128, "{draft:?}");
            assert!(serde_json::from_str::<Value>(draft.data.get()).is_ok(), "{draft:?}");
            assert_eq!(draft.key.as_deref(), header_key);
        }
        Err(error) => refused(error),
    }
    match requests::send(body, header_key, &alice, T0) {
        Ok((uid, inbox, notify)) => {
            assert!(inbox.as_str().starts_with("inbox:"), "{inbox}");
            assert!(!notify.msg.is_empty() && notify.msg.len() <= 4096 && !uid.as_str().is_empty());
            round_trip(&notify);
        }
        Err(error) => refused(error),
    }
    match requests::read(body) {
        Ok(seq) => assert_eq!(serde_json::from_str::<Value>(body).unwrap()["seq"], Value::from(seq)),
        Err(error) => refused(error),
    }
    for allow_loopback_http in [false, true] {
        let rules = EndpointRules { allow_loopback_http, ..Default::default() };
        match Device::parse(body, &rules) {
            Ok(device) => {
                assert!(!device.id().is_empty());
                assert!(herald_core::exchange::device::is_public_id(&device.public_id()));
                assert!(allow_loopback_http || !device.id().starts_with("http://"), "{device:?}");
                round_trip(&device);
            }
            Err(error) => refused(error),
        }
    }
    match ContactsUpdate::parse(body) {
        Ok(update) => {
            let mut contacts = Contacts::default();
            contacts.apply(update);
            assert!(serde_json::from_str::<Value>(&contacts.to_json()).is_ok());
        }
        Err(error) => refused(error),
    }
    match multicast(body, header_key, &alice, T0) {
        Ok(multicast) => {
            assert!((1..=500).contains(&multicast.uids.len()), "{} uids", multicast.uids.len());
            round_trip(&multicast.notify);
        }
        Err(error) => refused(error),
    }
    match broadcast(body, header_key, &alice, "fresh", T0) {
        Ok(broadcast) => {
            assert_eq!(broadcast.notify.opts.idempotency_key.as_ref(), Some(&broadcast.id));
            round_trip(&broadcast.notify);
        }
        Err(error) => refused(error),
    }
    let bob = UserId::parse("bob").unwrap();
    match logout_request(&bob, &alice, body) {
        Ok(logout) => assert!(serde_json::from_str::<Value>(logout.publish.draft.data.get()).is_ok()),
        Err(error) => refused(error),
    }
}

/// Three query parameters given to every page query reader: each refuses them with
/// `invalid_field` or reads a page within its limits, which its own query string reads back.
pub fn page(a: Option<&str>, b: Option<&str>, c: Option<&str>) {
    let refused = |error: herald_core::Error| assert_coded(&error, &[ErrorCode::InvalidField], &(a, b, c));
    match HistoryQuery::parse(a, b, c) {
        Ok(query) => assert!((1..=1000).contains(&query.limit), "{query:?}"),
        Err(error) => refused(error),
    }
    match ChatQuery::parse(a, b, c) {
        Ok(query) => {
            assert!((1..=100).contains(&query.limit));
            let text = query.to_query();
            let param = |name| query::param(&text, name);
            let again =
                ChatQuery::parse(param("order").as_deref(), param("limit").as_deref(), param("cursor").as_deref());
            assert_eq!(again.as_ref(), Ok(&query), "{text}");
        }
        Err(error) => refused(error),
    }
    match ListQuery::parse(a, b) {
        Ok(list) => {
            assert!((1..=100).contains(&list.limit));
            let text = list.to_query();
            let again =
                ListQuery::parse(query::param(&text, "limit").as_deref(), query::param(&text, "cursor").as_deref());
            assert_eq!(again, Ok(list), "{text}");
        }
        Err(error) => refused(error),
    }
    match PageQuery::parse(a, b) {
        Ok(page) => {
            assert!((1..=1000).contains(&page.limit));
            let path = page.path();
            let text = query::of(&path).unwrap();
            let again =
                PageQuery::parse(query::param(text, "after").as_deref(), query::param(text, "limit").as_deref());
            assert_eq!(again.as_ref(), Ok(&page), "{path}");
        }
        Err(error) => refused(error),
    }
    match requests::page_query(a, b) {
        Ok((_, limit)) => assert!((1..=100).contains(&limit), "{limit}"),
        Err(error) => refused(error),
    }
}

/// An idempotency key as a client may send it: any text, cut to a few hundred bytes.
pub fn header_key(text: &str) -> &str {
    clip(text, 300)
}
