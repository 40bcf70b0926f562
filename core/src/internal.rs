//! How the Worker talks to a room's Durable Object: paths, headers and bodies of the internal
//! requests. Only the Worker can reach an object, and it builds these requests itself (never
//! forwarding a client's headers), so the object trusts them.
//!
//! | internal request         | carries                                                   |
//! |--------------------------|-----------------------------------------------------------|
//! | `GET /connect` (upgrade) | [`USER`], [`EXPIRES`], [`SINCE`]?, [`PROTOCOL`]?, [`DIALECT`]? (`tndata` for a socket that speaks it), [`ADDRESS`]? |
//! | `POST /publish`          | body [`PublishRequest`]                                   |
//! | `GET /messages`          | query `after`, `before`, `limit` (already valid)          |
//! | `GET /presence`          |                                                           |
//! | `GET /tndata/history`    | query `order`, `limit`, `cursor`? (already valid; [`crate::dialect::tndata::HistoryQuery`]) |
//! | `GET /reads`             | answered `{"room", "reads": {user: seq}}`: every user's read mark |
//! | `GET`/`POST /eio?…` (upgrade or not) | the Engine.IO query (`transport`, `sid`?), [`DIALECT`], [`SID`] for a handshake, [`TOKEN`]? when the handshake carried one, [`ANONYMOUS`]? when its route allows it, [`ADDRESS`]?; a POST's payload, or [`OVERSIZE`] and no body |
//! | `POST /members` (home → room) | body [`MemberBatch`]: joins, frames and leaves of remote members, in order |
//! | `POST /deliver` (room → home) | body [`Delivery`]; answered with [`DeliveryAnswer`] |
//! | `POST /notify` (an inbox)     | body [`crate::exchange::NotifyRequest`] ([`NOTIFY`])       |
//! | `POST /jobs/claim`, `/jobs/done`, `/jobs/release` (an inbox) | body [`JobKey`]; a claim is answered [`JobClaim`] |
//! | `GET`/`PUT /inbox/contacts`, `POST /inbox/devices`, `GET /inbox/page`, `POST /inbox/read` (an inbox) | the REST bodies, already valid (`docs/notifications.md`) |
//! | `GET /inbox/devices`, `POST /inbox/devices/remove`, `/inbox/devices/forget`, `/inbox/devices/outcome` (an inbox) | the devices' list, removal by public id, compare-and-delete, last outcome ([`crate::exchange::inbox`]'s `devices.rs`) |
//! | `POST /directory/devices/claim`, `/directory/devices/release` | to a directory shard: the device index ([`crate::exchange::device_owners`]) |
//! | `POST /directory/add`, `GET /directory/page` | to a directory shard (`directory:{n}`): see [`crate::exchange::directory`] |
//! | `POST /dead-letters` (to `deadletters:main`) | body [`DeadLetter`](crate::exchange::dead_letters::DeadLetter): keep it |
//! | `POST /dead-letters/notes` | body [`ReasonNote`](crate::exchange::dead_letters::ReasonNote): why a job's last attempt failed |
//! | `GET /dead-letters` | query `limit`, `cursor`? (already valid); answered with a page of the admin list |
//!
//! Every request to an object carries [`OBJECT`], the name the caller reached it by: the
//! object stores it and knows who it is from then on, however it is woken
//! ([`crate::object`]). A room is the object itself: it knows its id from its name
//! (`room:{id}`). A Socket.IO
//! session's object is its home (`home:{id}`, see [`crate::home`]). Homes and rooms call each
//! other only with `/members` and `/deliver` (DESIGN.md, "Where a connection lives").

pub use crate::exchange::wire::{BreakerAnswer, GoneReport, JobClaim, JobKey, JOB_CLAIM, JOB_DONE, JOB_RELEASE};
pub use crate::room::wire::{Delivery, DeliveryAnswer, DeliveryItem, MemberBatch, MemberCommand, MemberOp};

use crate::ids::User;
use crate::message::Draft;
use serde::{Deserialize, Serialize};

