//! The room state machine under scenarios: ordering, the resume seam, idempotency, presence
//! with several connections per user, limits, retention, storage failure and waking up.

use herald_core::config::{Limits, Retention};
use herald_core::error::close;
use herald_core::message::Draft;
use herald_core::room::HistoryQuery;
use herald_tests::{user, Harness, Sqlite, T0};
use serde_json::{json, Value};

fn draft(event: &str, key: Option<&str>) -> Draft {
    Draft::from_rest_body(&json!({ "event": event, "data": { "n": 1 } }).to_string(), key).unwrap()
}

#[test]
fn a_newcomer_gets_welcome_then_presence_with_itself() {
    let mut h = Harness::new();
    h.connect("c1", &user("alice"), None);
    let frames = h.take("c1");
    assert_eq!(frames[0]["type"], "welcome");
    assert_eq!(frames[0]["conn"], "c1");
    assert_eq!(frames[0]["room"], "lobby");
    assert_eq!(frames[0]["seq"], 0);
    assert_eq!(frames[0]["user"], json!({ "id": "alice", "name": "alice name" }));
    assert_eq!(frames[1], json!({ "type": "presence", "members": [{ "id": "alice", "name": "alice name" }] }));
    assert_eq!(frames.len(), 2);
}

#[test]
fn every_member_sees_the_same_contiguous_order() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.connect("b", &user("bob"), None);
    h.take("a");
    h.take("b");
    for i in 0..20 {
        let who = if i % 3 == 0 { "a" } else { "b" };
        h.publish(who, "chat", json!(i), None);
    }
    let expected: Vec<u64> = (1..=20).collect();
    assert_eq!(h.seqs("a"), expected);
    assert_eq!(h.seqs("b"), expected);
}

#[test]
fn the_publisher_gets_an_ack_before_its_message() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.take("a");
    h.send_json("a", json!({ "type": "publish", "event": "chat", "data": "hi", "id": "k1", "transaction": "t9" }));
    let frames = h.take("a");
    assert_eq!(frames[0], json!({ "type": "ack", "id": "k1", "seq": 1, "transaction": "t9" }));
    assert_eq!(frames[1]["type"], "message");
    assert_eq!(frames[1]["id"], "k1");
    assert_eq!(frames[1]["event"], "chat");
    assert_eq!(frames[1]["data"], "hi");
    assert_eq!(frames[1]["from"], json!({ "id": "alice", "name": "alice name" }));
    assert_eq!(frames[1]["ts"], h.now);
}

#[test]
fn messages_without_an_id_get_a_fresh_one() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.take("a");
    h.publish("a", "chat", json!(1), None);
    h.publish("a", "chat", json!(2), None);
    let ids: Vec<Value> = h.take_type("a", "message").iter().map(|m| m["id"].clone()).collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
}

#[test]
fn resuming_with_since_replays_exactly_what_was_missed_then_goes_live() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    for i in 0..5 {
        h.publish("a", "chat", json!(i), None);
    }
    h.connect("b", &user("bob"), Some(2));
    let frames = h.take("b");
    assert_eq!(frames[0]["type"], "welcome");
    assert_eq!(frames[0]["seq"], 5);
    assert!(frames[0].get("gap").is_none());
    assert_eq!(frames[1]["type"], "presence");
    let replayed: Vec<u64> = frames[2..].iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(replayed, vec![3, 4, 5]);
    h.publish("a", "chat", json!("live"), None);
    assert_eq!(h.seqs("b"), vec![6]);
}

#[test]
fn resuming_at_the_last_seq_replays_nothing() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.publish("a", "chat", json!(1), None);
    h.connect("b", &user("bob"), Some(1));
    assert_eq!(h.seqs("b"), Vec::<u64>::new());
}

#[test]
fn a_resume_point_past_the_last_message_is_refused_with_a_do_not_reconnect_close() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.publish("a", "chat", json!(1), None);
    h.connect("b", &user("bob"), Some(7));
    let frames = h.take("b");
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["code"], "since_ahead");
    assert_eq!(h.close_code("b"), Some(close::SINCE_AHEAD));
    assert!(!close::should_reconnect(close::SINCE_AHEAD));
    assert!(h.take_type("a", "joined").is_empty(), "a refused connection is not announced");
}

