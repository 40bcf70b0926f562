//! The fallback's providers under generated input: answers judged, queue bodies and replies
//! driving an attempt, emails written for the binding (`support/checks/providers.rs`).

mod props;

use herald_tests::checks::providers::{self, Reply};
use herald_tests::T0;
use props::gen::{json, odd_string, valid_or_mutated};
use props::{config, within};
use proptest::prelude::*;
use serde_json::json;

/// A fallback queue body: a job as the inbox writes it, its fields right or wrong.
fn job() -> impl Strategy<Value = String> {
    let to = prop_oneof![
        Just("bob@example.com".to_owned()),
        Just("+447700900123".to_owned()),
        Just("bob@example.com\r\nBcc: eve@example.com".to_owned()),
        odd_string(20),
    ];
    let valid = (
        prop_oneof![Just("email"), Just("sms"), Just("push")],
        to,
        odd_string(40),
        odd_string(80),
        prop_oneof![Just("bob".to_owned()), odd_string(10)],
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(channel, to, subject, text, user, expires_at)| {
            json!({
                "key": format!("{user}/1/{channel}"), "user": user, "channel": channel, "to": to, "seq": 1,
                "notification": "n1", "subject": subject, "text": text, "expires_at": expires_at,
            })
            .to_string()
        });
    prop_oneof![6 => valid_or_mutated(valid), 1 => odd_string(30), 1 => json().prop_map(|v| v.to_string())]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        proptest::sample::select(vec![200, 201, 204, 301, 400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504]),
        any::<u16>(),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        (any::<bool>(), proptest::option::of(any::<u64>()), proptest::option::of(any::<i64>()))
            .prop_map(|(go, claim, held_until_ms)| Reply::Claim { go, claim, held_until_ms }),
        (status(), odd_string(40)).prop_map(|(s, b)| Reply::Provider(s, b)),
        Just(Reply::Failed),
        Just(Reply::Done),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_provider_answer_is_judged_sent_retryable_or_permanent_as_documented(
        status in status(),
        body in prop_oneof![odd_string(40), odd_string(600)],
    ) {
        within(body.len(), || providers::answer(status, &body));
    }

    #[test]
    fn any_queue_body_and_replies_end_in_an_ack_or_a_retry_having_sent_at_most_once_and_fit_for_the_wire(
        body in job(),
        attempts in prop_oneof![1u32..7, any::<u32>()],
        binding in any::<bool>(),
        replies in proptest::collection::vec(reply(), 0..8),
    ) {
        within(body.len(), || providers::attempt(&body, attempts, binding, &replies));
    }

    #[test]
    fn an_email_through_the_binding_has_its_own_headers_only_whatever_its_text(
        from_name in odd_string(30),
        subject in odd_string(80),
        text in odd_string(200),
        key in odd_string(30),
        now in prop_oneof![Just(T0), any::<i64>()],
    ) {
        providers::mail(&from_name, &subject, &text, &key, now);
    }
}
