//! The public HTTP surface as data: which route a method and path name.
//!
//! | method | path                          | route                                 |
//! |--------|-------------------------------|---------------------------------------|
//! | GET    | `/api/v1/ping`                | [`Route::Ping`]                       |
//! | GET    | `/v1/rooms/{room}/ws`         | [`Route::Room`] [`RoomRoute::Socket`]   |
//! | POST   | `/v1/rooms/{room}/messages`   | [`Route::Room`] [`RoomRoute::Publish`]  |
//! | GET    | `/v1/rooms/{room}/messages`   | [`Route::Room`] [`RoomRoute::History`]  |
//! | GET    | `/v1/rooms/{room}/presence`   | [`Route::Room`] [`RoomRoute::Presence`] |
//! | GET    | `/api/chat/{user}/`           | [`Route::ChatHistory`] (tndata)       |
//! | POST   | `/v1/users/{user}/logout`     | [`Route::Logout`] (admin)             |
//! | POST   | `/api/v1/send`                | [`Route::Notify`] [`NotifyRoute::Send`] |
//! | POST, DELETE | `/api/v1/native/subscribe` | [`Route::Notify`] [`NotifyRoute::Subscribe`], [`NotifyRoute::Unsubscribe`] |
//! | GET    | `/api/v1/native/devices`      | [`Route::Notify`] [`NotifyRoute::Devices`] |
//! | DELETE | `/api/v1/native/devices/{id}` | [`Route::Notify`] [`NotifyRoute::RemoveDevice`] |
//! | GET, PUT | `/api/v1/users/{uid}/contacts` | [`Route::Notify`] [`NotifyRoute::Contacts`] |
//! | GET    | `/api/v1/inbox`               | [`Route::Notify`] [`NotifyRoute::Inbox`] |
//! | POST   | `/api/v1/inbox/read`          | [`Route::Notify`] [`NotifyRoute::InboxRead`] |
//! | POST   | `/api/v1/multicast`           | [`Route::Multicast`] (admin)          |
//! | POST   | `/api/v1/broadcast`           | [`Route::Broadcast`] (admin)          |
//! | GET    | `/api/v1/admin/dead-letters`  | [`Route::DeadLetters`] (admin)        |
//! | GET    | `/api/v1/push/vapid-public-key` | [`Route::VapidKey`] (no token)      |
//! | POST   | `/api/v1/receipts`            | [`Route::Receipt`] (the push's credential) |

