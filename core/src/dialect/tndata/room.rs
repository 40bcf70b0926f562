//! The room side of tndata conversations (`mod.rs` is the translation), an adapter above the
//! room: frames from sockets that speak tndata, and history pages with read flags.
//!
//! What the room sends a tndata socket is the same native frame every connection gets; the
//! shell passes it through [`super::Translation`] on the way out.

use super::{self as tndata, ClientCommand, HistoryQuery, Order, Receipt};
use crate::error::Error;
use crate::ids::ConnId;
use crate::protocol::native::error_frame;
use crate::room::{Effect, Log, ReadMarks, Room};
use crate::store::Sql;

impl<L: Log> Room<L> {
    /// A text frame from a socket that speaks tndata. A chat message is published as the
    /// socket's own native `publish` (limits, order and log as for any publish); a receipt
    /// moves the user's read mark; anything else is refused with an `error` frame, the socket
    /// staying open.
    pub fn on_tndata_frame<S: Sql>(
        &mut self,
        now: i64,
        conn: &ConnId,
        text: &str,
        marks: &mut ReadMarks<S>,
        fresh_id: impl FnOnce() -> String,
    ) -> Vec<Effect> {
        let Some((user, expires_at)) = self.session_of(conn) else { return Vec::new() };
        let user = user.clone();
        if now >= expires_at {
            return self.expire(conn);
        }
        if text.len() > self.limits().max_frame_bytes {
            return self.too_big(conn, text.len());
        }
        let command = tndata::decode(self.id(), &user, text);
        if let Ok(ClientCommand::Publish(frame)) = command {
            return self.on_frame(now, conn, &frame, fresh_id);
        }
        let refuse = |error: &Error| vec![Effect::Send { to: conn.clone(), text: error_frame(error, None) }];
        // Receipts and refusals draw on the connection's rate as publishes do (in `on_frame`).
        if let Err(error) = self.spend(now, conn) {
            return refuse(&error);
        }
        match command {
            Ok(ClientCommand::Received(Receipt::Message(seq))) if seq > self.last_seq() => {
                refuse(&Error::invalid_field("received", "names a message this conversation does not have"))
            }
            Ok(ClientCommand::Received(Receipt::Message(seq))) => match self.mark_read(marks, &user, seq) {
                Ok(_) => Vec::new(),
                Err(error) => refuse(&error),
            },
            Ok(ClientCommand::Received(Receipt::System)) => Vec::new(),
            Ok(ClientCommand::Publish(_)) => unreachable!("published above"),
            Err(error) => refuse(&error),
        }
    }

    /// A page of the conversation as `{"results": [..], "next": ..}`: the messages in the
    /// query's order, each in the websocket's shape with its read flag (see
    /// [`tndata::history_item`]), at most `limit` of them and, past the first,
    /// `max_batch_bytes` of stored frames.
    pub fn tndata_history<S: Sql>(
        &mut self,
        now: i64,
        query: HistoryQuery,
        marks: &ReadMarks<S>,
    ) -> Result<String, Error> {
        let storage = |e| Error::internal(format!("could not read the room's log: {e}"));
        let (floor, min_ts) = self.window(now);
        let end = self.last_seq() + 1;
        let max_bytes = self.limits().max_batch_bytes;
        let (entries, more) = match query.order {
            Order::OldestFirst => {
                let after = query.cursor.unwrap_or(0).max(floor);
                self.collect(after, end, min_ts, query.limit, max_bytes).map_err(storage)?
            }
            Order::NewestFirst => {
                // Seqs are contiguous and retention drops a prefix, so the newest `limit`
                // below `before` are the seqs just under it; one more tells whether older
                // ones remain.
                let before = query.cursor.unwrap_or(end).min(end);
                let after = before.saturating_sub(query.limit as u64 + 2).max(floor);
                let (mut entries, _) = self.collect(after, before, min_ts, usize::MAX, usize::MAX).map_err(storage)?;
                entries.reverse();
                let mut more = entries.len() > query.limit;
                entries.truncate(query.limit);
                let mut bytes = 0;
                let fits = entries
                    .iter()
                    .enumerate()
                    .take_while(|(i, e)| {
                        bytes += e.frame.len();
                        *i == 0 || bytes <= max_bytes
                    })
                    .count();
                more |= fits < entries.len();
                entries.truncate(fits);
                (entries, more)
            }
        };
        let next = if more { entries.last().map(|e| e.seq) } else { None };
        let items = entries
            .iter()
            .filter_map(|e| tndata::history_item(self.id(), &e.frame, |user, seq| marks.has_read(user, seq)))
            .collect();
        Ok(tndata::page_json(items, next))
    }
}
