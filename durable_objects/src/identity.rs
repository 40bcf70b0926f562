//! The object's name, known however it was woken ([`herald_core::object`]): from the call that
//! names it ([`OBJECT`]), from its own storage when an alarm or a websocket event wakes it, and
//! only as a last resort from the runtime (which knows it for calls made by name, but not for an
//! alarm in a process where nothing has named the object yet).

use crate::sql::DurableSql;
use herald_core::error::Error;
use herald_core::internal::OBJECT;
use herald_core::object::{learn, Learned, Role, StoredName};
use herald_platform::respond::internal;
use std::cell::RefCell;
use worker::{Request, State};

#[derive(Default)]
pub struct Identity {
    /// The name, once known in this instance.
    name: RefCell<Option<(String, Role)>>,
}

impl Identity {
    /// The name a call tells the object (the runtime's, for a call from a Worker older than the
    /// header), stored the first time an object that keeps storage hears it.
    pub fn from_request(&self, state: &State, req: &Request) -> Result<(String, Role), Error> {
        if let Some(known) = self.name.borrow().clone() {
            return Ok(known);
        }
        let told = req.headers().get(OBJECT).map_err(internal)?.or_else(|| state.id().name());
        let Some(told) = told.filter(|name| !name.is_empty()) else {
            return Err(Error::internal("a call to an object that did not name it"));
        };
        let stored = match Role::of(&told) {
            Some(role) if role.stores_name() => Some(names(state)?),
            _ => None,
        };
        let current = stored.as_ref().map(StoredName::get).transpose().map_err(|e| stored_error(&e))?.flatten();
        let (role, learned) = learn(current.as_deref(), &told)?;
        if let (Learned::Store, Some(stored)) = (learned, &stored) {
            stored.set(&told).map_err(|e| stored_error(&e))?;
        }
        *self.name.borrow_mut() = Some((told.clone(), role.clone()));
        Ok((told, role))
    }

    /// The name when no call tells it (an alarm, a websocket event after hibernation): the one
    /// this instance heard, else the stored one, else the runtime's. `None` when nobody knows.
    pub fn recall(&self, state: &State) -> Option<(String, Role)> {
        if let Some(known) = self.name.borrow().clone() {
            return Some(known);
        }
        let stored = names(state).ok().and_then(|names| names.get().ok().flatten());
        let name = stored.or_else(|| state.id().name()).filter(|name| !name.is_empty())?;
        let role = Role::of(&name)?;
        *self.name.borrow_mut() = Some((name.clone(), role.clone()));
        Some((name, role))
    }
}

fn names(state: &State) -> Result<StoredName<DurableSql>, Error> {
    StoredName::open(DurableSql(state.storage().sql())).map_err(|e| stored_error(&e))
}

fn stored_error(e: &impl std::fmt::Display) -> Error {
    Error::internal(format!("could not read or store the object's name: {e}"))
}
