//! The REST bodies and page queries under generated input (`support/checks/rest.rs`).

mod props;

use herald_tests::checks::rest;
use props::gen::{json, key, nesting, odd_number, odd_string, valid_or_mutated};
use props::{config, within};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// A value for a body's field: one each reader takes, or not.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            json!("hi"), json!("bob"), json!(["bob", "carol"]), json!(["bob", "bob"]), json!(7), json!(1),
            json!("high"), json!(4), json!({"urgency": "high", "ttl": 60, "channels": ["email"]}),
            json!({"send_at": 1_793_610_060_000_i64, "idempotency_key": "k1"}), json!("ios"), json!("android"),
            json!("a".repeat(64)), json!("fcm-token-0123456789abcdefghijklmnop"), json!("https://fcm.googleapis.com/fcm/send/x"),
            json!({"p256dh": "BNcR", "auth": "tBHI"}), json!("bob@example.com"), json!("+447700900123"),
            json!({"start": "22:00", "end": "07:00", "utc_offset_minutes": 60}), json!(["email", "sms"]),
            json!("chat"), json!({"text": "hi"}), json!(null), json!("x".repeat(5000)),
        ]),
        2 => json(),
        1 => odd_string(20).prop_map(Value::from),
        1 => odd_number().prop_map(|n| serde_json::from_str(&n).unwrap_or(Value::Null)),
    ]
}

fn body() -> impl Strategy<Value = String> {
    let object = proptest::collection::vec((key(), field_value()), 0..5)
        .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>()).to_string());
    prop_oneof![6 => valid_or_mutated(object), 1 => odd_string(30), 1 => nesting(), 1 => json().prop_map(|v| v.to_string())]
}

fn param() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        3 => "[0-9]{1,4}",
        1 => odd_number(),
        1 => proptest::sample::select(vec!["newest", "oldest", "bob", "", "0", "-1", "+5", " 5"]).prop_map(str::to_owned),
        1 => odd_string(8),
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_body_is_refused_with_a_body_code_or_read_within_the_documented_limits(
        body in body(),
        header_key in proptest::option::of(odd_string(140)),
    ) {
        let header_key = header_key.as_deref().map(rest::header_key);
        within(body.len(), || rest::body(&body, header_key));
    }

    #[test]
    fn any_page_query_is_refused_with_invalid_field_or_read_back_from_its_own_query(
        a in param(),
        b in param(),
        c in param(),
    ) {
        rest::page(a.as_deref(), b.as_deref(), c.as_deref());
    }
}
