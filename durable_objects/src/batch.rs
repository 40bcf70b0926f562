//! Group commit: the frames a room receives close together are handled together, so that one
//! SQLite commit makes all of them durable.
//!
//! Every event that writes to a Durable Object's SQLite ends in a commit of its own, and the
//! runtime's output gate holds the event's sends until that commit is done. Under load the
//! commit, not the room's work, is what costs: measured in workerd, a JavaScript room that
//! inserts one row per message carries about half the deliveries per second of one that only
//! forwards (BENCHMARKS.md, "Where the time goes").
//!
//! So a frame is not handled in its own event. The first frame of a batch queues itself and
//! waits one turn of the event loop ([`gather`]); frames arriving meanwhile queue behind it and
//! return at once. Then the first frame's event handles the whole queue in arrival order,
//! without an `.await`: one commit, one release of the output gate for every ack and delivery
//! of the batch. An idle room's batch is one frame, handled one timer turn later.
//!
//! Nothing is acknowledged or delivered before its write is durable, as before: the sends of a
//! batch are held until the batch's commit. Order is kept across events: any other event that
//! reaches the room through `room.rs`'s `with_room` (a close, a join, a REST publish, the alarm)
//! first handles the frames queued before it.

use std::cell::{Cell, RefCell};
use std::time::Duration;
use worker::{WebSocket, WebSocketIncomingMessage};

/// The frames received and not handled yet.
#[derive(Default)]
pub struct Batch {
    frames: RefCell<Vec<(WebSocket, WebSocketIncomingMessage)>>,
    /// Whether an event is waiting to handle the queue (the batch's first).
    open: Cell<bool>,
}

impl Batch {
    /// Queues a frame. True when it is the first of a batch: its event must [`gather`], then
    /// handle the queue; otherwise that event is already waiting and will handle this frame.
    pub fn push(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> bool {
        self.frames.borrow_mut().push((ws, message));
        !self.open.replace(true)
    }

    /// The queued frames, oldest first; the next frame starts a new batch.
    pub fn take(&self) -> Vec<(WebSocket, WebSocketIncomingMessage)> {
        self.open.set(false);
        std::mem::take(&mut *self.frames.borrow_mut())
    }
}

/// Lets the runtime deliver the frames that arrived meanwhile: one timer turn, which opens the
/// input gate (a promise already resolved would not).
pub async fn gather() {
    worker::Delay::from(Duration::ZERO).await;
}
