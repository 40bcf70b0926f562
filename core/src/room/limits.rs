//! What protects a room and its members ([`Limits`]), and how much of its log is kept
//! ([`Retention`]): the room's settings, which the configuration reads.

/// Limits that protect a room and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest websocket frame and REST body, in bytes. A bigger frame closes the socket with
    /// 1009; a bigger body is refused with 413.
    pub max_frame_bytes: usize,
    /// Sustained publishes per second one connection may send.
    pub messages_per_second: u32,
    /// Publishes one connection may send in a burst above the sustained rate.
    pub message_burst: u32,
    /// Open websockets one room accepts.
    pub max_connections_per_room: usize,
    /// Connections (websockets and Socket.IO sessions) one user may hold in this process.
    pub max_connections_per_user: usize,
    /// Connections one client address (an IPv6 /64) may hold in this process.
    pub max_connections_per_address: usize,
    /// Connections this process holds in all; 0 is no cap.
    pub max_connections: usize,
    /// Bytes sent to a connection since its last sign of life past which it is closed as a
    /// slow consumer ([`crate::backlog`]).
    pub max_backlog_bytes: usize,
    /// Bytes of messages sent in one batch: a resume's replay, a history page. The first
    /// message always goes, whatever its size.
    pub max_batch_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            messages_per_second: 50,
            message_burst: 100,
            max_connections_per_room: 10_000,
            max_connections_per_user: 100,
            max_connections_per_address: 1_000,
            max_connections: 0,
            max_backlog_bytes: crate::backlog::DEFAULT_MAX_BYTES,
            max_batch_bytes: 1024 * 1024,
        }
    }
}

/// How much of a room's log is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Messages kept per room; older ones are dropped.
    pub max_messages: u64,
    /// Age past which messages are dropped, in milliseconds.
    pub max_age_ms: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Self { max_messages: 10_000, max_age_ms: 7 * 24 * 3600 * 1000 }
    }
}