#[test]
fn a_repeated_id_returns_the_first_ack_and_publishes_nothing() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.connect("b", &user("bob"), None);
    h.take("a");
    h.take("b");
    h.publish("a", "chat", json!("once"), Some("k"));
    h.publish("a", "chat", json!("other"), None);
    h.publish("a", "chat", json!("twice"), Some("k"));
    let acks = h.take_type("a", "ack");
    assert_eq!(acks[0], json!({ "type": "ack", "id": "k", "seq": 1 }));
    assert_eq!(acks[2], json!({ "type": "ack", "id": "k", "seq": 1, "duplicate": true }));
    assert_eq!(h.seqs("b"), vec![1, 2]);
    // REST retries of the same key by the same user are duplicates too.
    let (ack, effects) = h.room.publish(h.now, &user("alice"), draft("chat", Some("k")), None, || "x".into()).unwrap();
    assert_eq!((ack.seq, ack.duplicate), (1, true));
    assert!(effects.is_empty());
}

#[test]
fn idempotency_keys_belong_to_their_publisher() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.connect("b", &user("bob"), None);
    h.publish("a", "chat", json!(1), Some("same"));
    h.publish("b", "chat", json!(2), Some("same"));
    h.take("a");
    let acks = h.take_type("b", "ack");
    assert_eq!(acks[0], json!({ "type": "ack", "id": "same", "seq": 2 }));
}

#[test]
fn rest_publishes_share_the_order_and_reach_every_socket() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.take("a");
    h.publish("a", "chat", json!(1), None);
    let (ack, effects) = h.room.publish(h.now, &user("api"), draft("note", None), None, || "rest-1".into()).unwrap();
    assert_eq!((ack.id.as_str(), ack.seq, ack.duplicate), ("rest-1", 2, false));
    h.apply(effects);
    let messages = h.take_type("a", "message");
    assert_eq!(messages[1]["from"]["id"], "api");
    assert_eq!(messages[1]["event"], "note");
}

#[test]
fn a_user_with_two_connections_is_one_member() {
    let mut h = Harness::new();
    h.connect("w", &user("watcher"), None);
    h.take("w");
    h.connect("p1", &user("pat"), None);
    h.connect("p2", &user("pat"), None);
    let joined = h.take_type("w", "joined");
    assert_eq!(joined, vec![json!({ "type": "joined", "user": { "id": "pat", "name": "pat name" } })]);
    let presence = &h.take_type("p2", "presence")[0];
    assert_eq!(presence["members"].as_array().unwrap().len(), 2);
    assert_eq!(h.room.presence().len(), 2);

    h.close("p1");
    assert!(h.take("w").is_empty(), "pat is still here on p2");
    h.close("p2");
    assert_eq!(h.take("w"), vec![json!({ "type": "left", "user": { "id": "pat", "name": "pat name" } })]);
    assert_eq!(h.room.presence().len(), 1);
}

#[test]
fn joined_goes_to_the_others_not_the_newcomer() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.connect("b", &user("bob"), None);
    assert!(h.take_type("b", "joined").is_empty());
    assert_eq!(h.take_type("a", "joined").len(), 1);
}

#[test]
fn an_oversize_frame_closes_with_1009() {
    let limits = Limits { max_frame_bytes: 1024, ..Limits::default() };
    let mut h = Harness::with(limits, Retention::default());
    h.connect("a", &user("alice"), None);
    h.take("a");
    h.publish("a", "chat", json!("x".repeat(2000)), None);
    let frames = h.take("a");
    assert_eq!(frames[0]["code"], "frame_too_large");
    assert_eq!(h.close_code("a"), Some(close::MESSAGE_TOO_BIG));
    assert_eq!(h.room.last_seq(), 0, "nothing was published");
}

