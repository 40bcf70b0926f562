//! The user's push devices, kept in their inbox: subscribed, listed, removed, forgotten when a
//! provider says they are gone, and each one's last provider outcome (for support).
//!
//! Tables: `inbox_devices (id, device, added)` — the device's [`Device::id`] (token or
//! endpoint), the stored [`Device`] as JSON, and when it was last subscribed (ms), shown as
//! `subscribed_at`; `inbox_device_outcomes (id, at, outcome, reason)` — added with push, in a
//! table of its own because inboxes created before it have `inbox_devices` as it was.
//!
//! | call | internal route | answer |
//! |---|---|---|
//! | [`Inbox::subscribe`] | `POST /inbox/devices` | `true` |
//! | [`Inbox::devices_json`] | `GET /inbox/devices` | `[{id, os, token_hint, subscribed_at, last_outcome}]`, newest first |
//! | [`Inbox::remove_device`] | `POST /inbox/devices/remove` ([`RemoveDevice`]) | [`Deleted`] |
//! | [`Inbox::forget_device`] | `POST /inbox/devices/forget` ([`ForgetDevice`]) | [`Deleted`] |
//! | [`Inbox::record_outcome`] | `POST /inbox/devices/outcome` ([`DeviceOutcome`]) | `{"kept": bool}` |

use super::{storage, Inbox};
use crate::error::Error;
use crate::exchange::device::Device;
use crate::store::{Sql, SqlValue, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Devices kept per user; a new one past this replaces the oldest.
pub const DEVICES_MAX: usize = 20;
/// The longest outcome reason kept (a provider's answer, cut).
pub const REASON_MAX: usize = 300;

pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS inbox_device_outcomes
    (id TEXT PRIMARY KEY, at INTEGER NOT NULL, outcome TEXT NOT NULL, reason TEXT)";

/// What a push provider last answered for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The provider took the notification.
    Accepted,
    /// Try again later (rate limited, the provider's own trouble).
    Retry,
    /// The device is gone (unsubscribed, uninstalled, expired).
    Gone,
    /// Our credentials or configuration were refused.
    Credentials,
    /// Our payload was refused.
    Payload,
}

