//! Every refusal Herald gives: a stable code, a message a person can act on, optional details.
//!
//! The code is the contract (clients switch on it); the message may change. Each code maps once
//! to an HTTP status ([`ErrorCode::http_status`]); the few that end a websocket map to a close
//! code in [`close`]. `docs/errors.md` lists them all.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// The stable identifier of an error, sent as `code` in every error body and frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No token in `Authorization: Bearer`, `?token=` or `Sec-WebSocket-Protocol`.
    TokenMissing,
    /// The token is malformed, signed with a key or algorithm we do not accept, or its claims
    /// are wrong (missing `sub` or `exp`, wrong `iss` / `aud`).
    TokenInvalid,
    /// `exp` is in the past (beyond the leeway).
    TokenExpired,
    /// `nbf` is in the future (beyond the leeway).
    TokenNotYetValid,
    /// The token's `rooms` claim does not cover this room.
    RoomForbidden,
    /// The call needs a token with `role: "admin"`.
    AdminRequired,
    /// A cookie sent from a web page whose origin is not in `ALLOWED_ORIGINS` (or
    /// `Origin: null`); a preflight from such a page.
    OriginForbidden,
    /// A room id that breaks the documented rules.
    InvalidRoomId,
    /// A body or frame that is not JSON.
    MalformedJson,
    /// JSON of the wrong shape: a missing field, a wrong type, a value out of range.
    InvalidField,
    /// A frame whose `type` Herald does not know.
    UnknownType,
    /// A request body over the configured limit.
    PayloadTooLarge,
    /// A websocket frame over the configured limit (the socket is closed with 1009).
    FrameTooLarge,
    /// More messages per second than this connection may send.
    RateLimited,
    /// The connection was sent more than `MAX_BACKLOG_BYTES` since its last sign of life: the
    /// client stopped reading (the socket is closed with 4003; resume with `since`).
    SlowConsumer,
    /// The room already holds its maximum number of connections.
    RoomFull,
    /// The user, the client's address or the server already holds its most connections
    /// (`details.scope`, `details.limit`).
    TooManyConnections,
    /// A resume point (`since`) beyond the room's last message.
    SinceAhead,
    /// A Socket.IO `join` of a room the connection is already in.
    AlreadyJoined,
    /// A Socket.IO `publish` or `leave` in a room the connection is not in (or no longer is).
    NotJoined,
    /// A tndata conversation (`/chat/{user}/`) with the token's own user.
    ChatWithSelf,
    /// An event that needs an authenticated connection before the dialect's own `auth` event
    /// succeeded (the workspace dialect).
    NotAuthenticated,
    /// A route that does not exist.
    NotFound,
    /// A route that exists, with another method.
    MethodNotAllowed,
    /// A websocket route reached without `Upgrade: websocket`.
    UpgradeRequired,
    /// An Engine.IO request without `EIO=4`.
    UnsupportedProtocol,
    /// An Engine.IO request whose `transport` is not `polling` or `websocket`.
    UnknownTransport,
    /// An Engine.IO request for a session that does not exist (any more).
    UnknownSession,
    /// An Engine.IO request the protocol forbids: a handshake by POST, a second GET or POST
    /// at once, a payload that does not decode (the session is closed).
    BadRequest,
    /// Some recipients' inboxes did not take a multicast (`details.uids` names them); the
    /// others did. Retrying with the same idempotency key is safe.
    Undelivered,
    /// A send with a later `send_at` to an inbox that already holds its most scheduled sends.
    TooManyScheduled,
    /// A push receipt whose credential is malformed or not signed by this deployment.
    ReceiptInvalid,
    /// A push receipt whose credential outlived its notification's ttl.
    ReceiptExpired,
    /// A push receipt sent with a token of another user than the one it acknowledges for.
    ReceiptForbidden,
    /// A push provider this deployment has no credentials for (the message says which).
    PushUnavailable,
    /// The deployment's configuration is invalid; the message names the variable.
    ConfigInvalid,
    /// Something failed inside Herald; retrying may help.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenMissing => "token_missing",
            Self::TokenInvalid => "token_invalid",
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::RoomForbidden => "room_forbidden",
            Self::AdminRequired => "admin_required",
            Self::OriginForbidden => "origin_forbidden",
            Self::InvalidRoomId => "invalid_room_id",
            Self::MalformedJson => "malformed_json",
            Self::InvalidField => "invalid_field",
            Self::UnknownType => "unknown_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::FrameTooLarge => "frame_too_large",
            Self::RateLimited => "rate_limited",
            Self::SlowConsumer => "slow_consumer",
            Self::RoomFull => "room_full",
            Self::TooManyConnections => "too_many_connections",
            Self::SinceAhead => "since_ahead",
            Self::AlreadyJoined => "already_joined",
            Self::NotJoined => "not_joined",
            Self::ChatWithSelf => "chat_with_self",
            Self::NotAuthenticated => "not_authenticated",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UpgradeRequired => "upgrade_required",
            Self::UnsupportedProtocol => "unsupported_protocol",
            Self::UnknownTransport => "unknown_transport",
            Self::UnknownSession => "unknown_session",
            Self::BadRequest => "bad_request",
            Self::Undelivered => "undelivered",
            Self::TooManyScheduled => "too_many_scheduled",
            Self::ReceiptInvalid => "receipt_invalid",
            Self::ReceiptExpired => "receipt_expired",
            Self::ReceiptForbidden => "receipt_forbidden",
            Self::PushUnavailable => "push_unavailable",
            Self::ConfigInvalid => "config_invalid",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status a REST answer (or a refused upgrade) carries for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::TokenMissing | Self::TokenInvalid | Self::TokenExpired | Self::TokenNotYetValid => 401,
            Self::NotAuthenticated | Self::ReceiptInvalid | Self::ReceiptExpired => 401,
            Self::RoomForbidden | Self::AdminRequired | Self::OriginForbidden | Self::ReceiptForbidden => 403,
            Self::InvalidRoomId | Self::MalformedJson | Self::InvalidField | Self::UnknownType => 400,
            Self::SinceAhead | Self::AlreadyJoined | Self::NotJoined | Self::ChatWithSelf => 400,
            Self::UnsupportedProtocol | Self::UnknownTransport | Self::UnknownSession | Self::BadRequest => 400,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge | Self::FrameTooLarge => 413,
            Self::UpgradeRequired => 426,
            Self::RateLimited | Self::TooManyScheduled | Self::TooManyConnections | Self::SlowConsumer => 429,
            Self::RoomFull | Self::Undelivered | Self::PushUnavailable => 503,
            Self::ConfigInvalid | Self::Internal => 500,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A coded error: what goes out as `{code, message, details?}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// A field of a JSON body or frame is missing or has the wrong shape.
    pub fn invalid_field(field: &str, problem: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidField, format!("`{field}` {problem}"))
            .with_details(serde_json::json!({ "field": field }))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// The JSON body of a REST refusal: `{"code": ..., "message": ..., "details"?: ...}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an error always serializes")
    }
}

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("code", &self.code)?;
        map.serialize_entry("message", &self.message)?;
        if let Some(details) = &self.details {
            map.serialize_entry("details", details)?;
        }
        map.end()
    }
}

