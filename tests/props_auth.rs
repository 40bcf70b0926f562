//! Tokens, JWK sets and room patterns under generated input (`support/checks/auth.rs`).

mod props;

use herald_tests::checks::auth;
use herald_tests::T0;
use props::gen::{json, mutate, odd_bytes, odd_number, odd_string, valid_or_mutated};
use props::{config, within};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// A JOSE header: the algorithms Herald takes and others, and the fields it reads, right or wrong.
fn header() -> impl Strategy<Value = Vec<u8>> {
    let alg = prop_oneof![
        4 => Just(json!("HS256")),
        1 => proptest::sample::select(vec!["ES256", "EdDSA", "none", "HS512", "RS256", "hs256", ""]).prop_map(Value::from),
        1 => json(),
    ];
    let optional = |name: &'static str, value: BoxedStrategy<Value>| {
        proptest::option::weighted(0.15, value).prop_map(move |v| (name, v))
    };
    let string = |max| odd_string(max).prop_map(Value::from);
    let header = (
        alg,
        optional("kid", prop_oneof![4 => string(8), 1 => json()].boxed()),
        optional("crit", json().boxed()),
        optional("cty", prop_oneof![2 => Just(json!("JSON")), 2 => Just(json!("json")), 1 => json()].boxed()),
        optional("typ", prop_oneof![4 => Just(json!("JWT")), 1 => json()].boxed()),
        optional(
            "x5t",
            prop_oneof![4 => Just(json!("c2hhMS10aHVtYnByaW50LTIwYnk")), 1 => string(30), 1 => json()].boxed(),
        ),
    )
        .prop_map(|(alg, kid, crit, cty, typ, x5t)| {
            let mut fields = Map::new();
            fields.insert("alg".into(), alg);
            for (name, value) in [kid, crit, cty, typ, x5t] {
                if let Some(value) = value {
                    fields.insert(name.into(), value);
                }
            }
            Value::Object(fields).to_string()
        });
    let plain = proptest::option::of("[a-z0-9]{1,6}")
        .prop_map(|kid| json!({ "alg": "HS256", "typ": "JWT", "kid": kid }).to_string().into_bytes());
    prop_oneof![8 => plain, 8 => valid_or_mutated(header).prop_map(String::into_bytes), 1 => odd_bytes(24)]
}

/// Claims: the ones Herald reads, right or wrong, timestamps of every size, and odd bytes.
fn claims() -> impl Strategy<Value = Vec<u8>> {
    let now = T0 / 1000;
    let time = prop_oneof![
        4 => (now - 1000..now + 100_000).prop_map(|t| json!(t)),
        1 => odd_number().prop_map(|n| serde_json::from_str(&n).unwrap_or(Value::Null)),
        1 => json(),
        1 => (now - 1000..now + 1000).prop_map(|t| json!(t as f64 + 0.5)),
    ];
    let text = |max| prop_oneof![4 => odd_string(max).prop_map(Value::from), 1 => json()];
    let claims = (
        proptest::option::weighted(0.9, prop_oneof![4 => "[a-z]{1,8}".prop_map(Value::from), 1 => text(140)]),
        proptest::option::weighted(0.9, time.clone()),
        proptest::option::weighted(0.2, time.clone()),
        proptest::option::weighted(0.2, time),
        proptest::option::weighted(0.3, prop_oneof![4 => odd_string(40).prop_map(Value::from), 1 => text(300)]),
        proptest::option::weighted(0.3, prop_oneof![Just(json!("admin")), json()]),
        proptest::option::weighted(
            0.3,
            prop_oneof![
                proptest::collection::vec(prop_oneof![4 => "[a-z*:-]{1,10}", 1 => odd_string(10)], 0..4)
                    .prop_map(|r| json!(r)),
                json(),
            ],
        ),
        proptest::option::weighted(0.2, prop_oneof![Just(json!("aud-1")), Just(json!(["a", "b"])), json()]),
    )
        .prop_map(|(sub, exp, nbf, iat, name, role, rooms, aud)| {
            let mut fields = Map::new();
            let all = [("sub", sub), ("exp", exp), ("nbf", nbf), ("iat", iat), ("name", name), ("role", role)];
            for (claim, value) in all.into_iter().chain([("rooms", rooms), ("aud", aud)]) {
                if let Some(value) = value {
                    fields.insert(claim.into(), value);
                }
            }
            Value::Object(fields).to_string()
        });
    let plain = ("[a-z]{1,8}", now..now + 100_000, proptest::option::of(prop_oneof![Just("admin"), Just("user")]))
        .prop_map(|(sub, exp, role)| json!({ "sub": sub, "exp": exp, "role": role }).to_string().into_bytes());
    prop_oneof![8 => plain, 8 => valid_or_mutated(claims).prop_map(String::into_bytes), 1 => odd_bytes(40)]
}

/// Text as a token: three base64url parts of anything, a real token mutated, or any text.
fn token_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (header(), claims()).prop_flat_map(|(h, c)| mutate(auth::sign(&h, &c))),
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_=+/-]{0,60}\\.[A-Za-z0-9_-]{0,90}",
        odd_string(60),
    ]
}

fn jwks() -> impl Strategy<Value = String> {
    let x = "[A-Za-z0-9_-]{0,50}";
    let key = prop_oneof![
        (x, x).prop_map(|(x, y)| json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": "k1"})),
        x.prop_map(|x| json!({"kty": "OKP", "crv": "Ed25519", "x": x})),
        Just(json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})),
        Just(
            json!({"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
        ),
        json(),
    ];
    let set = proptest::collection::vec(key, 0..3)
        .prop_flat_map(|keys| prop_oneof![Just(json!({ "keys": keys }).to_string()), Just(json!(keys).to_string())]);
    prop_oneof![4 => valid_or_mutated(set), 1 => odd_string(30)]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_as_a_token_is_refused_with_a_token_code(text in token_text()) {
        within(text.len(), || auth::token(&text, T0));
    }

    #[test]
    fn a_token_signed_with_the_right_key_is_accepted_only_when_its_header_and_claims_are_right(
        header in header(),
        claims in claims(),
    ) {
        within(header.len() + claims.len(), || auth::signed(&header, &claims));
    }

    #[test]
    fn a_valid_token_with_any_byte_changed_is_refused_unless_its_parts_decode_the_same(
        sub in "[a-z]{1,8}",
        at in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let claims = json!({ "sub": sub, "exp": T0 / 1000 + 3600 }).to_string();
        auth::tampered(&claims, at, byte);
    }

    #[test]
    fn any_jwk_set_gives_public_keys_or_says_what_is_wrong(text in jwks()) {
        within(text.len(), || auth::jwks(&text));
    }

    #[test]
    fn a_room_pattern_matches_by_its_stars_only(
        pattern in prop_oneof!["[a-c*:-]{0,6}", odd_string(8), Just("*".to_owned())],
        room in prop_oneof!["[a-c:-]{0,8}", odd_string(8)],
    ) {
        auth::pattern(&pattern, &room);
    }
}

#[test]
fn a_pattern_of_many_stars_against_a_long_room_takes_memory_in_proportion() {
    let pattern = "*a".repeat(128);
    let room = "a".repeat(128) + "b";
    let (_, held) = props::peak(|| auth::pattern(&pattern, &room));
    assert!(held < 64 * 1024, "{held}");
}