pub const CONNECT: &str = "/connect";
pub const PUBLISH: &str = "/publish";
pub const MESSAGES: &str = "/messages";
pub const PRESENCE: &str = "/presence";
pub const TNDATA_HISTORY: &str = "/tndata/history";
pub const READS: &str = "/reads";
pub const ENGINE: &str = "/eio";
pub const MEMBERS: &str = "/members";
pub const DELIVER: &str = "/deliver";

/// The name the caller reached the object by (`room:{id}`, `home:{id}`, …), on every internal
/// request ([`crate::object`]).
pub const OBJECT: &str = "x-herald-object";

/// The verified user, as ASCII-only JSON (see [`header_json`]).
pub const USER: &str = "x-herald-user";
/// When the session ends: the token's `exp` plus the leeway, in ms since the epoch.
pub const EXPIRES: &str = "x-herald-expires";
/// The resume point of a connect.
pub const SINCE: &str = "x-herald-since";
/// The subprotocol the 101 answer must select.
pub const PROTOCOL: &str = "x-herald-protocol";
/// The client's address, as the connection caps count it
/// ([`crate::connections::address_key`] of the platform's `CF-Connecting-IP`), on a connect
/// and an Engine.IO handshake.
pub const ADDRESS: &str = "x-herald-address";

/// The dialect a new Engine.IO session speaks (its route's); on `/connect`, `tndata` for a
/// socket that speaks tndata rather than the native protocol.
pub const DIALECT: &str = "x-herald-dialect";
/// The sid the Worker chose for a new Engine.IO session (it names the home).
pub const SID: &str = "x-herald-sid";

/// Set on an Engine.IO POST, which then has no body, whose payload was over `maxPayload`: the
/// Worker refused it unread, and the session it was for ends.
pub const OVERSIZE: &str = "x-herald-oversize";

/// The token an Engine.IO handshake carried (`?token=` or `Authorization: Bearer`), for the
/// dialect to check at CONNECT.
pub const TOKEN: &str = "x-herald-token";

/// An inbox takes a notification: body [`crate::exchange::NotifyRequest`]; answered
/// `{id, seq, duplicate?}` (or `{id, scheduled: at}` for a later `send_at`).
pub const NOTIFY: &str = "/notify";

/// An inbox's contacts: `GET` answers them, `PUT` takes a contacts update.
pub const INBOX_CONTACTS: &str = "/inbox/contacts";
/// An inbox keeps a device (`POST`, body [`crate::exchange::requests::Device`], answered
/// `true`), or lists them (`GET`, as the user may see them).
pub const INBOX_DEVICES: &str = "/inbox/devices";
/// The device with a public id goes (body [`crate::exchange::inbox::RemoveDevice`], answered
/// [`crate::exchange::inbox::Deleted`]): the user removed it, logged out on it, or another
/// user subscribed it.
pub const INBOX_DEVICES_REMOVE: &str = "/inbox/devices/remove";
/// A device a provider said is gone goes, if it is still the same (compare-and-delete; body
/// [`crate::exchange::inbox::ForgetDevice`], answered [`crate::exchange::inbox::Deleted`]).
pub const INBOX_DEVICES_FORGET: &str = "/inbox/devices/forget";
/// A device's last provider outcome (body [`crate::exchange::inbox::DeviceOutcome`], answered
/// `{"kept": bool}`).
pub const INBOX_DEVICES_OUTCOME: &str = "/inbox/devices/outcome";
/// A page of an inbox's notifications: query `before`?, `limit`.
pub const INBOX_PAGE: &str = "/inbox/page";
/// An inbox's read mark moves: body `{seq}`.
pub const INBOX_READ: &str = "/inbox/read";
/// An inbox: a push receipt ([`ReceiptCall`]) → `{"seq", "state"}`, how far it got.
pub const INBOX_RECEIPT: &str = "/inbox/receipt";

