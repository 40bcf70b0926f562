//! What the Worker reads out of a URL: the query (`query.rs`), the route (`route.rs`), the
//! dialect's route table (`dialect/routes.rs`) and percent-encoded path segments.

use super::assert_coded;
use herald_core::dialect::routes::percent_decode;
use herald_core::dialect::RouteTable;
use herald_core::error::ErrorCode;
use herald_core::exchange::providers::form_encode;
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
