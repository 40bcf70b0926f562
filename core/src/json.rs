//! Reading a JSON object the way every body and frame is read: not JSON → `malformed_json`;
//! JSON but not an object, or an object of the wrong shape → `invalid_field`.

use crate::error::{Error, ErrorCode};
use serde::Deserialize;

/// Parses `text` as a JSON object into `T`. `what` names it in messages ("frame", "body").
///
/// serde's derived structs also accept JSON arrays (fields by position); Herald's bodies and
/// frames are objects only, so anything else is refused here, before it can be misread.
pub fn object<'a, T: Deserialize<'a>>(text: &'a str, what: &str) -> Result<T, Error> {
    let parsed = serde_json::from_str::<T>(text);
    if let Err(e) = &parsed {
        if !e.is_data() {
            return Err(Error::new(ErrorCode::MalformedJson, format!("the {what} is not valid JSON: {e}")));
        }
    }
    if !text.trim_start().starts_with('{') {
        return Err(Error::new(ErrorCode::InvalidField, format!("the {what} must be a JSON object")));
    }
    parsed.map_err(|e| Error::new(ErrorCode::InvalidField, format!("the {what} is not a valid object: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Pair {
        a: Option<u32>,
        b: Option<u32>,
    }

    #[test]
    fn objects_parse_and_everything_else_is_coded() {
        assert!(object::<Pair>(r#" {"a":1}"#, "body").is_ok());
        assert_eq!(object::<Pair>("{nope", "body").unwrap_err().code, ErrorCode::MalformedJson);
        assert_eq!(object::<Pair>("", "body").unwrap_err().code, ErrorCode::MalformedJson);
        let array = object::<Pair>("[1,2]", "body").unwrap_err();
        assert_eq!((array.code, array.message.as_str()), (ErrorCode::InvalidField, "the body must be a JSON object"));
        assert_eq!(object::<Pair>("7", "body").unwrap_err().code, ErrorCode::InvalidField);
        let dup = object::<Pair>(r#"{"a":1,"a":2}"#, "body").unwrap_err();
        assert_eq!(dup.code, ErrorCode::InvalidField);
        assert!(dup.message.contains("duplicate"), "{}", dup.message);
    }
}
