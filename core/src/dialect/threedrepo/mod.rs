//! The `threedrepo` dialect (placeholder: being written).

use super::session::Auth;
use super::{Dialect, Effect, RoomEvent};
use crate::ids::RoomId;
use crate::socketio::connection::{Connection, Incoming};

#[derive(Debug)]
pub struct ThreeDRepo {
    #[allow(dead_code)]
    auth: Auth,
}

impl ThreeDRepo {
    pub fn new(auth: Auth) -> Self {
        Self { auth }
    }
}

impl Dialect for ThreeDRepo {
    fn on_incoming(&mut self, _: &mut Connection, _: Incoming, _: i64, _: &mut dyn FnMut() -> String) -> Vec<Effect> {
        vec![Effect::Close]
    }

    fn on_room(&mut self, _: &RoomId, _: RoomEvent<'_>, _: i64) -> Option<Vec<Effect>> {
        None
    }

    fn on_closed(&mut self) -> Vec<Effect> {
        Vec::new()
    }
}
