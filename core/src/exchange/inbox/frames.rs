//! The room side of a user's inbox (`mod.rs` is the inbox itself), an adapter above the room:
//! the two frames only an inbox's connections may send, on top of the native protocol.
//!
//! - `{"type":"received","seq":N}`: this device has every notification up to N (delivered).
//! - `{"type":"read","seq":N}`: the user read every notification up to N; every connection of
//!   the inbox is told `{"type":"read","seq":N}`.
//!
//! Neither is answered (errors echo `transaction`). Only the inbox's user marks it; in any
//! other room both are unknown frame types, as the native protocol has them.

use super::Inbox;
use crate::error::{Error, ErrorCode};
use crate::ids::ConnId;
use crate::protocol::native::{error_frame, TRANSACTION_MAX};
use crate::room::{Effect, Log, Room};
use crate::store::Sql;
use serde::Deserialize;
use serde_json::Value;

/// A mark frame, decoded.
enum Mark {
    Received(u64),
    Read(u64),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: Option<Value>,
    seq: Option<Value>,
    transaction: Option<Value>,
}

/// The mark `text` asks for, with the transaction to echo; `None` when it is not a mark frame
/// (anything else is the native protocol's to decode, or refuse).
fn decode(text: &str) -> Option<(Result<Mark, Error>, Option<Value>)> {
    let envelope: Envelope = serde_json::from_str(text).ok()?;
    let kind = match envelope.kind.as_ref()?.as_str()? {
        kind @ ("received" | "read") => kind,
        _ => return None,
    };
    let transaction = match envelope.transaction {
        Some(Value::String(t)) if t.len() <= TRANSACTION_MAX => Some(Value::String(t)),
        Some(Value::Number(n)) => Some(Value::Number(n)),
        None | Some(Value::Null) => None,
        // A bad transaction is the native decoder's to report.
        Some(_) => return None,
    };
    let mark = match envelope.seq.as_ref().and_then(Value::as_u64) {
        Some(seq) if kind == "received" => Ok(Mark::Received(seq)),
        Some(seq) => Ok(Mark::Read(seq)),
        None => Err(Error::invalid_field("seq", "must be a whole number")),
    };
    Some((mark, transaction))
}

impl<L: Log> Room<L> {
    /// A text frame on a connection of an inbox: `received` and `read` move the inbox's marks
    /// (with the same expiry, size and rate checks as any frame); everything else is
    /// [`Room::on_frame`]'s.
    pub fn on_inbox_frame<S: Sql + Clone>(
        &mut self,
        now: i64,
        conn: &ConnId,
        text: &str,
        inbox: &mut Inbox<S>,
        fresh_id: impl FnOnce() -> String,
    ) -> Vec<Effect> {
        let decoded = match decode(text) {
            Some(decoded) if text.len() <= self.limits().max_frame_bytes => decoded,
            _ => return self.on_frame(now, conn, text, fresh_id),
        };
        let Some((user, expires_at)) = self.session_of(conn) else { return Vec::new() };
        if now >= expires_at {
            return self.expire(conn);
        }
        let (mark, transaction) = decoded;
        let refuse =
            |error: &Error| vec![Effect::Send { to: conn.clone(), text: error_frame(error, transaction.as_ref()) }];
        let owner = user == inbox.owner();
        if let Err(error) = self.spend(now, conn) {
            return refuse(&error);
        }
        if !owner {
            let error = Error::new(ErrorCode::RoomForbidden, "only the inbox's own user marks its notifications");
            return refuse(&error);
        }
        let marked = match mark {
            Ok(Mark::Received(seq)) if seq > self.last_seq() => Err(Error::invalid_field(
                "seq",
                format!("notification {seq} does not exist; the last one is {}", self.last_seq()),
            )),
            Ok(Mark::Received(seq)) => inbox.received(seq).map(|_| Vec::new()),
            Ok(Mark::Read(seq)) => inbox.read(now, self, seq),
            Err(error) => Err(error),
        };
        marked.unwrap_or_else(|error| refuse(&error))
    }
}
