//! Room patterns in the `rooms` claim: a room id where `*` stands for any run of characters.
//! `"lobby"` is one room, `"team-*"` every room starting `team-`, `"*"` every room.

use serde::{Deserialize, Serialize};

/// Longest pattern, in bytes.
const PATTERN_MAX: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomPattern(String);

impl RoomPattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > PATTERN_MAX {
            return Err(format!("room pattern {raw:?} must be 1-{PATTERN_MAX} bytes"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn matches(&self, room: &str) -> bool {
        glob(self.0.as_bytes(), room.as_bytes())
    }
}

/// `*`-only glob match, iterative with one backtrack point: O(pattern × text) at worst.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more character and retry from there.
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, room: &str) -> bool {
        RoomPattern::parse(pattern).unwrap().matches(room)
    }

    #[test]
    fn exact_patterns_match_only_themselves() {
        assert!(m("lobby", "lobby"));
        assert!(!m("lobby", "lobby2"));
        assert!(!m("lobby", "lobb"));
    }

    #[test]
    fn stars_match_any_run_including_empty() {
        assert!(m("*", "anything"));
        assert!(m("team-*", "team-"));
        assert!(m("team-*", "team-42"));
        assert!(!m("team-*", "teams-42"));
        assert!(m("*:general", "acme:general"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("a**", "a"));
    }
}
