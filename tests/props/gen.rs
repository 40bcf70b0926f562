//! Generators of the inputs a decoder must survive: odd text (controls, separators, every
//! plane of Unicode), JSON of every shape (huge numbers, deep nesting), valid inputs mutated
//! (cut short, bytes changed, pieces repeated), and invalid UTF-8 where bytes are taken.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Number, Value};

/// A character a parser may trip on: ASCII, controls (the Engine.IO separator `\x1e` among
/// them), JSON and URL syntax, and Unicode of every width (zero-width, right-to-left, emoji).
pub fn odd_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        2 => proptest::sample::select(vec![
            '"', '\\', '{', '}', '[', ']', ',', ':', '/', '%', '+', '=', '&', '?', '#', ';', '.', '*', '-', '_', '<', '>',
            '@', '0', '9', 'e', 'E',
        ]),
        1 => proptest::char::range('\0', '\x1f'),
        1 => proptest::sample::select(vec![
            '\x1e', '\x7f', '\u{85}', '\u{a0}', 'é', 'ß', '€', '\u{200b}', '\u{202e}', '\u{2028}', '\u{feff}', '\u{fffd}',
            '😀', '𝕏', '\u{10ffff}',
        ]),
        1 => any::<char>(),
    ]
}

/// Text of up to `max` odd characters.
pub fn odd_string(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(odd_char(), 0..=max).prop_map(|chars| chars.into_iter().collect())
}

/// Numbers as JSON text that break naive readers: past 64 bits, past f64, negative zero,
/// exponents.
pub fn odd_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        proptest::sample::select(vec![
            "18446744073709551616",
            "-9223372036854775809",
            "1e400",
            "-1e400",
            "1e-400",
            "-0",
            "0.0",
            "1.5",
            "1E3",
            "99999999999999999999999999999999",
            "0.1e1",
            "4294967296",
            "9007199254740993",
        ])
        .prop_map(str::to_owned),
    ]
}

/// A JSON leaf: null, a boolean, a number (integers of any size, finite floats), odd text.
pub fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        odd_string(12).prop_map(Value::String),
    ]
}

/// Any JSON value, nested a few levels.
pub fn json() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An object key: usually one a decoder looks for, sometimes any text.
pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "type", "event", "data", "id", "transaction", "status", "focus", "seq", "room", "since", "token", "msg",
            "uid", "uids", "opts", "urgency", "send_at", "ttl", "channels", "idempotency_key", "os", "endpoint", "keys",
            "p256dh", "auth", "email", "phone", "quiet_hours", "reason", "text", "from", "received", "name", "sub",
            "exp", "nbf", "iat", "aud", "iss", "rooms", "role", "alg", "kid", "crit", "_placeholder", "num", "kind",
            "to", "op", "conn", "user", "code", "message", "workspaceId", "notifications", "teamspace", "model",
        ])
        .prop_map(str::to_owned),
        1 => odd_string(8),
    ]
}

/// Text nested `depth` deep in `[` or `{"a":`, closed or not: past serde_json's recursion
/// limit (128) it must still be a refusal, never a stack overflow.
pub fn nesting() -> impl Strategy<Value = String> {
    (1usize..400, any::<bool>(), any::<bool>()).prop_map(|(depth, arrays, closed)| {
        let (open, close) = if arrays { ("[", "]") } else { (r#"{"a":"#, "}") };
        let mut text = open.repeat(depth);
        text.push('1');
        if closed {
            text.push_str(&close.repeat(depth));
        }
        text
    })
}

/// `base` changed the way a broken or hostile client changes what it sends: cut short, a
/// piece removed, odd text put in, a character replaced, a piece repeated. Always UTF-8.
pub fn mutate(base: String) -> impl Strategy<Value = String> {
    (Just(base), any::<Index>(), any::<Index>(), odd_string(6), 0u8..6).prop_map(|(base, a, b, piece, how)| {
        let chars: Vec<char> = base.chars().collect();
        if chars.is_empty() {
            return piece;
        }
        let (i, j) = {
            let (x, y) = (a.index(chars.len() + 1), b.index(chars.len() + 1));
            (x.min(y), x.max(y))
        };
        let text = |cs: &[char]| cs.iter().collect::<String>();
        match how {
            0 => text(&chars[..i]),
            1 => text(&chars[..i]) + &text(&chars[j..]),
            2 => text(&chars[..i]) + &piece + &text(&chars[i..]),
            3 if i < chars.len() => text(&chars[..i]) + &piece + &text(&chars[i + 1..]),
            4 => text(&chars[..j]) + &text(&chars[i..]),
            _ => base,
        }
    })
}

/// A valid input, mostly as it is, often mutated.
pub fn valid_or_mutated(valid: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    valid.prop_flat_map(|text| prop_oneof![2 => Just(text.clone()), 1 => mutate(text)])
}

/// Bytes, often not UTF-8: for decoders that take bytes, or decode text out of bytes.
pub fn odd_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..=max),
        odd_string(max).prop_map(String::into_bytes),
        (odd_string(max), any::<Index>(), any::<u8>()).prop_map(|(text, at, byte)| {
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let at = at.index(bytes.len());
                bytes[at] = 0x80 | byte;
            }
            bytes
        }),
    ]
}
