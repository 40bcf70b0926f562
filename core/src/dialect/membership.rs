//! The rooms a Socket.IO session is in: one membership machine for every dialect.
//!
//! A membership goes Joining → Joined (the room's `welcome`) → Leaving → gone (the room closes
//! it), with the dialect's own data `T` beside it (the answers it owes, what it remembers). The
//! one leave rule: a membership is being left from the leave until its room has closed it, and
//! a join of that room meanwhile waits for that close, with the commands that follow it, then
//! goes. So the close of an old membership never ends a new one: a session that leaves
//! everything (its client left the namespace) and joins again at once stays a member. What the
//! rooms left that way say afterwards is nothing to the client ([`Update::Unseen`]).
//!
//! [`Memberships`] turns a dialect's wishes into [`RoomCommand`]s and the room's events into
//! [`Update`]s; what a frame means is the dialect's to read.

use super::{Effect, RoomCommand, RoomEvent};
use crate::error::{Error, ErrorCode};
use crate::ids::RoomId;
use crate::vec_map::VecMap;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Asked to join; no `welcome` yet (or waiting for the membership before it to close).
    Joining,
    Joined,
    /// Asked to leave; the room has not closed the membership yet.
    Leaving,
}

#[derive(Debug)]
pub struct Memberships<T> {
    rooms: VecMap<RoomId, Membership<T>>,
}

#[derive(Debug)]
struct Membership<T> {
    phase: Phase,
    data: T,
    /// A join of the room while this membership is being left: its data and its commands (the
    /// join first), sent once the room has closed this one.
    next: Option<Box<(T, Vec<RoomCommand>)>>,
    /// Left with every room at once ([`Memberships::leave_all`]): nothing of it reaches the
    /// dialect any more.
    silent: bool,
}

/// What a leave did.
#[derive(Debug, PartialEq)]
pub enum Leave<T> {
    /// The room is asked to close the membership.
    Sent(Effect),
    /// It cancelled a join that was waiting (which never reached the room): its data.
    Cancelled(T),
}

