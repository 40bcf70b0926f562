//! The inbox's internal routes, when the room is a user's inbox (`inbox:{user}`;
//! [`crate::exchange::inbox`] holds the rules):
//!
//! | internal request | answer |
//! |---|---|
//! | `POST /notify` ([`NotifyRequest`]) | 201 `{id, seq}` or `{id, scheduled}`; 200 with `duplicate` for a key seen before |
//! | `POST /jobs/claim` ([`JobKey`]) | [`crate::internal::JobClaim`] |
//! | `POST /jobs/done`, `/jobs/release` ([`JobKey`]) | `{}` |
//! | `GET /inbox/contacts`, `PUT /inbox/contacts` (a contacts update) | the contacts |
//! | `POST /inbox/devices` ([`Device`]) | `true` |
//! | `GET /inbox/devices` | the devices as the user may see them |
//! | `POST /inbox/devices/remove` ([`RemoveDevice`]) | [`crate::exchange::inbox::Deleted`] |
//! | `POST /inbox/devices/forget` ([`ForgetDevice`]) | [`crate::exchange::inbox::Deleted`] |
//! | `POST /inbox/devices/outcome` ([`DeviceOutcome`]) | `{"kept": bool}` |
//! | `GET /inbox/page?before=&limit=` | a page |
//! | `POST /inbox/read` (`{seq}`) | `{last_read, unread}` |
//! | `POST /inbox/receipt` ([`api::ReceiptCall`]) | `{seq, state}`: how far the notification got |

use super::RoomHost;
use crate::error::{Error, ErrorCode};
use crate::exchange::contacts::ContactsUpdate;
use crate::exchange::inbox::{DeviceOutcome, ForgetDevice, RemoveDevice};
use crate::exchange::push::receipts::ReceiptState;
use crate::exchange::requests::{self, Device};
use crate::exchange::NotifyRequest;
use crate::ids::UserId;
use crate::internal::{self as api, JobKey};
use crate::store::Sql;
use serde::de::DeserializeOwned;

/// One call to the inbox's routes, as the shell received it.
pub struct InboxCall<'a> {
    /// `GET`, `POST` or `PUT`.
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a str,
    /// The query's `before` and `limit` (a page).
    pub before: Option<&'a str>,
    pub limit: Option<&'a str>,
}

impl InboxCall<'_> {
    /// Whether `path` is one of the inbox's routes.
    pub fn serves(path: &str) -> bool {
        path == api::NOTIFY || path.starts_with("/jobs/") || path.starts_with("/inbox/")
    }

    /// Whether a call that succeeds puts the inbox's owner in the user directory (a device
    /// subscribed, contacts set): see [`RoomHost::owner_to_list`].
    pub fn lists_owner(&self) -> bool {
        matches!((self.method, self.path), ("POST", api::INBOX_DEVICES) | ("PUT", api::INBOX_CONTACTS))
    }
}

