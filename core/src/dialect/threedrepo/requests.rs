//! What a `join` or `leave` asks for, and how it is answered: the room its data names (3D
//! Repo's two kinds), `message {event: "success", …}` and `error {code, message, details}`.

use super::{INBOX_PREFIX, ROOM_PREFIX};
use crate::auth::Identity;
use crate::dialect::session::emit;
use crate::dialect::Effect;
use crate::ids::RoomId;
use serde_json::{json, Value};

/// 3D Repo's codes: not logged in; data that names no room, or a model the token may not see.
pub const UNAUTHORISED: &str = "UNAUTHORISED";
pub const ROOM_NOT_FOUND: &str = "ROOM_NOT_FOUND";
/// An event other than `join` and `leave` (3D Repo ignores those; Herald says so).
pub const UNKNOWN_EVENT: &str = "UNKNOWN_EVENT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    Join,
    Leave,
}

impl Action {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Leave => "leave",
        }
    }
}

impl From<Action> for Value {
    fn from(action: Action) -> Self {
        Value::from(action.as_str())
    }
}

/// The room a `join` or `leave` names; why not, in words, for `ROOM_NOT_FOUND`.
pub(super) fn room_of(data: &Value, identity: &Identity, action: Action) -> Result<RoomId, String> {
    const MODEL: [&str; 3] = ["teamspace", "project", "model"];
    let unidentified = |why: &str| format!("Cannot identify the room indicated: {why}");
    let Value::Object(fields) = data else {
        return Err(unidentified("expected {notifications: true} or {teamspace, project, model}"));
    };
    let names_a_model = MODEL.iter().any(|key| fields.contains_key(*key));
    match fields.get("notifications") {
        Some(Value::Bool(true)) if names_a_model => {
            return Err(unidentified("give either notifications: true or teamspace, project and model, not both"))
        }
        Some(Value::Bool(true)) => {
            return RoomId::compose(INBOX_PREFIX, &[identity.user.id.as_str()])
                .map_err(|_| unidentified("the token's user id is too long for a notification room"))
        }
        Some(Value::Bool(false)) | None => {}
        Some(_) => return Err(unidentified("`notifications` must be true")),
    }
    if !names_a_model {
        return Err(unidentified("expected {notifications: true} or {teamspace, project, model}"));
    }
    let mut parts = Vec::with_capacity(MODEL.len());
    for key in MODEL {
        match fields.get(key) {
            Some(Value::String(part)) if !part.is_empty() => parts.push(part.as_str()),
            Some(_) => return Err(unidentified(&format!("`{key}` must be a non-empty string"))),
            None => return Err(unidentified(&format!("`{key}` is missing"))),
        }
    }
    let room = RoomId::compose(ROOM_PREFIX, &parts).map_err(|_| {
        unidentified("teamspace, project and model are too long together (a room id is at most 128 bytes)")
    })?;
    if action == Action::Join {
        identity.require_room(&room).map_err(|_| {
            format!("Model not found or not accessible: the token's `rooms` claim does not include {room}")
        })?;
    }
    Ok(room)
}

pub(super) fn success(action: Action, data: Value) -> Effect {
    emit("message", &[json!({ "event": "success", "data": { "action": action.as_str(), "data": data } })])
}

pub(super) fn refusal(code: &str, message: &str, action: Value, data: Value) -> Effect {
    emit("error", &[json!({ "code": code, "message": message, "details": { "action": action, "data": data } })])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::RoomPattern;
    use crate::ids::{User, UserId};

    fn identity(rooms: Option<&[&str]>) -> Identity {
        Identity {
            user: User::anonymous_profile(UserId::parse("alice@example.com").unwrap()),
            admin: false,
            rooms: rooms.map(|patterns| patterns.iter().map(|p| RoomPattern::parse(p).unwrap()).collect()),
            expires_at: 0,
        }
    }

    fn model(teamspace: &str) -> Value {
        json!({ "teamspace": teamspace, "project": "a608516e-0fef", "model": "808d98ee-aad1" })
    }

    #[test]
    fn notifications_name_the_users_own_inbox_and_models_a_room_of_their_own_kind() {
        let anyone = identity(None);
        let inbox = room_of(&json!({ "notifications": true }), &anyone, Action::Join).unwrap();
        assert_eq!(inbox.as_str(), "inbox:alice_40example.com");
        let room = room_of(&model("john doe"), &anyone, Action::Join).unwrap();
        assert_eq!(room.as_str(), "3drepo:john_20doe:a608516e-0fef:808d98ee-aad1");
        let with_false = json!({ "notifications": false, "teamspace": "john doe", "project": "a608516e-0fef", "model": "808d98ee-aad1" });
        assert_eq!(
            room_of(&with_false, &anyone, Action::Join).unwrap(),
            room,
            "notifications: false is no notification room"
        );
        let extra = json!({ "notifications": true, "colour": "blue" });
        assert_eq!(room_of(&extra, &anyone, Action::Join).unwrap(), inbox, "other keys are ignored, as 3D Repo does");
    }

    #[test]
    fn data_that_names_no_room_is_room_not_found_saying_what_is_wrong() {
        let anyone = identity(None);
        let cases = [
            (json!(null), "expected {notifications: true} or {teamspace, project, model}"),
            (json!("notifications"), "expected {notifications: true} or {teamspace, project, model}"),
            (json!({}), "expected {notifications: true} or {teamspace, project, model}"),
            (json!({ "notifications": "yes" }), "`notifications` must be true"),
            (
                json!({ "notifications": true, "model": "m" }),
                "give either notifications: true or teamspace, project and model, not both",
            ),
            (json!({ "teamspace": "t", "project": "p" }), "`model` is missing"),
            (json!({ "teamspace": "t", "project": 7, "model": "m" }), "`project` must be a non-empty string"),
            (json!({ "teamspace": "", "project": "p", "model": "m" }), "`teamspace` must be a non-empty string"),
            (
                model(&"t".repeat(100)),
                "teamspace, project and model are too long together (a room id is at most 128 bytes)",
            ),
        ];
        for (data, why) in cases {
            let error = room_of(&data, &anyone, Action::Join).unwrap_err();
            assert_eq!(error, format!("Cannot identify the room indicated: {why}"), "{data}");
        }
    }

    #[test]
    fn the_rooms_claim_decides_which_models_may_be_joined_but_never_stops_a_leave() {
        let scoped = identity(Some(&["3drepo:acme:*"]));
        assert!(room_of(&model("acme"), &scoped, Action::Join).is_ok());
        let refused = room_of(&model("other"), &scoped, Action::Join).unwrap_err();
        assert_eq!(
            refused,
            "Model not found or not accessible: the token's `rooms` claim does not include 3drepo:other:a608516e-0fef:808d98ee-aad1"
        );
        assert!(room_of(&model("other"), &scoped, Action::Leave).is_ok());
        assert!(room_of(&json!({ "notifications": true }), &scoped, Action::Join).is_ok(), "the user's own inbox");
    }
}