use crate::dialect::routes::percent_decode;
use crate::error::{Error, ErrorCode};
use crate::exchange::device::is_public_id;
use crate::ids::{RoomId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// No token needed.
    Ping,
    /// Everything about one room: a token allowed in that room is needed.
    Room(RoomId, RoomRoute),
    /// The history of the caller's tndata conversation with the user the segment names (as
    /// the request has it, percent-encoded).
    ChatHistory(String),
    /// Logs a user's sessions out (an admin token is needed).
    Logout(UserId),
    /// The fallback jobs that will not be sent (an admin token is needed).
    DeadLetters,
    /// A notification to the listed users (an admin token is needed).
    Multicast,
    /// A notification to every user Herald knows (an admin token is needed).
    Broadcast,
    /// The notification exchange's calls about one user's inbox (docs/notifications.md).
    Notify(NotifyRoute),
    /// The Web Push application server key, for `pushManager.subscribe` (no token needed).
    VapidKey,
    /// A push receipt: its credential, not a token, says whose notification it is.
    Receipt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyRoute {
    /// A notification to one user.
    Send,
    /// The caller's device for native push.
    Subscribe,
    /// The caller's device, named by the subscribe's body, goes (logout on a phone).
    Unsubscribe,
    /// The caller's devices.
    Devices,
    /// The caller's device with this public id goes.
    RemoveDevice(String),
    /// A user's contacts: read (`put` false) or updated.
    Contacts { user: UserId, put: bool },
    /// A page of the caller's notifications.
    Inbox,
    /// The caller read up to a seq.
    InboxRead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomRoute {
    Socket,
    Publish,
    History,
    Presence,
}

impl Route {
    /// The route for `method` and `path`; `not_found`, `method_not_allowed` (with the allowed
    /// methods in `details.allow`) or `invalid_room_id` otherwise.
    pub fn parse(method: &str, path: &str) -> Result<Self, Error> {
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        let method = method.to_ascii_uppercase();
        match segments.as_slice() {
            ["api", "v1", "ping"] => allow(&method, &["GET", "HEAD"]).map(|_| Self::Ping),
            ["v1", "rooms", room, "ws"] => {
                allow(&method, &["GET"])?;
                Ok(Self::Room(RoomId::parse(room)?, RoomRoute::Socket))
            }
            ["v1", "rooms", room, "messages"] => {
                let post = allow(&method, &["GET", "POST"])? == "POST";
                Ok(Self::Room(RoomId::parse(room)?, if post { RoomRoute::Publish } else { RoomRoute::History }))
            }
            ["v1", "rooms", room, "presence"] => {
                allow(&method, &["GET"])?;
                Ok(Self::Room(RoomId::parse(room)?, RoomRoute::Presence))
            }
            ["api", "chat", user] | ["api", "chat", user, ""] if !user.is_empty() => {
                allow(&method, &["GET"])?;
                Ok(Self::ChatHistory((*user).to_owned()))
            }
            ["v1", "users", user, "logout"] => {
                allow(&method, &["POST"])?;
                Ok(Self::Logout(path_user(user)?))
            }
            ["api", "v1", "send"] => allow(&method, &["POST"]).map(|_| Self::Notify(NotifyRoute::Send)),
            ["api", "v1", "native", "subscribe"] => {
                let delete = allow(&method, &["POST", "DELETE"])? == "DELETE";
                Ok(Self::Notify(if delete { NotifyRoute::Unsubscribe } else { NotifyRoute::Subscribe }))
            }
            ["api", "v1", "native", "devices"] => allow(&method, &["GET"]).map(|_| Self::Notify(NotifyRoute::Devices)),
            ["api", "v1", "native", "devices", id] => {
                allow(&method, &["DELETE"])?;
                // Anything but a public id names no device of the caller's.
                if !is_public_id(id) {
                    return Err(Error::new(
                        ErrorCode::NotFound,
                        format!("no device {id:?}: see GET /api/v1/native/devices"),
                    ));
                }
                Ok(Self::Notify(NotifyRoute::RemoveDevice((*id).to_owned())))
            }
            ["api", "v1", "users", user, "contacts"] => {
                let put = allow(&method, &["GET", "PUT"])? == "PUT";
                Ok(Self::Notify(NotifyRoute::Contacts { user: path_user(user)?, put }))
            }
            ["api", "v1", "inbox"] => allow(&method, &["GET"]).map(|_| Self::Notify(NotifyRoute::Inbox)),
            ["api", "v1", "inbox", "read"] => allow(&method, &["POST"]).map(|_| Self::Notify(NotifyRoute::InboxRead)),
            ["api", "v1", "multicast"] => allow(&method, &["POST"]).map(|_| Self::Multicast),
            ["api", "v1", "broadcast"] => allow(&method, &["POST"]).map(|_| Self::Broadcast),
            ["api", "v1", "admin", "dead-letters"] => allow(&method, &["GET"]).map(|_| Self::DeadLetters),
            ["api", "v1", "push", "vapid-public-key"] => allow(&method, &["GET"]).map(|_| Self::VapidKey),
            ["api", "v1", "receipts"] => allow(&method, &["POST"]).map(|_| Self::Receipt),
            _ => Err(Error::new(ErrorCode::NotFound, format!("no route {method} {path}; see docs/api.md"))),
        }
    }
}

/// A user id from a path segment, percent-encoded.
fn path_user(segment: &str) -> Result<UserId, Error> {
    percent_decode(segment)
        .ok_or_else(|| "is not percent-encoded UTF-8".to_owned())
        .and_then(|user| UserId::parse(&user))
        .map_err(|why| Error::invalid_field("user", format!("(the path's user id) {why}")))
}

/// Refuses `method` (`method_not_allowed`, naming `allowed` in `details.allow`) unless it is
/// one of `allowed`.
pub fn allow<'a>(method: &'a str, allowed: &[&str]) -> Result<&'a str, Error> {
    if allowed.contains(&method) {
        Ok(method)
    } else {
        Err(Error::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed here; use {}", allowed.join(" or ")),
        )
        .with_details(serde_json::json!({ "allow": allowed })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: &str) -> RoomId {
        RoomId::parse(id).unwrap()
    }

    #[test]
    fn known_routes_parse() {
        assert_eq!(Route::parse("GET", "/api/v1/ping"), Ok(Route::Ping));
        assert_eq!(Route::parse("GET", "/v1/rooms/lobby/ws"), Ok(Route::Room(room("lobby"), RoomRoute::Socket)));
        assert_eq!(Route::parse("post", "/v1/rooms/a:b/messages"), Ok(Route::Room(room("a:b"), RoomRoute::Publish)));
        assert_eq!(Route::parse("GET", "/v1/rooms/a/messages"), Ok(Route::Room(room("a"), RoomRoute::History)));
        assert_eq!(Route::parse("GET", "/v1/rooms/a/presence"), Ok(Route::Room(room("a"), RoomRoute::Presence)));
        assert_eq!(Route::parse("GET", "/api/chat/42/"), Ok(Route::ChatHistory("42".into())));
        assert_eq!(Route::parse("GET", "/api/chat/a%20b"), Ok(Route::ChatHistory("a%20b".into())));
        assert_eq!(Route::parse("GET", "/api/chat//").unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(Route::parse("POST", "/api/chat/42/").unwrap_err().code, ErrorCode::MethodNotAllowed);
        let logout = Route::parse("POST", "/v1/users/zo%C3%AB%40x/logout");
        assert_eq!(logout, Ok(Route::Logout(UserId::parse("zoë@x").unwrap())));
        assert_eq!(Route::parse("GET", "/api/v1/admin/dead-letters"), Ok(Route::DeadLetters));
        let post = Route::parse("POST", "/api/v1/admin/dead-letters").unwrap_err();
        assert_eq!(post.code, ErrorCode::MethodNotAllowed);
    }

    #[test]
    fn a_logout_path_must_name_a_valid_user_and_be_posted() {
        assert_eq!(Route::parse("GET", "/v1/users/a/logout").unwrap_err().code, ErrorCode::MethodNotAllowed);
        for bad in ["/v1/users//logout", "/v1/users/a%0Ab/logout", "/v1/users/%zz/logout", "/v1/users/%FF/logout"] {
            let error = Route::parse("POST", bad).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidField, "{bad}");
            assert_eq!(error.details.unwrap()["field"], "user", "{bad}");
        }
    }

    #[test]
    fn the_exchanges_inbox_routes_parse_with_their_methods() {
        let notify = |method, path| {
            Route::parse(method, path).map(|r| match r {
                Route::Notify(route) => route,
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(notify("POST", "/api/v1/send"), Ok(NotifyRoute::Send));
        assert_eq!(notify("POST", "/api/v1/native/subscribe"), Ok(NotifyRoute::Subscribe));
        assert_eq!(notify("GET", "/api/v1/inbox"), Ok(NotifyRoute::Inbox));
        assert_eq!(notify("POST", "/api/v1/inbox/read"), Ok(NotifyRoute::InboxRead));
        let bob = UserId::parse("bob@x").unwrap();
        assert_eq!(
            notify("PUT", "/api/v1/users/bob%40x/contacts"),
            Ok(NotifyRoute::Contacts { user: bob.clone(), put: true })
        );
        assert_eq!(notify("GET", "/api/v1/users/bob@x/contacts"), Ok(NotifyRoute::Contacts { user: bob, put: false }));
        assert_eq!(notify("GET", "/api/v1/send").unwrap_err().code, ErrorCode::MethodNotAllowed);
        assert_eq!(notify("POST", "/api/v1/inbox").unwrap_err().code, ErrorCode::MethodNotAllowed);
        assert_eq!(notify("POST", "/api/v1/users/a/contacts").unwrap_err().code, ErrorCode::MethodNotAllowed);
        assert_eq!(notify("PUT", "/api/v1/users/%FF/contacts").unwrap_err().code, ErrorCode::InvalidField);
    }

    #[test]
    fn the_push_routes_that_need_no_token_parse() {
        assert_eq!(Route::parse("GET", "/api/v1/push/vapid-public-key"), Ok(Route::VapidKey));
        assert_eq!(Route::parse("POST", "/api/v1/receipts"), Ok(Route::Receipt));
        assert_eq!(
            Route::parse("POST", "/api/v1/push/vapid-public-key").unwrap_err().code,
            ErrorCode::MethodNotAllowed
        );
        assert_eq!(Route::parse("GET", "/api/v1/receipts").unwrap_err().code, ErrorCode::MethodNotAllowed);
    }

    #[test]
    fn device_routes_parse_with_their_methods_and_a_public_id() {
        let notify = |method: &str, path: &str| {
            Route::parse(method, path).map(|r| match r {
                Route::Notify(route) => route,
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(notify("DELETE", "/api/v1/native/subscribe"), Ok(NotifyRoute::Unsubscribe));
        assert_eq!(notify("GET", "/api/v1/native/devices"), Ok(NotifyRoute::Devices));
        let id = "ungWv48Bz-pBQUDeXa4iIw";
        assert_eq!(notify("DELETE", &format!("/api/v1/native/devices/{id}")), Ok(NotifyRoute::RemoveDevice(id.into())));
        let wrong = notify("GET", "/api/v1/native/subscribe").unwrap_err();
        assert_eq!(wrong.details.unwrap()["allow"], serde_json::json!(["POST", "DELETE"]));
        assert_eq!(notify("POST", "/api/v1/native/devices").unwrap_err().code, ErrorCode::MethodNotAllowed);
        assert_eq!(
            notify("GET", &format!("/api/v1/native/devices/{id}")).unwrap_err().code,
            ErrorCode::MethodNotAllowed
        );
        for bad in ["short", "ungWv48Bz+pBQUDeXa4iIw", "ungWv48Bz-pBQUDeXa4iIwX", ""] {
            let error = notify("DELETE", &format!("/api/v1/native/devices/{bad}")).unwrap_err();
            assert_eq!(error.code, ErrorCode::NotFound, "{bad}");
        }
    }

    #[test]
    fn multicast_and_broadcast_are_posted() {
        assert_eq!(Route::parse("POST", "/api/v1/multicast"), Ok(Route::Multicast));
        assert_eq!(Route::parse("POST", "/api/v1/broadcast"), Ok(Route::Broadcast));
        assert_eq!(Route::parse("GET", "/api/v1/broadcast").unwrap_err().code, ErrorCode::MethodNotAllowed);
        assert_eq!(Route::parse("POST", "/api/v1/multicast/x").unwrap_err().code, ErrorCode::NotFound);
    }

    #[test]
    fn unknown_paths_wrong_methods_and_bad_rooms_are_coded() {
        assert_eq!(Route::parse("GET", "/nope").unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(Route::parse("GET", "/v1/rooms/a/ws/extra").unwrap_err().code, ErrorCode::NotFound);
        let wrong = Route::parse("DELETE", "/v1/rooms/a/messages").unwrap_err();
        assert_eq!(wrong.code, ErrorCode::MethodNotAllowed);
        assert_eq!(wrong.details.unwrap()["allow"], serde_json::json!(["GET", "POST"]));
        assert_eq!(Route::parse("GET", "/v1/rooms/%2e%2e/ws").unwrap_err().code, ErrorCode::InvalidRoomId);
    }
}
