//! A connection's status and focus as the native protocol carries them (docs/protocol.md,
//! "status" and "focus"); the room aggregates them across a user's connections.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest focus, in bytes.
pub const FOCUS_MAX: usize = 128;

/// A status; the order is the aggregate's (the highest wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Offline,
    Idle,
    Online,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Idle => "idle",
            Self::Online => "online",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "offline" => Some(Self::Offline),
            "idle" => Some(Self::Idle),
            "online" => Some(Self::Online),
            _ => None,
        }
    }

    /// The field `field` of a frame or event, which must be one of the three statuses.
    pub fn from_field(field: &str, value: Option<&Value>) -> Result<Self, Error> {
        match value {
            Some(Value::String(text)) => Self::parse(text)
                .ok_or_else(|| Error::invalid_field(field, "must be \"online\", \"idle\" or \"offline\"")),
            Some(_) => Err(Error::invalid_field(field, "must be \"online\", \"idle\" or \"offline\"")),
            None => Err(Error::invalid_field(field, "is required")),
        }
    }
}

/// The `focus` of a frame or event: a string of 1 to [`FOCUS_MAX`] bytes, or null (or absent)
/// for none.
pub fn focus_from_field(field: &str, value: Option<&Value>) -> Result<Option<String>, Error> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if !text.is_empty() && text.len() <= FOCUS_MAX => Ok(Some(text.clone())),
        Some(_) => Err(Error::invalid_field(field, format!("must be a string of 1 to {FOCUS_MAX} bytes, or null"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_order_online_over_idle_over_offline() {
        assert!(Status::Online > Status::Idle && Status::Idle > Status::Offline);
        assert_eq!(serde_json::to_value(Status::Idle).unwrap(), json!("idle"));
        assert_eq!(Status::parse("online"), Some(Status::Online));
        assert_eq!(Status::parse("Online"), None);
    }

    #[test]
    fn fields_are_checked_by_name() {
        assert_eq!(Status::from_field("status", Some(&json!("idle"))), Ok(Status::Idle));
        let away = Status::from_field("status", Some(&json!("away"))).unwrap_err();
        assert!(away.message.contains("`status`"), "{away:?}");
        assert_eq!(Status::from_field("s", None).unwrap_err().details, Some(json!({ "field": "s" })));
        assert_eq!(focus_from_field("focus", Some(&json!("c1"))), Ok(Some("c1".into())));
        assert_eq!(focus_from_field("focus", Some(&Value::Null)), Ok(None));
        assert_eq!(focus_from_field("focus", None), Ok(None));
        assert!(focus_from_field("focus", Some(&json!(""))).is_err());
        assert!(focus_from_field("focus", Some(&json!(7))).is_err());
        assert!(focus_from_field("focus", Some(&json!("x".repeat(FOCUS_MAX + 1)))).is_err());
    }
}
