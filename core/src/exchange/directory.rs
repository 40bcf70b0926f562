//! The user directory: every user Herald knows, so that a broadcast can reach them all
//! (docs/notifications.md, "Broadcast at scale").
//!
//! Users are spread over `DIRECTORY_SHARDS` Durable Objects named `directory:{n}`, where `n` is
//! [`shard_of`] the user: the 64-bit FNV-1a hash of the id's UTF-8 bytes modulo the shard
//! count. The hash is part of the stored data's meaning (a user is looked for in one shard
//! only), so it never changes; changing the shard count moves users, see the doc.
//!
//! A shard keeps its users in SQLite ([`DirectoryRows`]: `directory_users`, one row per user
//! with the time Herald first saw them), adds them idempotently and lists them in id order, a
//! page at a time. Its two internal routes (the Worker's calls, like [`crate::internal`]'s):
//!
//! | internal request | carries | answered |
//! |---|---|---|
//! | `POST /directory/add` | body [`AddRequest`] | [`AddAnswer`]: how many were new |
//! | `GET /directory/page` | query `after`?, `limit`? ([`PageQuery`]) | [`Page`] |

use crate::error::Error;
use crate::ids::UserId;
use crate::store::{Sql, SqlValue, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const ADD: &str = "/directory/add";
pub const PAGE: &str = "/directory/page";
/// Every internal route of a shard starts with this.
pub const ROUTES: &str = "/directory/";

/// Users per page when none is asked for, and the most a page holds.
pub const PAGE_SIZE: usize = 1000;
/// The most users one `add` takes (a multicast's recipients, at most).
pub const ADD_MAX: usize = 1000;

/// 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3): small, fast, spreads
/// short ids well, and the same on every platform and version, which a stored layout needs.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The shard that holds `user`, among `shards` (at least 1).
pub fn shard_of(user: &UserId, shards: u32) -> u32 {
    (fnv1a(user.as_str().as_bytes()) % u64::from(shards.max(1))) as u32
}

/// The name of shard `n`'s object.
pub fn object_name(shard: u32) -> String {
    format!("directory:{shard}")
}

/// The shard an object's name makes it, if it is a shard's.
pub fn shard_from_object_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("directory:")?;
    let shard: u32 = digits.parse().ok()?;
    // One spelling per shard: `directory:012` or `directory:+1` name no shard.
    (shard.to_string() == digits).then_some(shard)
}

/// `users` grouped by their shard (in id order within each, duplicates dropped): one `add` per
/// shard touched.
pub fn by_shard(users: &[UserId], shards: u32) -> BTreeMap<u32, Vec<UserId>> {
    let mut groups: BTreeMap<u32, Vec<UserId>> = BTreeMap::new();
    for user in users {
        groups.entry(shard_of(user, shards)).or_default().push(user.clone());
    }
    for group in groups.values_mut() {
        group.sort();
        group.dedup();
    }
    groups
}

/// `POST /directory/add`: users to know from now on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddRequest {
    pub users: Vec<UserId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddAnswer {
    /// How many of the users were new to the shard.
    pub added: usize,
}

/// `GET /directory/page`: up to `limit` users whose id sorts after `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    pub after: Option<String>,
    pub limit: usize,
}

impl PageQuery {
    /// From the query's `after` (a user id; the start when absent) and `limit` (1 to
    /// [`PAGE_SIZE`], which is the default).
    pub fn parse(after: Option<&str>, limit: Option<&str>) -> Result<Self, Error> {
        let limit = match limit {
            None => PAGE_SIZE,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=PAGE_SIZE).contains(n))
                .ok_or_else(|| Error::invalid_field("limit", format!("must be 1 to {PAGE_SIZE}, not {raw:?}")))?,
        };
        let after = after
            .map(|raw| UserId::parse(raw).map(|_| raw.to_owned()).map_err(|why| Error::invalid_field("after", why)))
            .transpose()?;
        Ok(Self { after, limit })
    }

    /// The internal path and query of this page.
    pub fn path(&self) -> String {
        let mut path = format!("{PAGE}?limit={}", self.limit);
        if let Some(after) = &self.after {
            path.push_str("&after=");
            path.push_str(&percent_encode(after));
        }
        path
    }
}

/// A page of a shard's users in id order; `next` is where the following page starts (the
/// last id here) when this one is full, `None` when the shard has no more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub users: Vec<UserId>,
    pub next: Option<String>,
}

