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

/// A field that one variant of a tagged enum needs, for the hand-written `Deserialize` of those
/// enums.
///
/// serde's derive reads an internally tagged (`#[serde(tag = ...)]`), untagged or flattened
/// type by buffering its input in a generic tree first: slower, and a second generic reader in
/// the wasm. Herald's few such types (`FanoutTask`, `Device`, `MemberCommand`, `DeliveryItem`)
/// read into one struct of optional fields instead and pick the variant by the tag: the same
/// JSON as the derive reads and writes, refused with the same errors when the tag is unknown or
/// a variant's field is missing.
pub fn required<T, E: serde::de::Error>(value: Option<T>, field: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(field))
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

    /// The hand-written readers of the tagged enums against what the derive writes.
    #[test]
    fn tagged_enums_read_what_they_write_and_refuse_an_unknown_tag_or_a_missing_field() {
        use crate::exchange::requests::Device;
        use crate::ids::{User, UserId};
        use crate::internal::{DeliveryItem, MemberCommand, MemberOp};
        fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(value: T) {
            let text = serde_json::to_string(&value).unwrap();
            assert_eq!(serde_json::from_str::<T>(&text).unwrap(), value, "{text}");
        }
        let user = User { id: UserId::parse("ann").unwrap(), name: Some("Ann".into()), avatar: None };
        let join = MemberOp::Join { user, expires_at: 9, since: Some(3), tag: Some("sid".into()) };
        for op in [join, MemberOp::Frame { text: "{}".into() }, MemberOp::Leave] {
            round_trip(MemberCommand { conn: "c1".into(), op });
        }
        let sparse = r#"{"conn":"c","op":"join","user":{"id":"ann"},"expires_at":9}"#;
        let MemberCommand { op: MemberOp::Join { since, tag, .. }, .. } = serde_json::from_str(sparse).unwrap() else {
            panic!("not a join")
        };
        assert_eq!((since, tag), (None, None));
        round_trip(DeliveryItem::Frame { to: vec!["a".into(), "b".into()], text: "{}".into() });
        round_trip(DeliveryItem::Close { to: "a".into() });
        round_trip(Device::Ios { token: "ab".into() });
        round_trip(Device::Android { token: "t".into() });
        round_trip(Device::WebPush {
            endpoint: "https://fcm.googleapis.com/fcm/send/x".into(),
            expiration_time: None,
            p256dh: "k".into(),
            auth: "a".into(),
        });

        let error = |text: &str| -> String {
            let command = serde_json::from_str::<MemberCommand>(text).err();
            let item = serde_json::from_str::<DeliveryItem>(text).err();
            let device = serde_json::from_str::<Device>(text).err();
            [command, item, device].into_iter().flatten().map(|e| e.to_string()).collect::<Vec<_>>().join(" | ")
        };
        assert!(error(r#"{"conn":"c","op":"dance"}"#)
            .contains("unknown variant `dance`, expected one of `join`, `frame`, `leave`"));
        assert!(error(r#"{"conn":"c","op":"frame"}"#).contains("missing field `text`"));
        assert!(error(r#"{"conn":"c","op":"join","user":{"id":"ann"}}"#).contains("missing field `expires_at`"));
        assert!(error(r#"{"kind":"frame","to":"a","text":"{}"}"#).contains("expected a sequence"));
        assert!(error(r#"{"kind":"close","to":["a"]}"#).contains("expected a string"));
        assert!(error(r#"{"kind":"webpush","endpoint":"e","auth":"a"}"#).contains("missing field `p256dh`"));
        assert!(error(r#"{"kind":"windows","token":"t"}"#)
            .contains("unknown variant `windows`, expected one of `ios`, `android`, `webpush`"));
        assert!(error(r#"{"token":"t"}"#).contains("missing field `kind`"));
    }
}
