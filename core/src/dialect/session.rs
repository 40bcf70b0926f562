//! What every Socket.IO dialect's session needs: who the client is, and emitting events.

use super::rooms::Message;
use super::Effect;
use crate::auth::{Identity, Verifier};
use crate::connections::Caps;
use crate::engineio::Payload;
use crate::error::{Error, ErrorCode};
use crate::ids::{User, UserId};
use crate::socketio::connection::Connection;
use crate::socketio::packet::RESERVED_EVENTS;
use serde_json::{json, Value};

/// The only namespace of the seed dialects and of `native`.
pub const NSP: &str = "/";

/// How long an anonymous session may stay in a room (it has no token to run out): 30 days.
pub const ANONYMOUS_SESSION_MS: i64 = 30 * 24 * 3600 * 1000;

/// How sessions prove who they are: the deployment's verifier; the token the handshake
/// request carried (`?token=`, `Authorization: Bearer`, or the route's cookie), checked by the
/// dialect like a token in the CONNECT auth payload, which wins when both are given; and
/// whether the route lets clients in without any token.
#[derive(Debug, Clone)]
pub struct Auth {
    pub verifier: &'static Verifier,
    pub handshake_token: Option<String>,
    pub anonymous: bool,
    /// How the session is counted under the user it proves to be, against the per-user
    /// connection cap ([`crate::connections`]); `None` counts nothing.
    pub counted: Option<UserCount>,
}

/// Counts session `key` under a user: `count(caps, key, user)` answers `too_many_connections`
/// when the user holds its most connections (the home's process keeps the count).
#[derive(Debug, Clone)]
pub struct UserCount {
    pub key: String,
    pub caps: Caps,
    pub count: fn(&Caps, &str, &str) -> Result<(), Error>,
}

impl Auth {
    /// Only a verifier: no handshake token, no anonymous clients, nothing counted.
    pub fn new(verifier: &'static Verifier) -> Self {
        Self { verifier, handshake_token: None, anonymous: false, counted: None }
    }

    /// Verifies `token` at `now`, and counts the session under its user: refused
    /// (`too_many_connections`) when that user holds its most connections already.
    pub fn verify(&self, token: &str, now: i64) -> Result<Identity, Error> {
        let identity = self.verifier.verify(token, now)?;
        if let Some(counted) = &self.counted {
            (counted.count)(&counted.caps, &counted.key, identity.user.id.as_str())?;
        }
        Ok(identity)
    }

    /// The user the handshake's token names, when it verifies: a session counts under it from
    /// its handshake (one proved later, in CONNECT, counts from then).
    pub fn handshake_user(&self, now: i64) -> Option<UserId> {
        let token = self.handshake_token.as_deref()?;
        self.verifier.verify(token, now).ok().map(|identity| identity.user.id)
    }

    /// The token of a CONNECT: `token` in the auth payload, else the handshake's; `None` when
    /// neither was given.
    pub fn token<'a>(&'a self, payload: Option<&'a Value>) -> Result<Option<&'a str>, Error> {
        match payload.and_then(|a| a.get("token")) {
            None | Some(Value::Null) => Ok(self.handshake_token.as_deref()),
            Some(Value::String(token)) => Ok(Some(token)),
            Some(_) => Err(Error::invalid_field("token", "must be a string (a JWT)")),
        }
    }

    /// When a session of `identity` must end: its token's expiry plus the leeway.
    pub fn session_end(&self, identity: &Identity) -> i64 {
        self.verifier.session_end(identity)
    }
}

/// The identity of a CONNECT, which must carry a token (see [`Auth::token`]).
pub fn authenticate(auth: &Auth, payload: Option<&Value>, now: i64) -> Result<Identity, Error> {
    match auth.token(payload)? {
        Some(token) => auth.verify(token, now),
        None => Err(Error::new(
            ErrorCode::TokenMissing,
            "no token: give it in the auth payload ({\"token\": \"<jwt>\"}) or on the handshake (?token=)",
        )),
    }
}

