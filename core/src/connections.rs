//! Connection caps: how many connections one user, one client address and the whole process
//! may hold at once, so that one client cannot take the server's file descriptors (and with
//! them every other member's connection). The room's own cap is
//! [`crate::config::Limits::max_connections_per_room`].
//!
//! A [`Tally`] counts the connections held where they are held: the process's objects (its
//! rooms' websockets and its homes' Socket.IO sessions) share one. Like Centrifugo's per-node
//! user connection limit, the caps are per process: a workerd process locally, an isolate on
//! Cloudflare. Each connection is counted once under its own key (its connection id or sid),
//! so counting it again after its object woke from hibernation counts nothing new.

use crate::error::{Error, ErrorCode};
use std::collections::HashMap;

/// The caps; 0 is no cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub per_user: usize,
    pub per_address: usize,
    pub total: usize,
}

/// Who holds a connection, as far as the caps go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holder {
    /// The user, when the connection presented a verified token.
    pub user: Option<String>,
    /// The client's address ([`address_key`]), when the platform told it.
    pub address: Option<String>,
}

/// The connections held, by key, user and address.
#[derive(Debug, Default)]
pub struct Tally {
    held: HashMap<String, Holder>,
    users: HashMap<String, usize>,
    addresses: HashMap<String, usize>,
}

impl Tally {
    /// Counts a new connection `key` for `holder`, or refuses it with `too_many_connections`
    /// when a cap is reached (counting nothing). A key already counted is admitted again.
    pub fn admit(&mut self, caps: &Caps, key: &str, holder: Holder) -> Result<(), Error> {
        if self.held.contains_key(key) {
            return Ok(());
        }
        if full(self.held.len(), caps.total) {
            return Err(refused("total", caps.total, "this server holds its most connections"));
        }
        if let Some(user) = holder.user.as_ref().filter(|u| full(count(&self.users, u), caps.per_user)) {
            return Err(refused("user", caps.per_user, &format!("user {user:?} holds its most connections")));
        }
        if let Some(addr) = holder.address.as_ref().filter(|a| full(count(&self.addresses, a), caps.per_address)) {
            return Err(refused("address", caps.per_address, &format!("address {addr} holds its most connections")));
        }
        self.count(key, holder);
        Ok(())
    }

    /// The connection `key`, counted without a user (a Socket.IO session whose token came after
    /// its handshake), proved to be `user`: it counts under that user from now on, or is refused
    /// when the user holds its most connections (and then counts as it did).
    pub fn add_user(&mut self, caps: &Caps, key: &str, user: &str) -> Result<(), Error> {
        let Some(held) = self.held.get(key) else { return Ok(()) };
        if held.user.as_deref() == Some(user) {
            return Ok(());
        }
        if full(count(&self.users, user), caps.per_user) {
            return Err(refused("user", caps.per_user, &format!("user {user:?} holds its most connections")));
        }
        let holder = self.held.get_mut(key).expect("found above");
        let before = holder.user.replace(user.to_owned());
        if let Some(before) = before {
            uncount(&mut self.users, &before);
        }
        *self.users.entry(user.to_owned()).or_default() += 1;
        Ok(())
    }

    /// Counts a connection that is already open (found again when its object woke), whatever
    /// the caps say; once per key.
    pub fn restore(&mut self, key: &str, holder: Holder) {
        if !self.held.contains_key(key) {
            self.count(key, holder);
        }
    }

    /// The connection `key` ended; releasing one not counted does nothing.
    pub fn release(&mut self, key: &str) {
        let Some(holder) = self.held.remove(key) else { return };
        if let Some(user) = holder.user {
            uncount(&mut self.users, &user);
        }
        if let Some(address) = holder.address {
            uncount(&mut self.addresses, &address);
        }
    }

    /// Who holds connection `key`, if it is counted.
    pub fn holder(&self, key: &str) -> Option<&Holder> {
        self.held.get(key)
    }

    /// Connections held in all.
    pub fn total(&self) -> usize {
        self.held.len()
    }

    fn count(&mut self, key: &str, holder: Holder) {
        if let Some(user) = &holder.user {
            *self.users.entry(user.clone()).or_default() += 1;
        }
        if let Some(address) = &holder.address {
            *self.addresses.entry(address.clone()).or_default() += 1;
        }
        self.held.insert(key.to_owned(), holder);
    }
}

