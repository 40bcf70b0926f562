//! One notification's own acknowledgement, from a push receipt (`push/receipts.rs`): a device
//! showed it (`delivered`) or the user opened it (`read`). The inbox's marks say "every
//! notification up to N"; a push is shown or opened one notification at a time, so these are
//! kept per notification (`inbox_acks`) and count wherever the marks do: the ladder
//! (`policy.rs`), the job claims, a page's `state` and the unread count.

use super::{storage, Inbox};
use crate::error::{Error, ErrorCode};
use crate::exchange::push::receipts::ReceiptState;
use crate::exchange::Told;
use crate::room::{Effect, Log, Room};
use crate::store::{Sql, SqlValue, StoreError};
use serde_json::json;

/// How far a notification got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reached {
    Sent,
    Delivered,
    Read,
}

impl Reached {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
        }
    }
}

impl<S: Sql + Clone> Inbox<S> {
    /// How far notification `seq` got: by the marks, or by its own receipt.
    pub fn reached(&self, seq: u64) -> Result<Reached, StoreError> {
        let by_marks = match seq {
            s if s <= self.read => Reached::Read,
            s if s <= self.delivered => Reached::Delivered,
            _ => Reached::Sent,
        };
        if by_marks == Reached::Read {
            return Ok(by_marks);
        }
        let rows = self.sql.exec("SELECT state FROM inbox_acks WHERE seq = ?", &[SqlValue::Int(seq as i64)])?;
        let own = match rows.first().and_then(|r| r.first()).and_then(SqlValue::text) {
            Some("read") => Reached::Read,
            Some(_) => Reached::Delivered,
            None => Reached::Sent,
        };
        Ok(by_marks.max(own))
    }

    /// A push receipt for notification `seq`, at `now`: `delivered` stops further pushes (and,
    /// for high urgency, the SMS and email); `read` stops every step not yet taken, is told to
    /// every connection as `{"type":"read_one","seq":N}`, and by a push to the phones the
    /// notification was pushed to (`told.rs`). A receipt repeated, or weaker than what is known,
    /// changes nothing.
    pub fn receipt<L: Log>(
        &mut self,
        now: i64,
        room: &Room<L>,
        seq: u64,
        state: ReceiptState,
    ) -> Result<Vec<Effect>, Error> {
        // A notification past retention is no longer kept (`planned` reads its note).
        if seq == 0 || seq > room.last_seq() || !self.planned(seq).map_err(storage)? {
            let message = format!("notification {seq} does not exist in this inbox");
            return Err(Error::new(ErrorCode::NotFound, message));
        }
        let now_reached = self.reached(seq).map_err(storage)?;
        let wanted = match state {
            ReceiptState::Delivered => Reached::Delivered,
            ReceiptState::Read => Reached::Read,
        };
        if now_reached >= wanted {
            return Ok(Vec::new());
        }
        let seq_value = SqlValue::Int(seq as i64);
        self.sql
            .exec(
                "INSERT OR REPLACE INTO inbox_acks (seq, state) VALUES (?, ?)",
                &[seq_value.clone(), SqlValue::Text(state.as_str().into())],
            )
            .map_err(storage)?;
        match state {
            ReceiptState::Delivered => {
                self.sql
                    .exec("DELETE FROM inbox_due WHERE seq = ? AND channel = 'push'", &[seq_value])
                    .map_err(storage)?;
                Ok(Vec::new())
            }
            ReceiptState::Read => {
                self.sql.exec("DELETE FROM inbox_due WHERE seq = ?", &[seq_value]).map_err(storage)?;
                // After the receipt is kept: a phone is never told of a read that was not.
                let tell = self.plan_told(now, Told::ReadOne, seq - 1, seq).map_err(storage)?;
                let text = json!({ "type": "read_one", "seq": seq }).to_string();
                let mut effects = vec![Effect::Broadcast { text, except: None }];
                if tell {
                    effects.push(Effect::SetAlarm { at: now + super::TELL_AFTER_MS });
                }
                Ok(effects)
            }
        }
    }
}
