//! What the Worker reads out of a URL: the query (`query.rs`), the route (`route.rs`), the
//! dialect's route table (`dialect/routes.rs`), percent-encoded path segments, and the ids in
//! them (`ids.rs`).

use super::assert_coded;
use herald_core::dialect::routes::percent_decode;
use herald_core::dialect::tndata;
use herald_core::dialect::RouteTable;
use herald_core::error::ErrorCode;
use herald_core::exchange::providers::form_encode;
use herald_core::exchange::{inbox::owner_of, inbox_of};
use herald_core::ids::{escape_part, RoomId, UserId};
use herald_core::query;
use herald_core::route::Route;

/// What a route may be refused with (docs/api.md).
pub const ROUTE_CODES: [ErrorCode; 4] =
    [ErrorCode::NotFound, ErrorCode::MethodNotAllowed, ErrorCode::InvalidRoomId, ErrorCode::InvalidField];

/// A URL's query and one of its parameters are what the `url` crate reads (which the runtime's
/// own parser agrees with), whatever the text: the query after the first `?` up to a `#`, and
/// the first value of the parameter, form-urlencoded.
pub fn query(url: &str, name: &str) {
    let query = query::of(url);
    assert_eq!(query.is_some(), url.contains('?'), "{url:?}");
    let Some(query) = query else { return };
    assert!(!query.contains('#') && url.contains(query), "{url:?} gave {query:?}");
    let expected = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(query::param(query, name), expected, "{name:?} in {query:?}");
}

/// Parameters written by a form encoder (the `url` crate's, and Herald's own [`form_encode`])
/// read back as they were: the first value of each name.
pub fn form_round_trip(pairs: &[(String, String)]) {
    let written = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let ours =
        pairs.iter().map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))).collect::<Vec<_>>().join("&");
    for (name, _) in pairs {
        let first = pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        assert_eq!(query::param(&written, name), first, "{name:?} in {written:?}");
        assert_eq!(query::param(&ours, name), first, "{name:?} in {ours:?}");
    }
}

/// Any method and path: a route, or a route refusal.
pub fn route(method: &str, path: &str) {
    if let Err(error) = Route::parse(method, path) {
        assert_coded(&error, &ROUTE_CODES, &(method, path));
    }
}

/// A path segment's `%XX` escapes: decoded as the `percent-encoding` crate decodes them when
/// every escape is two hex digits and the bytes are UTF-8, refused otherwise.
pub fn segment(raw: &str) {
    let escapes_whole = raw
        .match_indices('%')
        .all(|(i, _)| raw.as_bytes().get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().ok();
    let expected = if escapes_whole { decoded.map(|d| d.into_owned()) } else { None };
    assert_eq!(percent_decode(raw), expected, "{raw:?}");
}

/// `ROUTES` (configuration, read at start-up): a table, or a message naming what is wrong;
/// then any path finds a route or none.
pub fn route_table(raw: &str, echo: bool, path: &str) {
    match RouteTable::parse(raw, echo) {
        Ok(table) => {
            if let Some(found) = table.find(path) {
                if let Some(user) = found.user {
                    assert!(!user.is_empty() && !user.contains('/') && path.contains(user), "{path:?}");
                }
            }
        }
        Err(message) => assert!(!message.is_empty(), "{raw:?}"),
    }
}

/// A room id is taken exactly when it keeps the rules (1 to 128 of `A-Z a-z 0-9 _ - . :`,
/// first a letter or digit), else refused with `invalid_room_id`; a user id when it is 1 to 128
/// bytes without control characters. Ids Herald composes read back as what they were composed
/// of: an inbox's user, a conversation's two users; different parts never compose the same id.
pub fn ids(raw: &str, other: &str) {
    let rules = (1..=128).contains(&raw.len())
        && raw.as_bytes()[0].is_ascii_alphanumeric()
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    match RoomId::parse(raw) {
        Ok(room) => {
            assert!(rules, "{raw:?} taken as a room id");
            assert_eq!(room.as_str(), raw);
        }
        Err(error) => {
            assert!(!rules, "{raw:?} refused as a room id");
            assert_coded(&error, &[ErrorCode::InvalidRoomId], &raw);
        }
    }
    let user = UserId::parse(raw);
    assert_eq!(user.is_ok(), (1..=128).contains(&raw.len()) && !raw.chars().any(char::is_control), "{raw:?}");
    let Ok(user) = user else { return };
    if let Some(inbox) = inbox_of(&user) {
        assert_eq!(owner_of(&inbox).as_ref(), Some(&user), "{inbox}");
    }
    if let Ok(other) = UserId::parse(other) {
        match tndata::pair_room(&user, &other) {
            Ok(room) => {
                let mut pair = [user.clone(), other.clone()];
                pair.sort();
                assert_eq!(tndata::participants(&room), Some(pair), "{room}");
                assert_eq!(tndata::pair_room(&other, &user).as_ref(), Ok(&room));
            }
            Err(error) => assert_coded(&error, &[ErrorCode::ChatWithSelf, ErrorCode::InvalidField], &(raw, other)),
        }
    }
    if escape_part(raw) == escape_part(other) {
        assert_eq!(raw, other, "two parts escape the same");
    }
}