#[test]
fn a_connection_closed_for_an_oversize_frame_leaves_at_once() {
    let limits = Limits { max_frame_bytes: 1024, ..Limits::default() };
    let mut h = Harness::with(limits, Retention::default());
    h.connect("w", &user("watcher"), None);
    h.connect("a", &user("alice"), None);
    h.take("w");
    h.send("a", &"x".repeat(2000));
    assert_eq!(h.take_type("w", "left")[0]["user"]["id"], "alice");
    assert_eq!(h.room.presence().len(), 1);
    assert!(h.room.on_close(&herald_tests::conn("a")).is_empty(), "the client's close later announces nothing twice");
}

#[test]
fn a_malformed_frame_gets_an_error_and_the_socket_stays_open() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.take("a");
    h.send("a", "{not json");
    h.send("a", r#"{"type":"publish","event":42,"transaction":"t1"}"#);
    h.send("a", r#"{"type":"dance","transaction":3}"#);
    let errors = h.take("a");
    assert_eq!(errors[0]["code"], "malformed_json");
    assert_eq!(errors[1]["code"], "invalid_field");
    assert_eq!(errors[1]["transaction"], "t1");
    assert_eq!(errors[2]["code"], "unknown_type");
    assert_eq!(errors[2]["transaction"], 3);
    assert!(h.is_open("a"));
    h.publish("a", "chat", json!("still here"), None);
    assert_eq!(h.seqs("a"), vec![1]);
}

#[test]
fn ping_is_answered_with_pong() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.take("a");
    h.send("a", r#"{"type":"ping","transaction":"p"}"#);
    assert_eq!(h.take("a"), vec![json!({ "type": "pong", "transaction": "p" })]);
}

#[test]
fn binary_frames_are_refused_without_closing() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.take("a");
    let effects = h.room.on_binary(&herald_tests::conn("a"), 10);
    h.apply(effects);
    assert_eq!(h.take("a")[0]["code"], "invalid_field");
    assert!(h.is_open("a"));
}

#[test]
fn a_connection_over_the_rate_is_told_to_wait_and_recovers() {
    let limits = Limits { messages_per_second: 10, message_burst: 3, ..Limits::default() };
    let mut h = Harness::with(limits, Retention::default());
    h.connect("a", &user("alice"), None);
    h.take("a");
    for i in 0..4 {
        h.send_json("a", json!({ "type": "publish", "event": "e", "data": i, "transaction": i }));
    }
    let frames = h.take("a");
    let refused: Vec<&Value> = frames.iter().filter(|f| f["type"] == "error").collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["code"], "rate_limited");
    assert_eq!(refused[0]["transaction"], 3);
    assert_eq!(refused[0]["details"]["retry_after_ms"], 100);
    assert_eq!(h.room.last_seq(), 3);
    h.advance(100);
    h.publish("a", "e", json!("later"), None);
    assert_eq!(h.seqs("a"), vec![4]);
}

#[test]
fn a_full_room_refuses_with_a_reconnect_close() {
    let limits = Limits { max_connections_per_room: 2, ..Limits::default() };
    let mut h = Harness::with(limits, Retention::default());
    h.connect("a", &user("alice"), None);
    h.connect("b", &user("bob"), None);
    h.connect("c", &user("carol"), None);
    assert_eq!(h.take("c")[0]["code"], "room_full");
    assert_eq!(h.close_code("c"), Some(close::ROOM_FULL));
    assert!(close::should_reconnect(close::ROOM_FULL));
    h.close("a");
    h.connect("c2", &user("carol"), None);
    assert_eq!(h.take("c2")[0]["type"], "welcome");
}

