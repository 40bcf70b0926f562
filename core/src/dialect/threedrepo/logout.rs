//! An admin's `POST /v1/users/{user}/logout`: a `loggedOut` message in the user's control
//! room, which every logged-in 3drepo session of the user is a member of, on any home.

use super::LOGGED_OUT;
use crate::error::Error;
use crate::ids::{RoomId, User, UserId, CONTROL_PREFIX};
use crate::internal::PublishRequest;
use crate::message::Draft;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// The `reason` of an admin's logout that gave none.
pub const LOGGED_OUT_BY_ADMIN: &str = "You have been logged out by an administrator";
/// Longest `reason` of an admin's logout, in bytes.
pub const REASON_MAX: usize = 1024;

/// What an admin's `POST /v1/users/{user}/logout` does.
#[derive(Debug, Clone, PartialEq)]
pub struct Logout {
    /// The user's control room; `None` when the user can have no session here (an id too long
    /// for a room id).
    pub room: Option<RoomId>,
    /// The `loggedOut {reason}` message to publish there, as the admin.
    pub publish: PublishRequest,
    /// The call's answer once published: `{"ok": true, "user", "reason"}`.
    pub answer: String,
}

/// The logout of `user` by `admin`, with `body` (empty, or `{"reason"?: string}`).
pub fn logout_request(user: &UserId, admin: &User, body: &str) -> Result<Logout, Error> {
    #[derive(Deserialize)]
    struct Body {
        reason: Option<Value>,
    }
    let reason = match body.trim() {
        "" => None,
        text => crate::json::object::<Body>(text, "body")?.reason,
    };
    let reason = match reason {
        None | Some(Value::Null) => LOGGED_OUT_BY_ADMIN.to_owned(),
        Some(Value::String(reason)) if !reason.is_empty() && reason.len() <= REASON_MAX => reason,
        Some(_) => return Err(Error::invalid_field("reason", format!("must be a string of 1 to {REASON_MAX} bytes"))),
    };
    let data = RawValue::from_string(json!({ "reason": reason }).to_string()).expect("an object is JSON");
    let draft = Draft { event: LOGGED_OUT.to_owned(), data, key: None };
    Ok(Logout {
        room: RoomId::compose(CONTROL_PREFIX, &[user.as_str()]).ok(),
        publish: PublishRequest { user: admin.clone(), draft, except: None },
        answer: json!({ "ok": true, "user": user, "reason": reason }).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn an_admin_logout_publishes_logged_out_with_the_reason_into_the_users_control_room() {
        let user = UserId::parse("alice@example.com").unwrap();
        let admin = User::anonymous_profile(UserId::parse("ops").unwrap());
        let logout = logout_request(&user, &admin, r#"{"reason":"Password changed"}"#).unwrap();
        assert_eq!(logout.room.unwrap().as_str(), "sessions:alice_40example.com");
        assert_eq!(logout.publish.user, admin);
        assert_eq!(logout.publish.except, None);
        assert_eq!(
            (logout.publish.draft.event.as_str(), logout.publish.draft.data.get()),
            ("loggedOut", r#"{"reason":"Password changed"}"#)
        );
        assert_eq!(logout.publish.draft.key, None);
        let answer: Value = serde_json::from_str(&logout.answer).unwrap();
        assert_eq!(answer, json!({ "ok": true, "user": "alice@example.com", "reason": "Password changed" }));

        for body in ["", "  ", "{}", r#"{"reason":null}"#] {
            let logout = logout_request(&user, &admin, body).unwrap();
            assert_eq!(
                logout.publish.draft.data.get(),
                json!({ "reason": LOGGED_OUT_BY_ADMIN }).to_string(),
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_logout_body_of_the_wrong_shape_is_refused_with_a_code() {
        let user = UserId::parse("alice").unwrap();
        let admin = User::anonymous_profile(UserId::parse("ops").unwrap());
        assert_eq!(logout_request(&user, &admin, "{nope").unwrap_err().code, ErrorCode::MalformedJson);
        assert_eq!(logout_request(&user, &admin, "[1]").unwrap_err().code, ErrorCode::InvalidField);
        let long = json!({ "reason": "x".repeat(REASON_MAX + 1) }).to_string();
        for body in [r#"{"reason":5}"#, r#"{"reason":""}"#, long.as_str()] {
            let error = logout_request(&user, &admin, body).unwrap_err();
            assert_eq!(
                (error.code, error.details.unwrap()["field"].as_str()),
                (ErrorCode::InvalidField, Some("reason")),
                "{body}"
            );
        }
    }

    #[test]
    fn a_user_whose_id_cannot_name_a_control_room_has_nothing_to_log_out() {
        let user = UserId::parse(&"u".repeat(128)).unwrap();
        let admin = User::anonymous_profile(UserId::parse("ops").unwrap());
        assert_eq!(logout_request(&user, &admin, "").unwrap().room, None);
    }
}
