//! Native push: Web Push (RFC 8030 / 8291 / 8292), APNs and FCM HTTP v1, the first step of the
//! escalation ladder (`policy.rs`).
//!
//! - `receipts.rs`: the credential a push carries to acknowledge its one notification.
//! - `settings.rs`: the providers' credentials and the ladder's push delays, from configuration.

pub mod receipts;
pub mod settings;