#[test]
fn retention_by_count_bounds_history_and_reports_the_gap_on_resume() {
    let retention = Retention { max_messages: 10, ..Retention::default() };
    let mut h = Harness::with(Limits::default(), retention);
    h.connect("a", &user("alice"), None);
    for i in 0..130 {
        h.advance(1);
        h.room.publish(h.now, &user("api"), draft("e", None), None, || format!("m{i}")).unwrap();
    }
    let page = h.room.history(h.now, HistoryQuery { after: 0, before: None, limit: 1000 }).unwrap();
    assert_eq!(page.messages.len(), 10);
    assert!(h.room.log_mut().len() <= 10 + 64, "old messages are pruned from storage too");
    h.connect("b", &user("bob"), Some(100));
    let frames = h.take("b");
    assert_eq!(frames[0]["gap"], json!({ "from": 101, "to": 120 }));
    let replayed: Vec<u64> = frames[2..].iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(replayed, (121..=130).collect::<Vec<_>>());
}

#[test]
fn retention_by_age_drops_old_messages_but_never_reuses_a_seq() {
    let retention = Retention { max_age_ms: 60_000, ..Retention::default() };
    let mut h = Harness::with(Limits::default(), retention);
    for i in 0..3 {
        h.room.publish(h.now, &user("api"), draft("e", None), None, || format!("m{i}")).unwrap();
    }
    h.advance(61_000);
    let page = h.room.history(h.now, HistoryQuery { after: 0, before: None, limit: 100 }).unwrap();
    assert!(page.messages.is_empty());
    assert_eq!(page.seq, 3);
    let (ack, _) = h.room.publish(h.now, &user("api"), draft("e", None), None, || "new".into()).unwrap();
    assert_eq!(ack.seq, 4);
}

#[test]
fn a_failed_write_publishes_nothing_and_leaves_no_gap() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.connect("b", &user("bob"), None);
    h.take("a");
    h.take("b");
    h.room.log_mut().fail_next_append = true;
    h.send_json("a", json!({ "type": "publish", "event": "e", "data": 1, "transaction": "t" }));
    let frames = h.take("a");
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["code"], "internal");
    assert_eq!(frames[0]["transaction"], "t");
    assert!(h.take("b").is_empty(), "nothing reached the other member");
    h.publish("a", "e", json!(2), None);
    assert_eq!(h.seqs("b"), vec![1]);
}

