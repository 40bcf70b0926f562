//! A directory shard: the object named `directory:{n}` (the same class as rooms and homes)
//! keeps the ids of the users that hash to shard `n`, for broadcasts, and the device index's
//! share of push devices that hash to it ([`herald_core::exchange::device_owners`]). It serves
//! only the directory's internal routes (`/directory/…`, see
//! [`herald_core::exchange::directory`]): the Worker and inboxes add users, the fan-out
//! consumer reads pages, the Worker claims and releases devices. Its rows live in its own
//! SQLite; it has no websockets and no room.

use crate::sql::DurableSql;
use herald_core::error::{Error, ErrorCode};
use herald_core::exchange::device_owners::{self, DeviceClaim, DeviceOwners};
use herald_core::exchange::directory::{AddAnswer, AddRequest, DirectoryRows, PageQuery, ADD, ADD_MAX, PAGE, ROUTES};
use herald_core::object::Role;
use herald_platform::respond::{self, internal};
use herald_platform::{now_ms, query_param, Url};
use worker::{Method, Request, Response, State};

/// Whether `path` is one of the directory's routes.
pub fn serves(path: &str) -> bool {
    path.starts_with(ROUTES)
}

/// Answers a `/directory/…` call, when this object (`role`) is a shard.
pub async fn handle(state: &State, role: &Role, req: &mut Request) -> Result<Response, Error> {
    let Role::Directory(shard) = role else {
        return Err(Error::new(ErrorCode::NotFound, format!("{role:?} is not a directory shard")));
    };
    let name = format!("directory shard {shard}");
    let rows = DirectoryRows::open(DurableSql(state.storage().sql()))
        .map_err(|e| Error::internal(format!("could not open {name}: {e}")))?;
    let path = req.path();
    match (req.method(), path.as_str()) {
        (Method::Post, ADD) => {
            let body = req.text().await.map_err(internal)?;
            let add: AddRequest = serde_json::from_str(&body)
                .map_err(|e| Error::internal(format!("internal directory add with a bad body: {e}")))?;
            if add.users.len() > ADD_MAX {
                return Err(Error::internal(format!("internal directory add of {} users", add.users.len())));
            }
            let added = rows.add(&add.users, now_ms()).map_err(|e| Error::internal(format!("{name}: {e}")))?;
            let answer = serde_json::to_string(&AddAnswer { added }).map_err(|e| Error::internal(e.to_string()))?;
            respond::json(200, answer).map_err(internal)
        }
        (Method::Get, PAGE) => {
            let url = Url::of(req);
            let query = PageQuery::parse(query_param(&url, "after").as_deref(), query_param(&url, "limit").as_deref())?;
            let page = rows.page(&query).map_err(|e| Error::internal(format!("{name}: {e}")))?;
            let answer = serde_json::to_string(&page).map_err(|e| Error::internal(e.to_string()))?;
            respond::json(200, answer).map_err(internal)
        }
        (Method::Post, device_owners::CLAIM | device_owners::RELEASE) => {
            let body = req.text().await.map_err(internal)?;
            let claim: DeviceClaim = serde_json::from_str(&body)
                .map_err(|e| Error::internal(format!("internal device claim with a bad body: {e}")))?;
            let owners = DeviceOwners::open(DurableSql(state.storage().sql()))
                .map_err(|e| Error::internal(format!("could not open {name}'s devices: {e}")))?;
            let failed = |e| Error::internal(format!("{name}'s devices: {e}"));
            let answer = if path == device_owners::CLAIM {
                serde_json::to_string(&owners.claim(&claim).map_err(failed)?)
            } else {
                serde_json::to_string(&owners.release(&claim).map_err(failed)?)
            };
            respond::json(200, answer.map_err(|e| Error::internal(e.to_string()))?).map_err(internal)
        }
        _ => Err(Error::new(ErrorCode::NotFound, format!("no internal route {path} on a directory shard"))),
    }
}