/// One shard's users in its SQLite: `directory_users (user PRIMARY KEY, first_seen)`.
pub struct DirectoryRows<S: Sql> {
    sql: S,
}

impl<S: Sql> DirectoryRows<S> {
    /// Opens the table, creating it when it does not exist.
    pub fn open(sql: S) -> Result<Self, StoreError> {
        sql.exec(
            "CREATE TABLE IF NOT EXISTS directory_users (user TEXT PRIMARY KEY, first_seen INTEGER NOT NULL)",
            &[],
        )?;
        Ok(Self { sql })
    }

    /// Knows `users` from now on (`now` is kept as when each was first seen); users already
    /// known are left as they are. How many were new.
    pub fn add(&self, users: &[UserId], now: i64) -> Result<usize, StoreError> {
        let mut added = 0;
        for user in users {
            let params = [SqlValue::Text(user.as_str().to_owned()), SqlValue::Int(now)];
            let rows = self.sql.exec(
                "INSERT OR IGNORE INTO directory_users (user, first_seen) VALUES (?, ?) RETURNING user",
                &params,
            )?;
            added += rows.len();
        }
        Ok(added)
    }

    /// The page `query` asks for. Ids compare as UTF-8 bytes (SQLite's BINARY collation), the
    /// same order every time, so a walk from page to page sees every user present throughout.
    pub fn page(&self, query: &PageQuery) -> Result<Page, StoreError> {
        let after = query.after.clone().unwrap_or_default();
        let rows = self.sql.exec(
            "SELECT user FROM directory_users WHERE user > ? ORDER BY user LIMIT ?",
            &[SqlValue::Text(after), SqlValue::Int(query.limit as i64)],
        )?;
        let users = rows
            .into_iter()
            .map(|row| match row.as_slice() {
                [SqlValue::Text(user)] => {
                    UserId::parse(user).map_err(|why| StoreError(format!("a directory row's user id {why}")))
                }
                _ => Err(StoreError("a directory row has the wrong columns".into())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = (users.len() == query.limit).then(|| users.last().map(|u| u.as_str().to_owned())).flatten();
        Ok(Page { users, next })
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3), for a query value.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_users_shard_never_changes() {
        // Pinned: a different answer here would lose every stored user to the wrong shard.
        assert_eq!(shard_of(&user("alice"), 64), 7);
        assert_eq!(shard_of(&user("bob"), 64), 20);
        assert_eq!(shard_of(&user("00000000-0000-0000-0000-000000000000"), 64), 49);
        assert_eq!(shard_of(&user("zoë"), 64), 28);
        assert_eq!(shard_of(&user("alice"), 4), 3);
        assert_eq!(shard_of(&user("alice"), 1), 0);
    }

    #[test]
    fn users_spread_over_every_shard() {
        let mut counts = [0usize; 64];
        for n in 0..64_000 {
            counts[shard_of(&user(&format!("user-{n}")), 64) as usize] += 1;
        }
        // 1000 each on average; none starved or flooded.
        assert!(counts.iter().all(|&c| (850..=1150).contains(&c)), "{counts:?}");
    }

    #[test]
    fn shard_names_round_trip_and_nothing_else_is_a_shard() {
        assert_eq!(object_name(12), "directory:12");
        assert_eq!(shard_from_object_name("directory:12"), Some(12));
        for other in ["directory:", "directory:x", "directory:012", "directory:+1", "room:directory:1", "home:1"] {
            assert_eq!(shard_from_object_name(other), None, "{other}");
        }
    }

    #[test]
    fn users_are_grouped_by_shard_without_duplicates() {
        let users = [user("alice"), user("bob"), user("alice"), user("a")];
        let groups = by_shard(&users, 64);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[&7], vec![user("alice")]);
        assert_eq!(groups[&20], vec![user("bob")]);
        assert_eq!(groups[&12], vec![user("a")]);
    }

    #[test]
    fn a_page_query_is_checked_and_encodes_its_cursor() {
        assert_eq!(PageQuery::parse(None, None).unwrap(), PageQuery { after: None, limit: PAGE_SIZE });
        let query = PageQuery::parse(Some("zoë &x"), Some("10")).unwrap();
        assert_eq!(query.path(), "/directory/page?limit=10&after=zo%C3%AB%20%26x");
        for (after, limit, field) in
            [(None, Some("0"), "limit"), (None, Some("1001"), "limit"), (Some(""), None, "after")]
        {
            assert_eq!(PageQuery::parse(after, limit).unwrap_err().details.unwrap()["field"], field);
        }
    }
}