/// Whether `held` connections reach `cap` (0 is no cap).
fn full(held: usize, cap: usize) -> bool {
    cap != 0 && held >= cap
}

fn refused(scope: &str, limit: usize, what: &str) -> Error {
    Error::new(ErrorCode::TooManyConnections, format!("{what} ({limit}); close some, or try again later"))
        .with_details(serde_json::json!({ "scope": scope, "limit": limit }))
}

fn count(map: &HashMap<String, usize>, key: &str) -> usize {
    map.get(key).copied().unwrap_or(0)
}

fn uncount(map: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// The key a client address is counted under: an IPv4 address as is, an IPv6 address by its
/// /64 (one subscriber's network: a client holds a whole /64 and could rotate through it),
/// an IPv4-mapped IPv6 address as its IPv4 one. `None` for anything that is not an address.
///
/// Read by hand rather than with `std::net`'s parsers, whose code the wasm would carry for this
/// one header; the property tests check it against them (`tests/support/checks/headers.rs`).
pub fn address_key(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if let Some(v4) = ipv4(raw) {
        return Some(dotted(v4));
    }
    let s = ipv6(raw)?;
    if s[..5] == [0; 5] && s[5] == 0xffff {
        return Some(dotted([(s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8]));
    }
    Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
}

fn dotted(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// `a.b.c.d`: four decimal octets, no leading zeros (as `std::net` reads them).
fn ipv4(text: &str) -> Option<[u8; 4]> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        let valid = !part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit());
        if !valid || (part.len() > 1 && part.starts_with('0')) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then_some(octets)
}

/// An IPv6 address's eight groups (RFC 4291 §2.2): groups of one to four hex digits, at most
/// one `::` standing for one or more zero groups, and an IPv4 address in place of the last two.
fn ipv6(text: &str) -> Option<[u16; 8]> {
    fn groups(part: &str, last: bool) -> Option<Vec<u16>> {
        if part.is_empty() {
            return Some(Vec::new());
        }
        let pieces: Vec<&str> = part.split(':').collect();
        let mut out = Vec::with_capacity(8);
        for (i, piece) in pieces.iter().enumerate() {
            if last && i == pieces.len() - 1 && piece.contains('.') {
                let v4 = ipv4(piece)?;
                out.push(u16::from_be_bytes([v4[0], v4[1]]));
                out.push(u16::from_be_bytes([v4[2], v4[3]]));
            } else if (1..=4).contains(&piece.len()) && piece.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.push(u16::from_str_radix(piece, 16).ok()?);
            } else {
                return None;
            }
        }
        Some(out)
    }
    let mut address = [0u16; 8];
    match text.split_once("::") {
        Some((head, tail)) => {
            let (head, tail) = (groups(head, false)?, groups(tail, true)?);
            if head.len() + tail.len() > 7 || tail.len() > 8 {
                return None;
            }
            address[..head.len()].copy_from_slice(&head);
            address[8 - tail.len()..].copy_from_slice(&tail);
        }
        None => {
            let all = groups(text, true)?;
            if all.len() != 8 {
                return None;
            }
            address.copy_from_slice(&all);
        }
    }
    Some(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: Caps = Caps { per_user: 2, per_address: 3, total: 5 };

    fn holder(user: Option<&str>, address: &str) -> Holder {
        Holder { user: user.map(str::to_owned), address: address_key(address) }
    }

    fn scope(error: &Error) -> &str {
        error.details.as_ref().and_then(|d| d["scope"].as_str()).unwrap()
    }

    #[test]
    fn a_user_is_capped_across_addresses() {
        let mut tally = Tally::default();
        tally.admit(&CAPS, "a", holder(Some("ann"), "10.0.0.1")).unwrap();
        tally.admit(&CAPS, "b", holder(Some("ann"), "10.0.0.2")).unwrap();
        let refused = tally.admit(&CAPS, "c", holder(Some("ann"), "10.0.0.3")).unwrap_err();
        assert_eq!(refused.code, ErrorCode::TooManyConnections);
        assert_eq!(refused.code.http_status(), 429);
        assert_eq!(scope(&refused), "user");
        assert_eq!(tally.total(), 2, "a refusal counts nothing");
        tally.release("a");
        tally.admit(&CAPS, "c", holder(Some("ann"), "10.0.0.3")).unwrap();
    }

    #[test]
    fn an_address_is_capped_whoever_connects_from_it_anonymous_or_not() {
        let mut tally = Tally::default();
        for (key, user) in [("1", None), ("2", Some("bo")), ("3", None)] {
            tally.admit(&CAPS, key, holder(user, "192.0.2.7")).unwrap();
        }
        let refused = tally.admit(&CAPS, "4", holder(None, "192.0.2.7")).unwrap_err();
        assert_eq!(scope(&refused), "address");
        tally.admit(&CAPS, "4", holder(None, "192.0.2.8")).unwrap();
    }

    #[test]
    fn the_total_is_capped_however_many_addresses_there_are() {
        let mut tally = Tally::default();
        for n in 0..5 {
            tally.admit(&CAPS, &n.to_string(), holder(None, &format!("198.51.100.{n}"))).unwrap();
        }
        let refused = tally.admit(&CAPS, "x", holder(None, "198.51.100.99")).unwrap_err();
        assert_eq!(scope(&refused), "total");
        assert!(refused.message.contains("(5)"), "{}", refused.message);
    }

    #[test]
    fn zero_is_no_cap() {
        let mut tally = Tally::default();
        let none = Caps { per_user: 0, per_address: 0, total: 0 };
        for n in 0..100 {
            tally.admit(&none, &n.to_string(), holder(Some("u"), "10.1.1.1")).unwrap();
        }
        assert_eq!(tally.total(), 100);
    }

    #[test]
    fn a_connection_is_counted_once_however_often_it_is_found_again() {
        let mut tally = Tally::default();
        tally.admit(&CAPS, "k", holder(Some("u"), "10.0.0.1")).unwrap();
        tally.admit(&CAPS, "k", holder(Some("u"), "10.0.0.1")).unwrap();
        tally.restore("k", holder(Some("u"), "10.0.0.1"));
        assert_eq!(tally.total(), 1);
        tally.release("k");
        tally.release("k");
        assert_eq!(tally.total(), 0);
        assert!(tally.users.is_empty() && tally.addresses.is_empty(), "nothing left behind");
        // Restored connections count even past a cap: they are open already.
        for n in 0..7 {
            tally.restore(&n.to_string(), holder(Some("u"), "10.0.0.1"));
        }
        assert_eq!(tally.total(), 7);
    }

    #[test]
    fn a_session_that_proves_its_user_after_it_opened_counts_under_that_user() {
        let mut tally = Tally::default();
        tally.admit(&CAPS, "s1", holder(None, "10.0.0.1")).unwrap();
        tally.admit(&CAPS, "s2", holder(None, "10.0.0.2")).unwrap();
        tally.admit(&CAPS, "s3", holder(None, "10.0.0.4")).unwrap();
        tally.add_user(&CAPS, "s1", "cy").unwrap();
        tally.add_user(&CAPS, "s1", "cy").unwrap();
        tally.add_user(&CAPS, "s2", "cy").unwrap();
        let refused = tally.add_user(&CAPS, "s3", "cy").unwrap_err();
        assert_eq!(scope(&refused), "user");
        assert_eq!(tally.held["s3"].user, None, "a refused session counts as it did");
        tally.release("s1");
        tally.add_user(&CAPS, "s3", "cy").unwrap();
        assert_eq!(count(&tally.users, "cy"), 2);
        tally.add_user(&CAPS, "s3", "dee").unwrap();
        assert_eq!((count(&tally.users, "cy"), count(&tally.users, "dee")), (1, 1), "moved, not doubled");
        assert!(tally.add_user(&CAPS, "unknown", "cy").is_ok(), "nothing counted, nothing to do");
    }

    #[test]
    fn addresses_are_counted_by_ipv4_address_and_ipv6_slash_64() {
        assert_eq!(address_key("203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(address_key(" 2001:db8:1:2:aaaa::1 ").as_deref(), Some("2001:db8:1:2::/64"));
        assert_eq!(address_key("2001:db8:1:2:ffff:0:0:9"), address_key("2001:db8:1:2::1"));
        assert_ne!(address_key("2001:db8:1:3::1"), address_key("2001:db8:1:2::1"));
        assert_eq!(address_key("::ffff:203.0.113.9").as_deref(), Some("203.0.113.9"));
        for bad in ["", "localhost", "1.2.3", "300.1.1.1", "1.2.3.4:80", "::g"] {
            assert_eq!(address_key(bad), None, "{bad:?}");
        }
    }
}
