//! Native push: Web Push (RFC 8030 / 8291 / 8292), APNs and FCM HTTP v1, the first step of the
//! escalation ladder (`policy.rs`). The inbox makes one push job per device when the push step
//! falls due (`inbox/alarm.rs`); the fallback consumer sends it like an email or an SMS
//! (`attempt.rs`), through:
//!
//! - `outbound.rs`: a push job made into its provider's one HTTP request, from the parts below;
//! - `payload.rs`: what each provider gets for a notification (mapping of urgency, ttl and
//!   collapse id; the size rule);
//! - `ece.rs`: Web Push message encryption (RFC 8291 over RFC 8188's aes128gcm);
//! - `sign.rs`: the ES256 JWTs of VAPID and APNs, FCM's RS256 assertion text and its token answer;
//! - `answers.rs`: every provider answer classified (accepted, retry, gone, credentials, payload);
//! - `breaker.rs`: when "gone" answers are too many to believe;
//! - `receipts.rs`: the credential a push carries to acknowledge its one notification;
//! - `settings.rs`: the providers' credentials, from configuration.

pub mod answers;
pub mod breaker;
pub mod ece;
pub mod outbound;
pub mod payload;
pub mod receipts;
pub mod settings;
pub mod sign;
