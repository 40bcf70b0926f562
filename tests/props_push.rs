//! Native push under generated input: every provider's answer judged, `Retry-After` read,
//! notifications of any text built into each provider's request, and the breaker fed any
//! outcomes (`support/checks/push.rs`).

mod props;

use herald_core::exchange::push::answers::Provider;
use herald_core::exchange::push::breaker::BreakerRule;
use herald_core::exchange::Urgency;
use herald_tests::checks::push::{self, Fields};
use herald_tests::T0;
use props::gen::{json, odd_string, valid_or_mutated};
use props::{config, within};
use proptest::prelude::*;
use serde_json::json;

fn provider() -> impl Strategy<Value = Provider> {
    proptest::sample::select(Provider::ALL.to_vec())
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        proptest::sample::select(vec![
            200, 201, 202, 204, 301, 400, 401, 403, 404, 405, 408, 410, 413, 429, 500, 502, 503, 520, 524
        ]),
        any::<u16>(),
    ]
}

/// A provider's body as it sends one (APNs' reason, FCM's error with details), right or wrong.
fn body() -> impl Strategy<Value = String> {
    let apns = (
        proptest::sample::select(vec![
            "Unregistered",
            "ExpiredToken",
            "BadDeviceToken",
            "DeviceTokenNotForTopic",
            "InvalidProviderToken",
            "ExpiredProviderToken",
            "TooManyProviderTokenUpdates",
            "TooManyRequests",
            "BadTopic",
            "IdleTimeout",
            "PayloadTooLarge",
            "Shutdown",
        ]),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(reason, timestamp)| json!({"reason": reason, "timestamp": timestamp}).to_string());
    let fcm = (
        proptest::sample::select(vec![
            "UNREGISTERED",
            "INVALID_ARGUMENT",
            "SENDER_ID_MISMATCH",
            "THIRD_PARTY_AUTH_ERROR",
            "QUOTA_EXCEEDED",
            "UNAVAILABLE",
            "INTERNAL",
            "UNSPECIFIED_ERROR",
        ]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(code, with_code, violations)| {
            let mut details = Vec::new();
            if with_code {
                details
                    .push(json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}));
            }
            if violations {
                details.push(json!({"@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "message.token", "description": "bad"}]}));
            }
            json!({"error": {"code": 400, "message": "m", "status": code, "details": details}}).to_string()
        });
    prop_oneof![
        3 => valid_or_mutated(apns),
        3 => valid_or_mutated(fcm),
        1 => odd_string(40),
        1 => odd_string(800),
        1 => json().prop_map(|v| v.to_string()),
    ]
}

fn retry_after() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..100_000).prop_map(|n| n.to_string()),
        Just("Mon, 02 Nov 2026 09:01:00 GMT".to_owned()),
        valid_or_mutated(Just("Sun, 06 Nov 1994 08:49:37 GMT".to_owned())),
        odd_string(40),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![odd_string(40), odd_string(max), "[é😀\"\\\\\u{1}a ]{0,3000}"]
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        proptest::option::of(text(400)),
        text(2000),
        proptest::option::of(prop_oneof![
            Just("https://app.example.com/builds/7".to_owned()),
            "https://example.com/[a-z]{0,4000}",
            odd_string(60)
        ]),
        proptest::option::of(prop_oneof![json(), "x{0,6000}".prop_map(|s| json!({"blob": s}))]),
        prop_oneof![Just("n1".to_owned()), odd_string(40)],
        prop_oneof![Just("rcpt".to_owned()), odd_string(200)],
    )
        .prop_map(|(title, body, url, data, id, receipt)| Fields { title, body, url, data, id, receipt })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_push_answer_is_judged_as_the_table_documents_with_a_bounded_reason(
        provider in provider(),
        status in status(),
        retry_after in proptest::option::of(retry_after()),
        body in body(),
    ) {
        within(body.len(), || push::answer(provider, status, retry_after.as_deref(), &body, T0));
    }

    #[test]
    fn any_retry_after_is_read_as_at_most_twelve_hours(value in retry_after(), now in any::<i64>()) {
        push::retry_after(&value, now);
    }

    #[test]
    fn any_notification_becomes_requests_within_each_providers_limit_or_a_refusal_naming_the_field(
        fields in fields(),
        seq in any::<u64>(),
        ttl in any::<u32>(),
        urgency in proptest::sample::select(Urgency::ALL.to_vec()),
    ) {
        push::payloads(&fields, seq, ttl, urgency);
    }

    #[test]
    fn any_outcomes_keep_the_breaker_bounded_and_tripped_only_on_enough_gone_in_its_window(
        window_ms in prop_oneof![Just(600_000i64), 1i64..100_000, any::<i64>()],
        min_devices in prop_oneof![Just(20u32), 0u32..30],
        gone_percent in prop_oneof![Just(80u32), 0u32..=100],
        outcomes in proptest::collection::vec((prop_oneof![0u32..2000, 0u32..120_000, any::<u32>()], any::<bool>()), 0..200),
    ) {
        push::breaker(&BreakerRule { window_ms, min_devices, gone_percent }, &outcomes);
    }
}
