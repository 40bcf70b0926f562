//! The other headers Herald reads from outside: a page's `Origin` against the allow-list
//! (`origin.rs`: the cookie check and CORS), the client's address in `CF-Connecting-IP`
//! (`connections.rs`), and an object's name in `x-herald-object` (`object.rs`).

use herald_core::connections::address_key;
use herald_core::error::ErrorCode;
use herald_core::object::{learn, Learned, Role};
use herald_core::origin::AllowedOrigins;
use std::net::{IpAddr, Ipv6Addr};

/// What `std::net` makes of an address, as the caps count it (the oracle of the hand reader).
fn expected_key(raw: &str) -> Option<String> {
    match raw.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(v4.to_string()),
        IpAddr::V6(v6) => Some(match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        }),
    }
}

/// A client address is read as `std::net` reads it, and an IPv6 one counted by its /64.
pub fn address(raw: &str) {
    assert_eq!(address_key(raw), expected_key(raw), "{raw:?}");
    if let Some(key) = address_key(raw).filter(|key| key.ends_with("::/64")) {
        let prefix: Ipv6Addr = key.trim_end_matches("/64").parse().expect("a /64 key is an address");
        assert_eq!(prefix.segments()[4..], [0; 4], "{raw:?}: {key}");
    }
}

/// An allow-list and a page's origin: a list either parses or is refused with a reason; a
/// cookie is taken only from a page the list names (never `null`, never a string that is no
/// origin); an answer's `Access-Control-Allow-Origin` is the page's origin exactly (never `*`),
/// credentials go only with it, on a cookie route, to a page that may send a cookie; a
/// preflight is answered exactly when answers are readable, and refused with a coded error.
pub fn origin(list: &str, origin: &str, own: &str, cookie_route: bool) {
    let allowed = match AllowedOrigins::parse(list) {
        Ok(allowed) => allowed,
        Err(problem) => {
            assert!(!problem.is_empty(), "{list:?}: a refusal without a reason");
            return;
        }
    };
    let ambient = allowed.check_ambient(Some(origin), own);
    if let Err(e) = &ambient {
        assert_eq!(e.code, ErrorCode::OriginForbidden, "{list:?} {origin:?}");
    }
    // Not an origin a browser writes: nothing, `null`, no scheme, or a path, query, fragment,
    // user or blank past the scheme.
    let no_origin = match origin.split_once("://") {
        None => true,
        Some((_, rest)) => {
            rest.is_empty()
                || rest.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b"/?#@".contains(&b))
        }
    };
    if no_origin {
        assert!(ambient.is_err(), "{list:?}: {origin:?} may send a cookie");
    }
    assert!(allowed.check_ambient(None, own).is_ok(), "no Origin: not a browser page");
    let headers = allowed.cors_headers(Some(origin), own, cookie_route);
    let get = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
    assert_eq!(get("vary"), Some("Origin"), "{list:?} {origin:?}");
    if let Some(value) = get("access-control-allow-origin") {
        assert_eq!(value, origin, "{list:?}");
        assert!(!no_origin, "{list:?}: {origin:?} may read answers");
    }
    let credentials = get("access-control-allow-credentials").is_some();
    assert_eq!(credentials, cookie_route && ambient.is_ok(), "{list:?} {origin:?} {headers:?}");
    match allowed.preflight(origin, own, cookie_route) {
        Ok(answer) => {
            assert!(get("access-control-allow-origin").is_some(), "{list:?} {origin:?}");
            assert!(answer.iter().any(|(n, _)| *n == "access-control-allow-headers"));
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::OriginForbidden);
            assert!(get("access-control-allow-origin").is_none(), "{list:?} {origin:?}");
        }
    }
}

/// An object's name: a role or none; a name with a role is learned (stored once where its role
/// keeps storage) and then known, and a different name is refused.
pub fn object_name(name: &str, other: &str) {
    let Some(role) = Role::of(name) else {
        assert_eq!(learn(None, name).unwrap_err().code, ErrorCode::Internal, "{name:?}");
        return;
    };
    let (learned_role, learned) = learn(None, name).expect("a named object learns its name");
    assert_eq!(learned_role, role);
    assert_eq!(learned == Learned::Store, role.stores_name(), "{name:?}");
    assert_eq!(learn(Some(name), name).unwrap().1, Learned::Known);
    if other != name && Role::of(other).is_some() {
        assert_eq!(learn(Some(name), other).unwrap_err().code, ErrorCode::Internal, "{name:?} told {other:?}");
    }
}