/// Websocket close codes Herald uses, in two documented ranges.
///
/// - Standard codes: `1000` normal, `1009` a frame over the size limit (the frame was refused;
///   reconnecting is fine), `1011` an internal error (reconnect with backoff).
/// - `4000..=4499`: something transient; **reconnect** with backoff (and `since` to resume).
/// - `4500..=4999`: the connection cannot work as asked; **do not reconnect** until something
///   changes (a new token, a different resume point).
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
    /// The room is at its connection limit; try again later.
    pub const ROOM_FULL: u16 = 4001;
    /// The client was sent more than the slow-consumer bound since its last sign of life:
    /// reconnect and resume with `since` (and ping while receiving a lot).
    pub const SLOW_CONSUMER: u16 = 4003;
    /// `since` is beyond the room's last message: the client's idea of the room is not the
    /// room's (its storage was reset, or the client mixed up rooms). Resync without `since`.
    pub const SINCE_AHEAD: u16 = 4500;
    /// The token the connection opened with has expired: reconnect with a new token.
    pub const TOKEN_EXPIRED: u16 = 4501;

    /// Whether a client should reconnect after this close code.
    pub fn should_reconnect(code: u16) -> bool {
        !(4500..=4999).contains(&code)
    }

    /// The code to answer a client's close with: its own, unless it is one that must not be
    /// sent on the wire (1005 "no status", 1006 "abnormal", 1015 "TLS"; RFC 6455 §7.4.1).
    pub fn answer(code: usize) -> u16 {
        match u16::try_from(code) {
            Ok(c @ (1000..=1003 | 1007..=1014 | 3000..=4999)) => c,
            _ => NORMAL,
        }
    }
}