/// A verified push receipt for notification `seq` (`delivered` or `read`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptCall {
    pub seq: u64,
    pub state: String,
}
/// The dead-letter store's calls, on the object [`DEAD_LETTERS_OBJECT`]
/// (`crate::exchange::dead_letters`).
pub const DEAD_LETTERS: &str = "/dead-letters";
pub const DEAD_LETTER_NOTES: &str = "/dead-letters/notes";
/// The one object that keeps the dead letters.
pub const DEAD_LETTERS_OBJECT: &str = "deadletters:main";
/// The push breaker, kept by the dead-letter store's object ([`GoneReport`] → [`BreakerAnswer`]).
pub const PUSH_BREAKER: &str = "/push/breaker";

/// Set on an Engine.IO handshake whose route lets clients in without a token.
pub const ANONYMOUS: &str = "x-herald-anonymous";

/// A REST publish, validated by the Worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishRequest {
    pub user: User,
    pub draft: Draft,
    /// The socket id (`x-socket-id`) of a connection that must not be sent the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except: Option<String>,
}

/// An internal `GET /connect`, read from its headers ([`USER`], [`EXPIRES`], [`SINCE`]?,
/// [`PROTOCOL`]?, [`ADDRESS`]?, [`DIALECT`]?).
#[derive(Debug, Clone, PartialEq)]
pub struct Connect {
    pub user: User,
    /// When the token stops being valid (ms since the epoch, leeway included).
    pub expires_at: i64,
    pub since: Option<u64>,
    /// The subprotocol the client must see selected in the 101.
    pub protocol: Option<String>,
    pub address: Option<String>,
    /// The socket speaks tndata rather than the native protocol.
    pub tndata: bool,
}

impl Connect {
    /// Reads the headers through `header` (`None` for one the request lacks). The Worker made
    /// them, so a bad one is an internal error, never the client's.
    pub fn from_headers(header: impl Fn(&str) -> Option<String>) -> Result<Self, crate::Error> {
        use crate::Error;
        let user = serde_json::from_str(&header(USER).unwrap_or_default())
            .map_err(|e| Error::internal(format!("internal connect without a valid user: {e}")))?;
        let expires_at = header(EXPIRES)
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| Error::internal("internal connect without a valid expiry"))?;
        let since = header(SINCE)
            .map(|s| s.parse::<u64>().map_err(|_| Error::internal(format!("internal connect with since={s:?}"))))
            .transpose()?;
        let tndata = header(DIALECT).as_deref() == Some("tndata");
        Ok(Self { user, expires_at, since, protocol: header(PROTOCOL), address: header(ADDRESS), tndata })
    }
}

/// JSON that is safe as an HTTP header value: every non-ASCII character is written as a
/// `\uXXXX` escape (header values are byte strings; a name like "Zoë" would not survive).
pub fn header_json<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_string(value).expect("header values serialize");
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    #[test]
    fn a_connect_reads_its_headers_and_refuses_bad_ones_as_internal_errors() {
        let headers = |pairs: Vec<(&'static str, &'static str)>| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        let good = headers(vec![(USER, r#"{"id":"u"}"#), (EXPIRES, "10"), (SINCE, "3"), (DIALECT, "tndata")]);
        let connect = Connect::from_headers(good).unwrap();
        assert_eq!((connect.expires_at, connect.since, connect.tndata), (10, Some(3), true));
        assert_eq!(connect.user.id.as_str(), "u");
        let bad_since = headers(vec![(USER, r#"{"id":"u"}"#), (EXPIRES, "10"), (SINCE, "x")]);
        assert_eq!(Connect::from_headers(bad_since).unwrap_err().code, crate::ErrorCode::Internal);
        assert!(Connect::from_headers(headers(vec![(USER, r#"{"id":"u"}"#)])).is_err(), "no expiry");
        assert!(!Connect::from_headers(headers(vec![(USER, r#"{"id":"u"}"#), (EXPIRES, "1")])).unwrap().tndata);
    }

    #[test]
    fn header_json_is_ascii_and_round_trips() {
        let user = User { id: UserId::parse("zoë").unwrap(), name: Some("Zoë 🎉".into()), avatar: None };
        let text = header_json(&user);
        assert!(text.is_ascii(), "{text}");
        assert_eq!(serde_json::from_str::<User>(&text).unwrap(), user);
    }
}