/// `POST /inbox/devices/outcome`: the provider's last answer for the device whose
/// [`Device::id`] is `id`, at `at` (ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceOutcome {
    pub id: String,
    pub at: i64,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /inbox/devices/forget`: compare-and-delete of a device a provider said is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetDevice {
    /// The device as the push was sent to it (as stored when the push job was made).
    pub device: Device,
    /// APNs' 410 `timestamp` (ms): when the token was last known invalid. The device is kept
    /// when it was subscribed since (the app registered again, maybe with the same token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone_since_ms: Option<i64>,
}

/// `POST /inbox/devices/remove`: the device with this public id goes, whatever it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveDevice {
    pub id: String,
}

/// The answer to a remove or a forget: whether a device was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    pub deleted: bool,
}

/// A stored device: what it is, and when it was last subscribed.
struct Stored {
    device: Device,
    subscribed_at: i64,
}

impl<S: Sql + Clone> Inbox<S> {
    /// Keeps `device` (again: it replaces the one with its id, and its subscribe time is now);
    /// past [`DEVICES_MAX`], the oldest goes.
    pub fn subscribe(&mut self, now: i64, device: &Device) -> Result<(), Error> {
        let stored = serde_json::to_string(device).map_err(|e| Error::internal(e.to_string()))?;
        let params = [SqlValue::Text(device.id().to_owned()), SqlValue::Text(stored), SqlValue::Int(now)];
        self.sql
            .exec("INSERT OR REPLACE INTO inbox_devices (id, device, added) VALUES (?, ?, ?)", &params)
            .map_err(storage)?;
        self.sql
            .exec(
                "DELETE FROM inbox_devices WHERE id NOT IN
                 (SELECT id FROM inbox_devices ORDER BY added DESC, id LIMIT ?)",
                &[SqlValue::Int(DEVICES_MAX as i64)],
            )
            .map_err(storage)?;
        self.drop_orphan_outcomes()
    }

    /// Whether the user has any device subscribed for push.
    pub(super) fn has_devices(&self) -> Result<bool, StoreError> {
        Ok(!self.sql.exec("SELECT 1 FROM inbox_devices LIMIT 1", &[])?.is_empty())
    }

    /// The user's devices, newest first.
    pub fn devices(&self) -> Result<Vec<Device>, Error> {
        Ok(self.stored()?.into_iter().map(|s| s.device).collect())
    }

    /// The devices as the user may see them, newest first: never a token or endpoint in full.
    pub fn devices_json(&self) -> Result<String, Error> {
        let mut list = Vec::new();
        for Stored { device, subscribed_at } in self.stored()? {
            let rows = self
                .sql
                .exec(
                    "SELECT at, outcome, reason FROM inbox_device_outcomes WHERE id = ?",
                    &[SqlValue::Text(device.id().to_owned())],
                )
                .map_err(storage)?;
            let last_outcome = match rows.first().map(Vec::as_slice) {
                Some([at, outcome, reason]) => {
                    let mut last = json!({ "at": at.int(), "outcome": outcome.text() });
                    if let Some(reason) = reason.text() {
                        last["reason"] = json!(reason);
                    }
                    last
                }
                _ => Value::Null,
            };
            list.push(json!({
                "id": device.public_id(),
                "os": device.os(),
                "token_hint": device.hint(),
                "subscribed_at": subscribed_at,
                "last_outcome": last_outcome,
            }));
        }
        Ok(Value::Array(list).to_string())
    }

    /// Deletes the device whose public id is `public_id` (the user removed it, logged out on
    /// it, or another user subscribed it). Whether there was one.
    pub fn remove_device(&mut self, public_id: &str) -> Result<Deleted, Error> {
        match self.stored()?.into_iter().find(|s| s.device.public_id() == public_id) {
            Some(stored) => self.delete(stored.device.id()),
            None => Ok(Deleted { deleted: false }),
        }
    }

    /// Deletes the device a provider said is gone, only when it is still the one the push went
    /// to — the same id *and* the same keys (a browser that subscribed again on the same
    /// endpoint has new keys) — and, for APNs' 410, was subscribed before `gone_since_ms`. So a
    /// fresh subscription made while the push was in flight is never lost.
    pub fn forget_device(&mut self, forget: &ForgetDevice) -> Result<Deleted, Error> {
        let id = forget.device.id();
        let same =
            self.stored()?.into_iter().find(|s| s.device.id() == id).filter(|s| {
                s.device == forget.device && forget.gone_since_ms.is_none_or(|gone| s.subscribed_at < gone)
            });
        match same {
            Some(_) => self.delete(id),
            None => Ok(Deleted { deleted: false }),
        }
    }

    /// Keeps a device's last provider outcome (replacing the one before). Not kept for a device
    /// the inbox does not have (deleted meanwhile): `false`.
    pub fn record_outcome(&mut self, outcome: &DeviceOutcome) -> Result<bool, Error> {
        let known = self
            .sql
            .exec("SELECT 1 FROM inbox_devices WHERE id = ?", &[SqlValue::Text(outcome.id.clone())])
            .map_err(storage)?;
        if known.is_empty() {
            return Ok(false);
        }
        let name = serde_json::to_value(outcome.outcome).map_err(|e| Error::internal(e.to_string()))?;
        let reason = outcome.reason.as_deref().map(|r| {
            let end = r.char_indices().map(|(i, c)| i + c.len_utf8()).take_while(|&end| end <= REASON_MAX).last();
            SqlValue::Text(r[..end.unwrap_or(0)].to_owned())
        });
        self.sql
            .exec(
                "INSERT OR REPLACE INTO inbox_device_outcomes (id, at, outcome, reason) VALUES (?, ?, ?, ?)",
                &[
                    SqlValue::Text(outcome.id.clone()),
                    SqlValue::Int(outcome.at),
                    SqlValue::Text(name.as_str().unwrap_or_default().to_owned()),
                    reason.unwrap_or(SqlValue::Null),
                ],
            )
            .map_err(storage)?;
        Ok(true)
    }

    /// The stored devices, newest first.
    fn stored(&self) -> Result<Vec<Stored>, Error> {
        let rows =
            self.sql.exec("SELECT device, added FROM inbox_devices ORDER BY added DESC, id", &[]).map_err(storage)?;
        rows.iter()
            .map(|r| {
                let json = r.first().and_then(SqlValue::text).unwrap_or_default();
                let device =
                    serde_json::from_str(json).map_err(|e| Error::internal(format!("a stored device: {e}")))?;
                Ok(Stored { device, subscribed_at: r.get(1).and_then(SqlValue::int).unwrap_or(0) })
            })
            .collect()
    }

    fn delete(&mut self, id: &str) -> Result<Deleted, Error> {
        let rows = self
            .sql
            .exec("DELETE FROM inbox_devices WHERE id = ? RETURNING id", &[SqlValue::Text(id.to_owned())])
            .map_err(storage)?;
        self.drop_orphan_outcomes()?;
        Ok(Deleted { deleted: !rows.is_empty() })
    }

    /// Outcomes go with their device.
    fn drop_orphan_outcomes(&self) -> Result<(), Error> {
        self.sql
            .exec("DELETE FROM inbox_device_outcomes WHERE id NOT IN (SELECT id FROM inbox_devices)", &[])
            .map_err(storage)?;
        Ok(())
    }
}