/// The identity of a client without a token: a user of its own, `anonymous:<socket id>`, for
/// [`ANONYMOUS_SESSION_MS`] from `now`.
pub fn anonymous(socket_id: &str, now: i64) -> Identity {
    let id = UserId::parse(&format!("anonymous:{socket_id}")).expect("socket ids are short and printable");
    Identity { user: User::anonymous_profile(id), admin: false, rooms: None, expires_at: now + ANONYMOUS_SESSION_MS }
}

/// A CONNECT to `nsp`: a namespace other than `/` is refused ("Invalid namespace"); for `/`,
/// `admit` (given the new socket's id) lets the client in, or refuses with an error whose code
/// the CONNECT_ERROR carries (`{message, data: {code}}`).
pub fn on_connect(
    socketio: &mut Connection,
    nsp: &str,
    socket_id: String,
    admit: impl FnOnce(&str) -> Result<(), Error>,
) -> Vec<Effect> {
    if nsp != NSP {
        return Effect::emit(&Connection::refuse(nsp, "Invalid namespace", None));
    }
    match admit(&socket_id) {
        Ok(()) => Effect::emit(&socketio.accept(nsp, socket_id)),
        Err(e) => Effect::emit(&Connection::refuse(nsp, &e.message, Some(json!({ "code": e.code })))),
    }
}

/// The event `name` with one argument already encoded as JSON (a room message's `data`,
/// passed on without being parsed again).
pub fn emit_raw(name: &str, data_json: &str) -> Effect {
    let name = serde_json::to_string(name).expect("strings serialize");
    Effect::Send(Payload::Text(format!("2[{name},{data_json}]")))
}

/// A room's message as the event it was published under, its data the argument — unless its
/// name is one Socket.IO reserves (`connect`, `disconnect`, …: a client would take it for its
/// own socket's) or one of `withheld` (names the dialect itself gives meaning to): those are
/// not passed on, so no publisher can fake them.
pub fn pass_on(message: &Message<'_>, withheld: &[&str]) -> Vec<Effect> {
    let name = message.event.as_str();
    if RESERVED_EVENTS.contains(&name) || withheld.contains(&name) {
        return Vec::new();
    }
    vec![emit_raw(name, message.data.get())]
}

/// The event `name` with `args`.
pub fn emit(name: &str, args: &[Value]) -> Effect {
    let mut packet = vec![Value::from(name)];
    packet.extend(args.iter().cloned());
    Effect::Send(Payload::Text(format!("2{}", Value::Array(packet))))
}

/// The ack `id` with `args`.
pub fn ack(id: u64, args: &[Value]) -> Effect {
    Effect::Send(Payload::Text(format!("3{id}{}", Value::Array(args.to_vec()))))
}

/// The first argument of an event and its name: `(name, argument, more arguments?)`; `None`
/// when the packet holds no event name.
pub fn event_parts(data: Option<Value>) -> Option<(String, Option<Value>)> {
    let Some(Value::Array(args)) = data else { return None };
    let mut args = args.into_iter();
    let name = args.next()?.as_str()?.to_owned();
    Some((name, args.next()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(effect: Effect) -> String {
        match effect {
            Effect::Send(Payload::Text(text)) => text,
            other => panic!("not a text send: {other:?}"),
        }
    }

    #[test]
    fn emits_are_socket_io_event_packets_of_the_main_namespace() {
        assert_eq!(text(emit_raw("status", r#"{"a":1}"#)), r#"2["status",{"a":1}]"#);
        assert_eq!(text(emit_raw("we\"ird", "null")), r#"2["we\"ird",null]"#);
        assert_eq!(text(emit("auth-success", &[json!({"userId": "u"})])), r#"2["auth-success",{"userId":"u"}]"#);
        assert_eq!(text(ack(7, &[json!(null)])), "37[null]");
    }

    #[test]
    fn event_parts_split_the_name_from_its_argument() {
        assert_eq!(event_parts(Some(json!(["join", {"x": 1}]))), Some(("join".into(), Some(json!({"x": 1})))));
        assert_eq!(event_parts(Some(json!(["ping"]))), Some(("ping".into(), None)));
        assert_eq!(event_parts(Some(json!([1, 2]))), None);
        assert_eq!(event_parts(None), None);
    }
}
