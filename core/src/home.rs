//! Where a Socket.IO session lives: its *home* object, named in the Engine.IO `sid` so that
//! every polling request and the websocket upgrade of a session reach the same object through
//! any Worker — no sticky sessions (see "Where a connection lives" in the design).
//!
//! A sid is `{home}.{session}`, both lowercase hex. The home-choice policy is
//! [`choose_home`]: one home per session for now. Sharding many sessions into one home (by
//! location and a hash) would bound a room's fan-out by the number of homes instead; only
//! this function changes for that.

/// Length of a home id and of a session's own part, in hex characters.
const PART_LEN: usize = 16;

/// The home for a new session, given 32 fresh hex characters.
pub fn choose_home(fresh: &str) -> &str {
    &fresh[..PART_LEN]
}

/// The sid of a new session in `home`, given 32 fresh hex characters.
pub fn new_sid(home: &str, fresh: &str) -> String {
    format!("{home}.{}", &fresh[PART_LEN..])
}

/// The home a sid names, when the sid is well-formed.
pub fn home_of(sid: &str) -> Option<&str> {
    let (home, session) = sid.split_once('.')?;
    (is_home_id(home) && is_home_id(session)).then_some(home)
}

/// Whether `part` is a home id (or a session's own part): [`PART_LEN`] lowercase hex characters.
pub fn is_home_id(part: &str) -> bool {
    part.len() == PART_LEN && part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The Durable Object name of a home.
pub fn object_name(home: &str) -> String {
    format!("home:{home}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRESH: &str = "0123456789abcdeffedcba9876543210";

    #[test]
    fn a_new_sid_names_its_home() {
        let home = choose_home(FRESH);
        let sid = new_sid(home, FRESH);
        assert_eq!(sid, "0123456789abcdef.fedcba9876543210");
        assert_eq!(home_of(&sid), Some(home));
        assert_eq!(object_name(home), "home:0123456789abcdef");
    }

    #[test]
    fn malformed_sids_name_no_home() {
        for sid in ["", "abc", "0123456789abcdef", "0123456789abcdef.xyz", "0123456789ABCDEF.fedcba9876543210"] {
            assert_eq!(home_of(sid), None, "{sid}");
        }
    }
}
