//! The properties every decoder of outside input holds, one module per surface. Each function
//! takes one input (bytes, text, or a short script of inputs for a stateful decoder), runs the
//! decoder and panics when a property fails:
//!
//! - it never panics itself (the input is whatever a client, a token, a URL, a header or a
//!   provider may send);
//! - every refusal is coded: a [`herald_core::Error`] whose code is one the surface documents
//!   ([`assert_coded`]), or the decoder's own documented error type;
//! - what it accepts comes back the same through the matching encoder (a round trip), wherever
//!   one exists.
//!
//! The property tests (`tests/props_*.rs`) call them with generated inputs, a modest number of
//! cases each, in `cargo test`; the fuzz targets (`fuzz/`) call the same functions with
//! coverage-guided inputs for minutes (`make fuzz`), through [`targets`], which also replays
//! the committed fuzz corpus in `cargo test` (`tests/fuzz_corpus.rs`). docs/reliability.md
//! lists all of it per decoder.

pub mod auth;
pub mod dialects;
pub mod engineio;
pub mod headers;
pub mod internal;
pub mod native;
pub mod providers;
pub mod push;
pub mod query;
pub mod rest;
pub mod socketio;
pub mod targets;
pub mod token_sources;

use herald_core::auth::Verifier;
use herald_core::config::Config;
use herald_core::error::{Error, ErrorCode};
use serde_json::Value;
use std::fmt::Debug;
use std::sync::OnceLock;

/// The one page that documents every error code (`| \`code\` | status | when |`).
const ERRORS_MD: &str = include_str!("../../../docs/errors.md");

/// Whether docs/errors.md has a row for `code`.
pub fn documented(code: &str) -> bool {
    ERRORS_MD.contains(&format!("\n| `{code}` |"))
}

/// `error` is a refusal this surface documents: its code is in `allowed` and in
/// docs/errors.md, and it says something.
pub fn assert_coded(error: &Error, allowed: &[ErrorCode], input: &dyn Debug) {
    assert!(
        allowed.contains(&error.code),
        "{input:?} was refused with {:?}, not one of {allowed:?}: {}",
        error.code,
        error.message
    );
    assert!(documented(error.code.as_str()), "{:?} is not in docs/errors.md", error.code);
    assert!(!error.message.is_empty(), "{input:?}: a refusal without a message");
}

/// Whether `value` holds, anywhere, a `code` that is a string and no documented code: what a
/// room or a provider of Herald's never sends, so inputs standing for them leave it out.
pub fn has_undocumented_code(value: &Value) -> bool {
    match value {
        Value::Object(fields) => fields.iter().any(|(key, value)| match (key.as_str(), value) {
            ("code", Value::String(code)) => !documented(code),
            _ => has_undocumented_code(value),
        }),
        Value::Array(items) => items.iter().any(has_undocumented_code),
        _ => false,
    }
}

/// The HS256 secret of [`verifier`].
pub const SECRET: &str = crate::SECRET;

/// One verifier of HS256 tokens signed with [`SECRET`] for the whole process: dialects hold it
/// as `&'static`, as the object shells do, and a fuzzer runs millions of inputs.
pub fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<&'static Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let config = Config::from_vars(|name| (name == "JWT_SECRET").then(|| SECRET.to_owned())).unwrap();
        Box::leak(Box::new(config.verifier))
    })
}

/// Cuts `text` to at most `max` bytes, at a character boundary: generated names stay inside
/// the limits a test means to stay inside.
pub fn clip(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
