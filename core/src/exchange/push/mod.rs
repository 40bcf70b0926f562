//! Native push (Web Push, APNs, FCM): the pure cryptography.
//!
//! - `ece.rs`: payload encryption, the `aes128gcm` content coding (RFC 8188) and Web Push
//!   message encryption (RFC 8291).
//! - `sign.rs`: the provider credentials: ES256 JWTs for VAPID (RFC 8292) and APNs, the FCM
//!   service account's RS256 assertion text and its access-token answer.

pub mod ece;
pub mod sign;
