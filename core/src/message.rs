//! A message before it has a place in a room's order: what a publish carries, validated the
//! same way whether it came over a websocket or REST.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// Longest event name, in bytes.
pub const EVENT_MAX: usize = 128;
/// Longest message id / idempotency key, in bytes.
pub const KEY_MAX: usize = 128;

/// A message to publish: an event name, free JSON data, and an optional idempotency key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    pub event: String,
    /// The data exactly as the publisher wrote it (any JSON value).
    pub data: Box<RawValue>,
    /// The publisher's idempotency key; it becomes the message's `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl PartialEq for Draft {
    fn eq(&self, other: &Self) -> bool {
        self.event == other.event && self.data.get() == other.data.get() && self.key == other.key
    }
}

impl Draft {
    /// Checks the fields of a publish, naming the first one that is wrong.
    pub fn new(event: Option<&Value>, data: Option<&RawValue>, key: Option<&Value>) -> Result<Self, Error> {
        let event = match event {
            Some(Value::String(e)) => e,
            Some(_) => return Err(Error::invalid_field("event", "must be a string")),
            None => return Err(Error::invalid_field("event", "is required")),
        };
        check_name("event", event, EVENT_MAX)?;
        let key = match key {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => {
                check_name("id", k, KEY_MAX)?;
                Some(k.clone())
            }
            Some(_) => return Err(Error::invalid_field("id", "must be a string")),
        };
        let data = data.map(ToOwned::to_owned).unwrap_or_else(null);
        Ok(Self { event: event.clone(), data, key })
    }

    /// A REST body `{event, data}` with the key from the `Idempotency-Key` header.
    pub fn from_rest_body(body: &str, idempotency_key: Option<&str>) -> Result<Self, Error> {
        #[derive(Deserialize)]
        struct Body<'a> {
            event: Option<Value>,
            #[serde(borrow)]
            data: Option<&'a RawValue>,
        }
        let body: Body<'_> = crate::json::object(body, "body")?;
        let key = idempotency_key.map(|k| Value::String(k.to_owned()));
        Self::new(body.event.as_ref(), body.data, key.as_ref())
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

/// A name or key: 1 to `max` bytes, no control characters.
fn check_name(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid_field(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(Error::invalid_field(field, format!("must be at most {max} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_field(field, "must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn rest_bodies_take_the_key_from_the_header() {
        let d = Draft::from_rest_body(r#"{"event":"e","data":[1,2]}"#, Some("k")).unwrap();
        assert_eq!((d.event.as_str(), d.data.get(), d.key.as_deref()), ("e", "[1,2]", Some("k")));
    }

    #[test]
    fn rest_bodies_are_refused_with_codes() {
        assert_eq!(Draft::from_rest_body("nope", None).unwrap_err().code, ErrorCode::MalformedJson);
        assert_eq!(Draft::from_rest_body("[]", None).unwrap_err().code, ErrorCode::InvalidField);
        assert_eq!(Draft::from_rest_body(r#"["chat",{"y":2}]"#, None).unwrap_err().code, ErrorCode::InvalidField);
        assert_eq!(Draft::from_rest_body(r#"{"data":1}"#, None).unwrap_err().code, ErrorCode::InvalidField);
        assert_eq!(Draft::from_rest_body(r#"{"event":""}"#, None).unwrap_err().code, ErrorCode::InvalidField);
        let long = "k".repeat(KEY_MAX + 1);
        assert_eq!(Draft::from_rest_body(r#"{"event":"e"}"#, Some(&long)).unwrap_err().code, ErrorCode::InvalidField);
    }
}