/// What a room's event means for the session.
#[derive(Debug, PartialEq)]
pub enum Update<'m, 'e, T> {
    /// A frame for the membership, in `phase`. A `welcome` moved it from Joining to Joined,
    /// and `joining` says it did (it answers the join).
    Frame { phase: Phase, joining: bool, data: &'m mut T },
    /// The room closed the membership: as asked (`asked`, after a leave), or on its own (after
    /// an `error` frame it sent, or a refused join); `failed` when it could not be reached.
    /// `then`: the commands of a join that waited for this, to send now; the room is joined
    /// again (its data is the dialect's once more).
    Ended { asked: bool, failed: Option<&'e Error>, data: T, then: Vec<Effect> },
    /// An event of a membership left with every room at once: nothing for the client. `then`
    /// as for [`Update::Ended`] when it is the room's close; `failed` when that close was a
    /// failure to reach the room.
    Unseen { failed: Option<&'e Error>, then: Vec<Effect> },
}

impl<T> Default for Memberships<T> {
    fn default() -> Self {
        Self { rooms: VecMap::new() }
    }
}

impl<T> Memberships<T> {
    /// The phase of `room` as the client's requests see it: a join waiting for the membership
    /// before it to close is Joining.
    pub fn phase(&self, room: &RoomId) -> Option<Phase> {
        self.rooms.get(room).map(|m| if m.next.is_some() { Phase::Joining } else { m.phase })
    }

    /// The membership the client's requests for `room` are about, and its data: a join that
    /// waits, or else the one the room holds.
    pub fn addressed(&mut self, room: &RoomId) -> Option<(Phase, &mut T)> {
        let membership = self.rooms.get_mut(room)?;
        Some(match &mut membership.next {
            Some(next) => (Phase::Joining, &mut next.0),
            None => (membership.phase, &mut membership.data),
        })
    }

    /// Rooms joined or being joined (not those being left, unless joined again).
    pub fn active(&self) -> impl Iterator<Item = &RoomId> {
        self.rooms.iter().filter(|(_, m)| m.phase != Phase::Leaving || m.next.is_some()).map(|(room, _)| room)
    }

    /// Whether a join of `room` would be taken now (it is not joined, or only being left).
    pub fn may_join(&self, room: &RoomId) -> Result<(), Error> {
        match self.phase(room) {
            None | Some(Phase::Leaving) => Ok(()),
            Some(_) => Err(Error::new(ErrorCode::AlreadyJoined, format!("room {room} is already joined"))),
        }
    }

    /// Asks to join `room` with `command` (a [`RoomCommand::Join`]) and `data`: the command to
    /// send now, or none when it waits for the membership being left to close.
    pub fn join(&mut self, room: &RoomId, command: RoomCommand, data: T) -> Result<Option<Effect>, Error> {
        self.may_join(room)?;
        match self.rooms.get_mut(room) {
            Some(leaving) => {
                leaving.next = Some(Box::new((data, vec![command])));
                Ok(None)
            }
            None => {
                self.rooms.insert(room.clone(), Membership { phase: Phase::Joining, data, next: None, silent: false });
                Ok(Some(Effect::Room { room: room.clone(), command }))
            }
        }
    }

    /// Any other command of the member for `room`, which must be joined or being joined
    /// (commands keep their order, so one right after the join is the member's): to send now,
    /// or none when it follows a join that waits.
    pub fn send(&mut self, room: &RoomId, command: RoomCommand) -> Result<Option<Effect>, Error> {
        let membership = self.rooms.get_mut(room).ok_or_else(|| not_joined(room))?;
        match (&mut membership.next, membership.phase) {
            (Some(next), _) => {
                next.1.push(command);
                Ok(None)
            }
            (None, Phase::Joining | Phase::Joined) => Ok(Some(Effect::Room { room: room.clone(), command })),
            (None, Phase::Leaving) => Err(not_joined(room)),
        }
    }

    /// Asks to leave `room`.
    pub fn leave(&mut self, room: &RoomId) -> Result<Leave<T>, Error> {
        let membership = self.rooms.get_mut(room).ok_or_else(|| not_joined(room))?;
        if let Some(next) = membership.next.take() {
            return Ok(Leave::Cancelled(next.0));
        }
        match membership.phase {
            Phase::Leaving => Err(not_joined(room)),
            _ => {
                membership.phase = Phase::Leaving;
                Ok(Leave::Sent(Effect::Room { room: room.clone(), command: RoomCommand::Leave }))
            }
        }
    }

    /// Leaves every room at once (the client left the namespace, or the session ended); the
    /// joins that waited are cancelled (their data is returned). Each membership stays Leaving
    /// until its room closes it, and what its room says meanwhile is [`Update::Unseen`].
    pub fn leave_all(&mut self) -> (Vec<Effect>, Vec<T>) {
        let mut effects = Vec::new();
        let mut cancelled = Vec::new();
        for (room, membership) in self.rooms.iter_mut() {
            membership.silent = true;
            if let Some(next) = membership.next.take() {
                cancelled.push(next.0);
            } else if membership.phase != Phase::Leaving {
                membership.phase = Phase::Leaving;
                effects.push(Effect::Room { room: room.clone(), command: RoomCommand::Leave });
            }
        }
        (effects, cancelled)
    }

    /// A room's event; `None` when this session has no membership there.
    pub fn on_room<'m, 'e>(&'m mut self, room: &RoomId, event: RoomEvent<'e>) -> Option<Update<'m, 'e, T>> {
        let (failed, text) = match event {
            RoomEvent::Frame(text) => (None, Some(text)),
            RoomEvent::Closed => (None, None),
            RoomEvent::Failed(error) => (Some(error), None),
        };
        if let Some(text) = text {
            let membership = self.rooms.get_mut(room)?;
            if membership.silent {
                return Some(Update::Unseen { failed: None, then: Vec::new() });
            }
            let phase = membership.phase;
            let joining = phase == Phase::Joining && is_welcome(text);
            if joining {
                membership.phase = Phase::Joined;
            }
            return Some(Update::Frame { phase, joining, data: &mut membership.data });
        }
        let ended = self.rooms.remove(room)?;
        let asked = ended.phase == Phase::Leaving;
        let then = match ended.next {
            Some(next) => {
                let (data, commands) = *next;
                self.rooms.insert(room.clone(), Membership { phase: Phase::Joining, data, next: None, silent: false });
                commands.into_iter().map(|command| Effect::Room { room: room.clone(), command }).collect()
            }
            None => Vec::new(),
        };
        if ended.silent {
            return Some(Update::Unseen { failed, then });
        }
        Some(Update::Ended { asked, failed, data: ended.data, then })
    }
}

/// A native publish of `event` with `data`, as a member sends it.
pub fn publish(event: &str, data: &Value) -> RoomCommand {
    RoomCommand::Frame(json!({ "type": "publish", "event": event, "data": data }).to_string())
}

/// Whether a room's frame is its `welcome` (frames are written with their `type` first).
pub fn is_welcome(text: &str) -> bool {
    text.starts_with(r#"{"type":"welcome""#)
}

pub fn not_joined(room: &RoomId) -> Error {
    Error::new(ErrorCode::NotJoined, format!("room {room} is not joined"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{User, UserId};

    fn room(id: &str) -> RoomId {
        RoomId::parse(id).unwrap()
    }

    fn join_command() -> RoomCommand {
        let user = User::anonymous_profile(UserId::parse("u").unwrap());
        RoomCommand::Join { user, expires_at: 10, since: None, tag: None }
    }

    fn frame(text: &str) -> RoomCommand {
        RoomCommand::Frame(text.into())
    }

    const WELCOME: &str = r#"{"type":"welcome","conn":"c","user":{"id":"u"},"room":"r","seq":0}"#;

    #[test]
    fn a_membership_goes_joining_joined_leaving_gone() {
        let mut rooms = Memberships::default();
        let r = room("r");
        let sent = rooms.join(&r, join_command(), 1).unwrap();
        assert!(matches!(sent, Some(Effect::Room { command: RoomCommand::Join { .. }, .. })));
        assert_eq!(rooms.join(&r, join_command(), 2).unwrap_err().code, ErrorCode::AlreadyJoined);
        assert!(rooms.send(&r, frame("p")).unwrap().is_some(), "a frame may follow the join at once");
        let update = rooms.on_room(&r, RoomEvent::Frame(WELCOME));
        assert_eq!(update, Some(Update::Frame { phase: Phase::Joining, joining: true, data: &mut 1 }));
        assert_eq!(rooms.phase(&r), Some(Phase::Joined));
        assert!(matches!(rooms.leave(&r), Ok(Leave::Sent(Effect::Room { command: RoomCommand::Leave, .. }))));
        assert_eq!(rooms.send(&r, frame("p")).unwrap_err().code, ErrorCode::NotJoined);
        assert_eq!(rooms.leave(&r).unwrap_err().code, ErrorCode::NotJoined);
        let ended = rooms.on_room(&r, RoomEvent::Closed);
        assert_eq!(ended, Some(Update::Ended { asked: true, failed: None, data: 1, then: vec![] }));
        assert_eq!(rooms.on_room(&r, RoomEvent::Closed), None);
    }

    #[test]
    fn a_room_ending_a_membership_on_its_own_is_told_apart_from_a_leave() {
        let mut rooms = Memberships::default();
        let r = room("r");
        rooms.join(&r, join_command(), ()).unwrap();
        let ended = rooms.on_room(&r, RoomEvent::Closed);
        assert_eq!(ended, Some(Update::Ended { asked: false, failed: None, data: (), then: vec![] }));
        rooms.join(&r, join_command(), ()).unwrap();
        let error = Error::internal("down");
        let failed = rooms.on_room(&r, RoomEvent::Failed(&error));
        assert_eq!(failed, Some(Update::Ended { asked: false, failed: Some(&error), data: (), then: vec![] }));
        assert_eq!(rooms.phase(&r), None);
    }

    #[test]
    fn a_join_while_the_room_is_being_left_waits_for_its_close_with_what_follows_it() {
        let mut rooms = Memberships::default();
        let (a, b) = (room("a"), room("b"));
        rooms.join(&a, join_command(), "old a").unwrap();
        rooms.join(&b, join_command(), "old b").unwrap();
        assert!(matches!(rooms.leave(&a), Ok(Leave::Sent(_))));
        let (leaves, cancelled) = rooms.leave_all();
        assert_eq!(leaves, vec![Effect::Room { room: b.clone(), command: RoomCommand::Leave }], "a is left already");
        assert!(cancelled.is_empty());
        assert_eq!(rooms.active().count(), 0);
        // Joined again before the room closed the old membership: nothing goes yet.
        assert_eq!(rooms.join(&b, join_command(), "new b").unwrap(), None);
        assert_eq!(rooms.phase(&b), Some(Phase::Joining));
        assert_eq!(rooms.send(&b, frame("p")).unwrap(), None);
        assert_eq!(rooms.join(&b, join_command(), "again").unwrap_err().code, ErrorCode::AlreadyJoined);
        assert_eq!(rooms.addressed(&b).map(|(_, data)| *data), Some("new b"));
        // What the rooms left all at once say is nothing to the client; one left on its own
        // still has its frames.
        let message = r#"{"type":"message","room":"b","seq":1}"#;
        let update = rooms.on_room(&b, RoomEvent::Frame(message));
        assert_eq!(update, Some(Update::Unseen { failed: None, then: vec![] }));
        let update = rooms.on_room(&a, RoomEvent::Frame(message));
        assert_eq!(update, Some(Update::Unseen { failed: None, then: vec![] }), "a was left again with all");
        // The old membership's close sends the join and the frame after it, in order.
        let Some(Update::Unseen { failed: None, then }) = rooms.on_room(&b, RoomEvent::Closed) else {
            panic!("the old membership ends unseen")
        };
        let commands: Vec<&RoomCommand> = then
            .iter()
            .map(|effect| match effect {
                Effect::Room { command, .. } => command,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(matches!(commands.as_slice(), [RoomCommand::Join { .. }, RoomCommand::Frame(p)] if p == "p"));
        assert_eq!(rooms.phase(&b), Some(Phase::Joining));
        assert_eq!(rooms.active().collect::<Vec<_>>(), vec![&b]);
        let update = rooms.on_room(&b, RoomEvent::Frame(WELCOME));
        assert_eq!(update, Some(Update::Frame { phase: Phase::Joining, joining: true, data: &mut "new b" }));
    }

    #[test]
    fn a_leave_or_leaving_everything_cancels_a_join_that_waits() {
        let mut rooms = Memberships::default();
        let r = room("r");
        rooms.join(&r, join_command(), 1).unwrap();
        rooms.leave(&r).unwrap();
        assert_eq!(rooms.join(&r, join_command(), 2).unwrap(), None);
        assert_eq!(rooms.leave(&r).unwrap(), Leave::Cancelled(2));
        assert_eq!(rooms.phase(&r), Some(Phase::Leaving));
        assert_eq!(rooms.join(&r, join_command(), 3).unwrap(), None);
        assert_eq!(rooms.leave_all(), (vec![], vec![3]), "the first is being left already");
        let error = Error::internal("down");
        let ended = rooms.on_room(&r, RoomEvent::Failed(&error));
        assert_eq!(ended, Some(Update::Unseen { failed: Some(&error), then: vec![] }));
        assert_eq!(rooms.phase(&r), None);
    }

    #[test]
    fn a_membership_left_on_its_own_keeps_its_frames_until_its_close() {
        let mut rooms = Memberships::default();
        let r = room("r");
        rooms.join(&r, join_command(), 1).unwrap();
        rooms.leave(&r).unwrap();
        let message = r#"{"type":"message","room":"r","seq":1}"#;
        let update = rooms.on_room(&r, RoomEvent::Frame(message));
        assert_eq!(update, Some(Update::Frame { phase: Phase::Leaving, joining: false, data: &mut 1 }));
        let ended = rooms.on_room(&r, RoomEvent::Closed);
        assert_eq!(ended, Some(Update::Ended { asked: true, failed: None, data: 1, then: vec![] }));
    }

    #[test]
    fn only_a_welcome_while_joining_joins() {
        assert!(is_welcome(WELCOME));
        assert!(!is_welcome(r#"{"seq":0,"type":"welcome"}"#), "the room writes the type first");
        let mut rooms = Memberships::default();
        let r = room("r");
        rooms.join(&r, join_command(), ()).unwrap();
        let presence = r#"{"type":"presence","members":[]}"#;
        let update = rooms.on_room(&r, RoomEvent::Frame(presence));
        assert_eq!(update, Some(Update::Frame { phase: Phase::Joining, joining: false, data: &mut () }));
        rooms.on_room(&r, RoomEvent::Frame(WELCOME));
        let again = rooms.on_room(&r, RoomEvent::Frame(WELCOME));
        assert_eq!(again, Some(Update::Frame { phase: Phase::Joined, joining: false, data: &mut () }));
    }
}
