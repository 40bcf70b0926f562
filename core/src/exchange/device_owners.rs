//! The device index: which user holds each push device, so that a device subscribed by another
//! user (a shared phone: logout, then someone else logs in) leaves the previous user's devices
//! and is not pushed their notifications.
//!
//! It lives in the directory's shards (`directory:{n}`, the same objects as
//! [`super::directory`]), as a second table `device_owners`: a device is kept in shard
//! [`shard_of_device`], the FNV-1a hash of its public id ([`super::device::Device::public_id`],
//! which does not reveal the token or endpoint) modulo `DIRECTORY_SHARDS`. One row per device:
//! its holder, and the holder before them whose inbox must forget it.
//!
//! | internal request (to a shard) | carries | answered |
//! |---|---|---|
//! | `POST /directory/devices/claim` | [`DeviceClaim`] | [`ClaimAnswer`]: the previous holder to forget it, if any |
//! | `POST /directory/devices/release` | [`DeviceClaim`] | [`ReleaseAnswer`] |
//!
//! How the Worker uses it (`src/devices.rs`): a subscribe stores the device in the caller's
//! inbox, then claims it here, then tells the previous holder's inbox to forget it. A claim by
//! the holder answers the previous holder again (the row keeps them), so a subscribe retried
//! after a failed forget forgets again; forgetting is idempotent.

use super::directory::fnv1a;
use crate::ids::UserId;
use crate::store::{Sql, SqlValue, StoreError};
use serde::{Deserialize, Serialize};

pub const CLAIM: &str = "/directory/devices/claim";
pub const RELEASE: &str = "/directory/devices/release";

/// The shard that indexes the device with public id `public_id`, among `shards` (at least 1).
/// Like a user's shard, it never changes for a given count (see the directory's doc on changing
/// `DIRECTORY_SHARDS`: devices then lose their index entry, and a device moving between users
/// is not forgotten by the first until they subscribe it again).
pub fn shard_of_device(public_id: &str, shards: u32) -> u32 {
    (fnv1a(public_id.as_bytes()) % u64::from(shards.max(1))) as u32
}

/// A claim or a release: `user` holds (or lets go of) the device with public id `device`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClaim {
    pub device: String,
    pub user: UserId,
}

/// A claim's answer: the user who held the device before, whose inbox must forget it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClaimAnswer {
    pub previous: Option<UserId>,
}

/// A release's answer: whether the index named that user (and no longer does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseAnswer {
    pub released: bool,
}

/// One shard's devices in its SQLite:
/// `device_owners (device PRIMARY KEY, user, previous)`.
pub struct DeviceOwners<S: Sql> {
    sql: S,
}

impl<S: Sql> DeviceOwners<S> {
    /// Opens the table, creating it when it does not exist.
    pub fn open(sql: S) -> Result<Self, StoreError> {
        sql.exec(
            "CREATE TABLE IF NOT EXISTS device_owners (device TEXT PRIMARY KEY, user TEXT NOT NULL, previous TEXT)",
            &[],
        )?;
        Ok(Self { sql })
    }

    /// `claim.user` holds the device from now on. Answers who must forget it: the user who
    /// held it until now when that is someone else; for a claim by the holder, the user they
    /// took it from (if any), again — the caller's forget may have failed the first time.
    pub fn claim(&self, claim: &DeviceClaim) -> Result<ClaimAnswer, StoreError> {
        let device = SqlValue::Text(claim.device.clone());
        let user = claim.user.as_str();
        let rows = self
            .sql
            .exec("SELECT user, previous FROM device_owners WHERE device = ?", std::slice::from_ref(&device))?;
        let (holder, before) = match rows.first().map(Vec::as_slice) {
            None => (None, None),
            Some([SqlValue::Text(holder), previous]) => (Some(holder.clone()), previous.text().map(str::to_owned)),
            Some(_) => return Err(StoreError("a device_owners row has the wrong columns".into())),
        };
        let previous = match holder {
            Some(holder) if holder == user => return Ok(ClaimAnswer { previous: parse(before)? }),
            other => other,
        };
        self.sql.exec(
            "INSERT OR REPLACE INTO device_owners (device, user, previous) VALUES (?, ?, ?)",
            &[device, SqlValue::Text(user.to_owned()), previous.clone().map_or(SqlValue::Null, SqlValue::Text)],
        )?;
        Ok(ClaimAnswer { previous: parse(previous)? })
    }

    /// `claim.user` lets go of the device: its row goes, when it still names them (a release
    /// after another user claimed the device changes nothing).
    pub fn release(&self, claim: &DeviceClaim) -> Result<ReleaseAnswer, StoreError> {
        let rows = self.sql.exec(
            "DELETE FROM device_owners WHERE device = ? AND user = ? RETURNING device",
            &[SqlValue::Text(claim.device.clone()), SqlValue::Text(claim.user.as_str().to_owned())],
        )?;
        Ok(ReleaseAnswer { released: !rows.is_empty() })
    }

    /// Who holds the device `device`, if anyone.
    pub fn holder(&self, device: &str) -> Result<Option<UserId>, StoreError> {
        let rows =
            self.sql.exec("SELECT user FROM device_owners WHERE device = ?", &[SqlValue::Text(device.into())])?;
        parse(rows.first().and_then(|r| r.first()).and_then(SqlValue::text).map(str::to_owned))
    }
}

fn parse(user: Option<String>) -> Result<Option<UserId>, StoreError> {
    user.map(|u| UserId::parse(&u).map_err(|why| StoreError(format!("a device_owners row's user id {why}"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_devices_shard_never_changes() {
        // Pinned, like a user's shard: another answer would lose every stored claim.
        assert_eq!(shard_of_device("ungWv48Bz-pBQUDeXa4iIw", 64), 30);
        assert_eq!(shard_of_device("anything", 1), 0);
        assert_eq!(shard_of_device("anything", 0), 0, "no shards counts as one");
    }

    #[test]
    fn claims_travel_as_json() {
        let claim = DeviceClaim { device: "d".into(), user: UserId::parse("bob").unwrap() };
        let text = serde_json::to_string(&claim).unwrap();
        assert_eq!(text, r#"{"device":"d","user":"bob"}"#);
        assert_eq!(serde_json::from_str::<DeviceClaim>(&text).unwrap(), claim);
        let answer: ClaimAnswer = serde_json::from_str(r#"{"previous":null}"#).unwrap();
        assert_eq!(answer, ClaimAnswer { previous: None });
    }
}