fn body_of<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::internal(format!("internal {what} with a bad body: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::internal(e.to_string()))
}

impl<S: Sql + Clone> RoomHost<S> {
    /// One of the inbox's routes: its status and JSON body. `not_found` when the room is no
    /// inbox or the route is none of them.
    pub fn inbox_call(&mut self, now: i64, call: &InboxCall<'_>) -> Result<(u16, String), Error> {
        let Some(inbox) = self.inbox.as_mut() else {
            return Err(Error::new(ErrorCode::NotFound, format!("room {} is not an inbox", self.room.id())));
        };
        let room = &mut self.room;
        let body = call.body;
        self.alarm_dirty = true;
        let (answer, effects) = match (call.method, call.path) {
            ("POST", api::NOTIFY) => {
                let request: NotifyRequest = body_of(body, "notify")?;
                let (answer, effects) = inbox.on_notify(now, room, request, &mut self.ids)?;
                let status = if answer["duplicate"] == true { 200 } else { 201 };
                ((status, answer.to_string()), effects)
            }
            ("POST", api::JOB_CLAIM) => {
                let key: JobKey = body_of(body, "claim")?;
                ((200, to_json(&inbox.claim(now, &key.key, key.expires_at)?)?), Vec::new())
            }
            ("POST", api::JOB_DONE) => {
                let key: JobKey = body_of(body, "done")?;
                inbox.done(now, &key.key)?;
                inbox.keep_outcome(&key);
                ((200, "{}".into()), Vec::new())
            }
            ("POST", api::JOB_RELEASE) => {
                let key: JobKey = body_of(body, "release")?;
                inbox.release(&key.key, key.claim)?;
                inbox.keep_outcome(&key);
                ((200, "{}".into()), Vec::new())
            }
            ("GET", api::INBOX_CONTACTS) => ((200, inbox.contacts().to_json()), Vec::new()),
            ("PUT", api::INBOX_CONTACTS) => ((200, inbox.update_contacts(ContactsUpdate::parse(body)?)?), Vec::new()),
            ("POST", api::INBOX_DEVICES) => {
                inbox.subscribe(now, &body_of::<Device>(body, "subscribe")?)?;
                ((200, "true".into()), Vec::new())
            }
            ("GET", api::INBOX_DEVICES) => ((200, inbox.devices_json()?), Vec::new()),
            ("POST", api::INBOX_DEVICES_REMOVE) => {
                let deleted = inbox.remove_device(&body_of::<RemoveDevice>(body, "device removal")?.id)?;
                ((200, to_json(&deleted)?), Vec::new())
            }
            ("POST", api::INBOX_DEVICES_FORGET) => {
                let deleted = inbox.forget_device(&body_of::<ForgetDevice>(body, "device forget")?)?;
                ((200, to_json(&deleted)?), Vec::new())
            }
            ("POST", api::INBOX_DEVICES_OUTCOME) => {
                let kept = inbox.record_outcome(&body_of::<DeviceOutcome>(body, "device outcome")?)?;
                ((200, format!(r#"{{"kept":{kept}}}"#)), Vec::new())
            }
            ("GET", api::INBOX_PAGE) => {
                let (before, limit) = requests::page_query(call.before, call.limit)?;
                ((200, inbox.page(before, limit)?), Vec::new())
            }
            ("POST", api::INBOX_RECEIPT) => {
                let receipt: api::ReceiptCall = body_of(body, "receipt")?;
                let state = match receipt.state.as_str() {
                    "read" => ReceiptState::Read,
                    _ => ReceiptState::Delivered,
                };
                let effects = inbox.receipt(now, room, receipt.seq, state)?;
                let reached = inbox.reached(receipt.seq).map_err(|e| Error::internal(e.to_string()))?;
                // Written out, as `json!` would (a number and a fixed word): a `Value` costs code.
                ((200, format!(r#"{{"seq":{},"state":"{}"}}"#, receipt.seq, reached.as_str())), effects)
            }
            ("POST", api::INBOX_READ) => {
                let effects = inbox.read(now, room, requests::read(body)?)?;
                ((200, inbox.read_json()?), effects)
            }
            (method, path) => {
                return Err(Error::new(ErrorCode::NotFound, format!("no internal route {method} {path}")));
            }
        };
        self.apply(effects);
        Ok(answer)
    }

    /// The inbox's owner, when the inbox has not put them in the user directory yet (it does
    /// the first time a device is subscribed, contacts are set, or a connection joins); `None`
    /// for a room that is no inbox.
    pub fn owner_to_list(&self) -> Result<Option<UserId>, Error> {
        match &self.inbox {
            Some(inbox) => Ok((!inbox.owner_listed()?).then(|| inbox.owner().clone())),
            None => Ok(None),
        }
    }

    /// The directory took the inbox's owner: later calls cost one local read.
    pub fn owner_listed(&mut self) -> Result<(), Error> {
        match self.inbox.as_mut() {
            Some(inbox) => inbox.set_owner_listed(),
            None => Ok(()),
        }
    }
}