#[test]
fn history_pages_walk_the_whole_log_oldest_first() {
    let mut h = Harness::new();
    for i in 0..25 {
        h.room.publish(h.now, &user("api"), draft("e", None), None, || format!("m{i}")).unwrap();
    }
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = h.room.history(h.now, HistoryQuery { after, before: None, limit: 7 }).unwrap();
        for m in &page.messages {
            seen.push(serde_json::from_str::<Value>(m).unwrap()["seq"].as_u64().unwrap());
        }
        match page.next {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(seen, (1..=25).collect::<Vec<_>>());
    let window = h.room.history(h.now, HistoryQuery { after: 10, before: Some(14), limit: 100 }).unwrap();
    assert_eq!(window.messages.len(), 3);
    assert_eq!(window.next, None);
}

#[test]
fn history_query_parameters_are_validated() {
    assert_eq!(HistoryQuery::parse(None, None, None).unwrap(), HistoryQuery { after: 0, before: None, limit: 100 });
    assert_eq!(
        HistoryQuery::parse(Some("5"), Some("9"), Some("2")).unwrap(),
        HistoryQuery { after: 5, before: Some(9), limit: 2 }
    );
    for (a, b, l) in
        [(Some("x"), None, None), (None, Some("-1"), None), (None, None, Some("0")), (None, None, Some("1001"))]
    {
        assert_eq!(HistoryQuery::parse(a, b, l).unwrap_err().code, herald_core::ErrorCode::InvalidField);
    }
}

#[test]
fn a_woken_room_keeps_its_order_and_rebuilds_presence_silently() {
    let db = Sqlite::in_memory();
    let mut h = Harness::sqlite(&db, Limits::default(), Retention::default());
    h.connect("a", &user("alice"), None);
    h.publish("a", "chat", json!(1), Some("k"));
    h.publish("a", "chat", json!(2), None);
    drop(h);

    // The object hibernated; a new instance loads the same storage and its sockets.
    let mut h = Harness::sqlite(&db, Limits::default(), Retention::default());
    assert_eq!(h.room.last_seq(), 2);
    h.room.restore(h.now, herald_tests::session("a", &user("alice")));
    assert_eq!(h.room.presence().len(), 1);
    h.connect("b", &user("bob"), Some(0));
    assert_eq!(h.seqs("b"), vec![1, 2]);
    h.publish("b", "chat", json!(3), None);
    assert_eq!(h.seqs("b"), vec![3]);
    let (ack, _) = h.room.publish(h.now, &user("alice"), draft("chat", Some("k")), None, || "x".into()).unwrap();
    assert_eq!((ack.seq, ack.duplicate), (1, true), "keys survive hibernation");
}

#[test]
fn frames_from_a_refused_or_unknown_connection_do_nothing() {
    let mut h = Harness::new();
    h.send("ghost", r#"{"type":"publish","event":"e"}"#);
    assert_eq!(h.room.last_seq(), 0);
    assert!(h.room.on_close(&herald_tests::conn("ghost")).is_empty());
}

#[test]
fn a_session_ends_when_its_token_expires_by_alarm_and_others_see_it_leave() {
    let mut h = Harness::new();
    h.connect("w", &user("watcher"), None);
    assert_eq!(h.alarm, Some(h.now + herald_tests::DAY));
    h.connect_until("s", &user("short"), None, h.now + 5_000);
    assert_eq!(h.alarm, Some(h.now + 5_000), "the earlier expiry moves the alarm forward");
    h.take("w");
    h.take("s");
    h.advance(4_999);
    h.fire_alarm();
    assert!(h.is_open("s"), "not yet");
    h.advance(1);
    h.fire_alarm();
    let frames = h.take("s");
    assert_eq!(frames[0]["code"], "token_expired");
    assert_eq!(h.close_code("s"), Some(close::TOKEN_EXPIRED));
    assert!(!close::should_reconnect(close::TOKEN_EXPIRED));
    assert_eq!(h.take_type("w", "left")[0]["user"]["id"], "short");
    assert_eq!(h.alarm, Some(T0 + herald_tests::DAY), "the next expiry is the next alarm");
}

#[test]
fn a_later_expiry_does_not_push_the_alarm_back() {
    let mut h = Harness::new();
    h.connect_until("a", &user("alice"), None, h.now + 10_000);
    h.connect_until("b", &user("bob"), None, h.now + 60_000);
    assert_eq!(h.alarm, Some(h.now + 10_000));
}

#[test]
fn a_frame_after_expiry_ends_the_session_and_publishes_nothing() {
    let mut h = Harness::new();
    h.connect_until("a", &user("alice"), None, h.now + 1_000);
    h.take("a");
    h.advance(2_000);
    h.publish("a", "chat", json!("too late"), None);
    assert_eq!(h.take("a")[0]["code"], "token_expired");
    assert_eq!(h.close_code("a"), Some(close::TOKEN_EXPIRED));
    assert_eq!(h.room.last_seq(), 0);
}

#[test]
fn restored_sessions_keep_their_expiry() {
    let db = Sqlite::in_memory();
    let mut h = Harness::sqlite(&db, Limits::default(), Retention::default());
    let mut s = herald_tests::session("a", &user("alice"));
    s.expires_at = h.now + 3_000;
    h.room.restore(h.now, s);
    h.connect("b", &user("bob"), None);
    assert_eq!(h.alarm, None, "the alarm set before hibernation (for alice) still stands");
    h.advance(3_000);
    let effects = h.room.on_alarm(h.now);
    assert!(effects
        .iter()
        .any(|e| matches!(e, herald_core::room::Effect::Close { code, .. } if *code == close::TOKEN_EXPIRED)));
}

#[test]
fn a_large_resume_is_capped_and_says_what_to_fetch_over_rest() {
    let limits = Limits { max_batch_bytes: 2_000, ..Limits::default() };
    let mut h = Harness::with(limits, Retention::default());
    for i in 0..40 {
        h.room.publish(h.now, &user("api"), draft("e", None), None, || format!("m{i}")).unwrap();
    }
    h.connect("b", &user("bob"), Some(5));
    let frames = h.take("b");
    let replayed: Vec<u64> = frames[2..].iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(!replayed.is_empty() && replayed.len() < 35, "capped: {}", replayed.len());
    assert_eq!(replayed, (6..6 + replayed.len() as u64).collect::<Vec<_>>(), "contiguous from since + 1");
    let last = *replayed.last().unwrap();
    assert_eq!(frames[0]["truncated"], json!({ "from": last + 1, "to": 40 }));
    assert!(frames[0].get("gap").is_none());
    let bytes: usize = frames[2..].iter().map(|f| f.to_string().len()).sum();
    assert!(bytes <= 2_000 + 200, "about the cap: {bytes}");
    // The rest is there in history, and live messages continue after welcome.seq.
    let page = h.room.history(h.now, HistoryQuery { after: last, before: Some(41), limit: 1000 }).unwrap();
    assert!(!page.messages.is_empty());
    h.room.publish(h.now, &user("api"), draft("e", None), None, || "live".into()).map(|(_, fx)| h.apply(fx)).unwrap();
    assert_eq!(h.seqs("b"), vec![41]);
}

#[test]
fn history_pages_are_capped_by_bytes_and_still_walk_everything() {
    let limits = Limits { max_batch_bytes: 1_500, ..Limits::default() };
    let mut h = Harness::with(limits, Retention::default());
    for i in 0..30 {
        h.room.publish(h.now, &user("api"), draft("e", None), None, || format!("m{i}")).unwrap();
    }
    let (mut after, mut seen, mut pages) = (0, Vec::new(), 0);
    loop {
        let page = h.room.history(h.now, HistoryQuery { after, before: None, limit: 1000 }).unwrap();
        pages += 1;
        assert!(page.messages.iter().map(String::len).sum::<usize>() <= 1_500 + 200);
        seen.extend(page.messages.iter().map(|m| serde_json::from_str::<Value>(m).unwrap()["seq"].as_u64().unwrap()));
        match page.next {
            Some(next) => after = next,
            None => break,
        }
    }
    assert!(pages > 1);
    assert_eq!(seen, (1..=30).collect::<Vec<_>>());
}

#[test]
fn a_message_carries_the_profile_of_the_connection_that_sent_it() {
    let mut h = Harness::new();
    let mut first = user("alice");
    first.name = Some("Alice (old token)".into());
    let mut second = user("alice");
    second.name = Some("Alice (new token)".into());
    h.connect("a1", &first, None);
    h.connect("a2", &second, None);
    h.take("a1");
    h.take("a2");
    h.publish("a1", "chat", json!(1), None);
    h.publish("a2", "chat", json!(2), None);
    let from: Vec<Value> = h.take_type("a1", "message").iter().map(|m| m["from"]["name"].clone()).collect();
    assert_eq!(from, vec![json!("Alice (old token)"), json!("Alice (new token)")]);
    assert_eq!(h.room.presence()[0].name.as_deref(), Some("Alice (new token)"), "presence shows the newest");
}

#[test]
fn timestamps_never_go_backwards() {
    let mut h = Harness::new();
    h.connect("a", &user("alice"), None);
    h.publish("a", "chat", json!(1), None);
    let first = h.now;
    h.advance(-5_000);
    h.publish("a", "chat", json!(2), None);
    let ts: Vec<i64> = h.take_type("a", "message").iter().map(|m| m["ts"].as_i64().unwrap()).collect();
    assert_eq!(ts, vec![first, first]);
}

#[test]
fn storage_is_pruned_however_often_the_room_wakes() {
    let db = Sqlite::in_memory();
    let retention = Retention { max_messages: 5, ..Retention::default() };
    for wake in 0..20 {
        let mut h = Harness::sqlite(&db, Limits::default(), retention.clone());
        for i in 0..10 {
            h.room.publish(h.now, &user("api"), draft("e", None), None, || format!("w{wake}-{i}")).unwrap();
        }
    }
    assert!(db.count("room_log") <= 5 + 64, "{} rows kept", db.count("room_log"));
}
