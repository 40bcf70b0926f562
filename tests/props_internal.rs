//! The JSON Herald's parts send each other, under generated input: any text read as each wire
//! type, and values of each written and read back (`support/checks/internal.rs`).

mod props;

use herald_core::exchange::requests::Device;
use herald_core::exchange::{Channel, FanoutTask, Job, NotifyRequest, Opts, PushContent, Told, Urgency};
use herald_core::ids::{RoomId, User, UserId};
use herald_core::internal::{Delivery, DeliveryItem, JobClaim, JobKey, MemberBatch, MemberCommand, MemberOp};
use herald_tests::checks::internal;
use props::gen::{json, mutate, odd_string};
use props::{config, within};
use proptest::prelude::*;

fn user_id() -> impl Strategy<Value = UserId> {
    odd_string(12).prop_filter_map("a user id", |id| UserId::parse(&id).ok())
}

fn user() -> impl Strategy<Value = User> {
    (user_id(), proptest::option::of(odd_string(12)), proptest::option::of(odd_string(12)))
        .prop_map(|(id, name, avatar)| User { id, name, avatar })
}

fn member_command() -> impl Strategy<Value = MemberCommand> {
    let op = prop_oneof![
        (user(), any::<i64>(), proptest::option::of(any::<u64>()), proptest::option::of(odd_string(8)))
            .prop_map(|(user, expires_at, since, tag)| MemberOp::Join { user, expires_at, since, tag }),
        odd_string(30).prop_map(|text| MemberOp::Frame { text }),
        Just(MemberOp::Leave),
    ];
    (odd_string(8), op).prop_map(|(conn, op)| MemberCommand { conn, op })
}

fn delivery_item() -> impl Strategy<Value = DeliveryItem> {
    prop_oneof![
        (proptest::collection::vec(odd_string(6), 0..3), odd_string(30))
            .prop_map(|(to, text)| DeliveryItem::Frame { to, text }),
        odd_string(6).prop_map(|to| DeliveryItem::Close { to }),
    ]
}

fn notify() -> impl Strategy<Value = NotifyRequest> {
    let opts = (
        proptest::sample::select(Urgency::ALL.to_vec()),
        // `Opts::parse` reads a `null` data as none, so no notification holds `Some(null)`.
        proptest::option::of(json().prop_filter("not null", |v| !v.is_null())),
        proptest::option::of(any::<i64>()),
        proptest::option::of(proptest::collection::vec(proptest::sample::select(Channel::ALL.to_vec()), 0..3)),
        proptest::option::of(odd_string(10)),
        proptest::option::of(odd_string(12)),
    )
        .prop_map(|(urgency, data, send_at, channels, idempotency_key, title)| Opts {
            urgency,
            url: title.as_ref().map(|t| format!("https://example.com/{t}")),
            title,
            data,
            send_at,
            ttl_ms: send_at,
            channels,
            idempotency_key,
        });
    (user(), odd_string(30), opts).prop_map(|(from, msg, opts)| NotifyRequest { from, msg, opts })
}

fn device() -> impl Strategy<Value = Device> {
    prop_oneof![
        odd_string(20).prop_map(|token| Device::Ios { token }),
        odd_string(20).prop_map(|token| Device::Android { token }),
        (odd_string(20), proptest::option::of(any::<i64>()), odd_string(10), odd_string(10)).prop_map(
            |(endpoint, expiration_time, p256dh, auth)| Device::WebPush { endpoint, expiration_time, p256dh, auth },
        ),
    ]
}

fn job() -> impl Strategy<Value = Job> {
    (
        user_id(),
        proptest::sample::select(Channel::ALL.to_vec()),
        odd_string(20),
        any::<u64>(),
        odd_string(30),
        proptest::option::of(any::<i64>()),
        proptest::option::of((
            device(),
            any::<i64>(),
            odd_string(12),
            proptest::sample::select(Urgency::ALL.to_vec()),
            any::<u64>(),
            proptest::option::of(proptest::sample::select(vec![Told::Read, Told::ReadOne])),
        )),
    )
        .prop_map(|(user, channel, to, seq, text, expires_at, push)| Job {
            key: format!("{}/{seq}/{}", user.as_str(), channel.as_str()),
            user,
            channel,
            to,
            seq,
            notification: "n".into(),
            subject: text.clone(),
            push: push.map(|(device, subscribed_at, receipt, urgency, last_read, told)| PushContent {
                device,
                subscribed_at,
                title: Some(text.clone()),
                url: None,
                data: Some(serde_json::json!({ "k": receipt.clone() })),
                urgency,
                receipt,
                last_read,
                told,
            }),
            text,
            expires_at,
        })
}

/// Any wire value, as JSON text.
fn wire_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (odd_string(8), proptest::collection::vec(member_command(), 0..3))
            .prop_map(|(home, commands)| serde_json::to_string(&MemberBatch { home, commands }).unwrap()),
        proptest::collection::vec(delivery_item(), 0..3).prop_map(|items| {
            serde_json::to_string(&Delivery { room: RoomId::parse("lobby").unwrap(), items }).unwrap()
        }),
        notify().prop_map(|n| serde_json::to_string(&n).unwrap()),
        device().prop_map(|d| serde_json::to_string(&d).unwrap()),
        job().prop_map(|j| serde_json::to_string(&j).unwrap()),
        user().prop_map(|u| serde_json::to_string(&u).unwrap()),
    ]
    .prop_flat_map(|text| prop_oneof![Just(text.clone()), mutate(text)])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_read_as_a_wire_type_is_refused_or_writes_back_into_the_same_value(
        text in prop_oneof![4 => wire_text(), 1 => json().prop_map(|v| v.to_string()), 1 => odd_string(30)],
    ) {
        within(text.len(), || internal::wire(&text));
    }

    #[test]
    fn member_commands_and_deliveries_read_back_as_written(
        batch in (odd_string(8), proptest::collection::vec(member_command(), 0..4)),
        items in proptest::collection::vec(delivery_item(), 0..4),
    ) {
        internal::round_trip(&MemberBatch { home: batch.0, commands: batch.1 });
        internal::round_trip(&Delivery { room: RoomId::parse("lobby").unwrap(), items });
    }

    #[test]
    fn queue_bodies_devices_and_claims_read_back_as_written(
        notify in notify(),
        device in device(),
        job in job(),
        users in proptest::collection::vec(user_id(), 0..3),
        claim in (any::<bool>(), proptest::option::of(any::<u64>()), proptest::option::of(any::<i64>())),
    ) {
        internal::round_trip(&FanoutTask::Deliver { broadcast: "b".into(), users, notify: notify.clone() });
        internal::round_trip(&FanoutTask::Page { broadcast: "b".into(), shard: 3, after: None, notify: notify.clone() });
        internal::round_trip(&notify);
        internal::round_trip(&device);
        internal::round_trip(&job);
        internal::round_trip(&JobKey { key: job.key.clone(), expires_at: job.expires_at, claim: claim.1, outcome: None });
        internal::round_trip(&JobClaim { go: claim.0, claim: claim.1, held_until_ms: claim.2 });
    }
}
