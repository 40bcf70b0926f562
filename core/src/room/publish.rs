//! Frames from a connection, and publishing: the room's order, its log and idempotency.

use super::{Ack, Effect, Entry, Log, Room};
use crate::error::{close, Error, ErrorCode};
use crate::ids::{ConnId, User};
use crate::message::Draft;
use crate::protocol::native::{self, error_frame, Command, ServerFrame};
use crate::store::StoreError;

/// Storage is pruned of what retention dropped when a seq is a multiple of this: every 64th
/// message, whatever the wakes in between. Reads apply retention exactly, so pruning can lag.
const PRUNE_EVERY: u64 = 64;

impl<L: Log> Room<L> {
    /// A text frame arrives on `conn`. `fresh_id` names a message published without an id.
    pub fn on_frame(&mut self, now: i64, conn: &ConnId, text: &str, fresh_id: impl FnOnce() -> String) -> Vec<Effect> {
        let Some(state) = self.conns.get_mut(conn) else {
            // A socket the room refused or already ended; its close is under way.
            return Vec::new();
        };
        if now >= state.expires_at {
            return self.expire(conn);
        }
        if text.len() > self.limits.max_frame_bytes {
            return self.too_big(conn, text.len());
        }
        let decoded = native::decode(text);
        let transaction = match &decoded {
            Ok(frame) => frame.transaction.clone(),
            Err(e) => e.transaction.clone(),
        };
        let send = |text: String| vec![Effect::Send { to: conn.clone(), text }];
        if let Err(error) = self.spend(now, conn) {
            return send(error_frame(&error, transaction.as_ref()));
        }
        let state = self.conns.get_mut(conn).expect("found above");
        let frame = match decoded {
            Ok(frame) => frame,
            Err(e) => return send(error_frame(&e.error, e.transaction.as_ref())),
        };
        match frame.command {
            Command::Ping => send(ServerFrame::Pong { transaction: transaction.as_ref() }.encode()),
            Command::Status(status) => self.set_status(conn, status),
            Command::Focus(focus) => self.set_focus(conn, focus),
            Command::Publish(draft) => {
                let from = state.profile.clone();
                match self.commit(now, &from, draft, fresh_id) {
                    Ok((ack, message)) => {
                        let ack_frame = ServerFrame::Ack {
                            id: &ack.id,
                            seq: ack.seq,
                            duplicate: ack.duplicate,
                            transaction: transaction.as_ref(),
                        };
                        let mut effects = send(ack_frame.encode());
                        effects.extend(message.map(|text| Effect::Broadcast { text, except: None }));
                        effects
                    }
                    Err(error) => send(error_frame(&error, transaction.as_ref())),
                }
            }
        }
    }

    /// Takes one frame from `conn`'s rate (every frame a connection sends counts, publishes,
    /// marks and refusals alike); the refusal when none is left.
    pub(crate) fn spend(&mut self, now: i64, conn: &ConnId) -> Result<(), Error> {
        let Some(state) = self.conns.get_mut(conn) else { return Ok(()) };
        state.bucket.take(now).map_err(|wait_ms| {
            Error::new(
                ErrorCode::RateLimited,
                format!("more than {} frames per second; this one was not processed", self.limits.messages_per_second),
            )
            .with_details(serde_json::json!({ "retry_after_ms": wait_ms }))
        })
    }

    /// A binary frame arrives: the native protocol is JSON text only.
    pub fn on_binary(&mut self, conn: &ConnId, len: usize) -> Vec<Effect> {
        if !self.conns.contains_key(conn) {
            return Vec::new();
        }
        if len > self.limits.max_frame_bytes {
            return self.too_big(conn, len);
        }
        let error =
            Error::new(ErrorCode::InvalidField, "binary frames are not part of the native protocol; send JSON text");
        vec![Effect::Send { to: conn.clone(), text: error_frame(&error, None) }]
    }

    /// Refuses the frame and ends the connection (close 1009).
    pub(crate) fn too_big(&mut self, conn: &ConnId, len: usize) -> Vec<Effect> {
        let error = Error::new(
            ErrorCode::FrameTooLarge,
            format!("a {len}-byte frame is over the {}-byte limit", self.limits.max_frame_bytes),
        );
        self.end(conn, &error, close::MESSAGE_TOO_BIG)
    }

    /// A REST publish by `from`: the same order, log and idempotency as a websocket publish.
    /// The connection tagged `except` (a Socket.IO socket id the caller named) is not sent
    /// the message; an unknown tag excludes nobody.
    pub fn publish(
        &mut self,
        now: i64,
        from: &User,
        draft: Draft,
        except: Option<&str>,
        fresh_id: impl FnOnce() -> String,
    ) -> Result<(Ack, Vec<Effect>), Error> {
        let (ack, message) = self.commit(now, from, draft, fresh_id)?;
        let except = except.and_then(|tag| self.tagged(tag)).cloned();
        Ok((ack, message.map(|text| Effect::Broadcast { text, except }).into_iter().collect()))
    }

    /// Gives the draft its seq and stores it, or finds the first publish of its key. Returns
    /// the ack and, for a new message, the `message` frame to broadcast.
    fn commit(
        &mut self,
        now: i64,
        from: &User,
        draft: Draft,
        fresh_id: impl FnOnce() -> String,
    ) -> Result<(Ack, Option<String>), Error> {
        let storage = |e: StoreError| Error::internal(format!("the message was not published: {e}"));
        if let Some(key) = &draft.key {
            if let Some(seq) = self.log.find(from.id.as_str(), key).map_err(storage)? {
                return Ok((Ack { id: key.clone(), seq, duplicate: true }, None));
            }
        }
        let id = draft.key.unwrap_or_else(fresh_id);
        let seq = self.last_seq + 1;
        let ts = now.max(self.last_ts);
        let frame =
            ServerFrame::Message { room: &self.id, seq, id: &id, event: &draft.event, data: &draft.data, from, ts }
                .encode();
        let entry = Entry { seq, id, publisher: from.id.as_str().to_owned(), ts, frame };
        self.log.append(&entry).map_err(storage)?;
        self.last_seq = seq;
        self.last_ts = ts;
        if seq.is_multiple_of(PRUNE_EVERY) {
            let (floor, min_ts) = self.window(now);
            // A failed prune only keeps old messages longer; reads apply retention anyway.
            let _ = self.log.prune(floor + 1, min_ts);
        }
        Ok((Ack { id: entry.id, seq, duplicate: false }, Some(entry.frame)))
    }
}
