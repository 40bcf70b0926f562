//! Native push (Web Push, APNs, FCM HTTP v1): the pure parts of a delivery.
//!
//! - `payload.rs`: one notification as each provider's request (URL, headers, JSON), urgency,
//!   time to live and collapse id mapped, the size rule; the deep link's rule.
//! - `answers.rs`: what each provider's answer means (accepted, retry, device gone, our
//!   credentials, our payload), and `Retry-After`.
//! - `breaker.rs`: when "gone" answers are too many to believe, deleting stops.

pub mod answers;
pub mod breaker;
pub mod payload;
