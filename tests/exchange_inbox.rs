//! A user's inbox as scenarios: notifications in, devices acknowledging and reading, the alarm
//! deciding fallbacks into jobs, the job ledger, scheduled sends, and all of it surviving a
//! reload of the object (the same SQLite, opened again).

use herald_core::config::{Fallback, Limits, Retention};
use herald_core::error::ErrorCode;
use herald_core::exchange::contacts::ContactsUpdate;
use herald_core::exchange::inbox::{
    owner_of, Due, Inbox, ALARM_BATCH, DEVICES_MAX, REQUEUE_MS, RETRY_MS, SCHEDULED_MAX,
};
use herald_core::exchange::ledger::{Claim, Ledger, LEASE_MS};
use herald_core::exchange::policy::Skip;
use herald_core::exchange::requests::Device;
use herald_core::exchange::{inbox_of, Channel, Job, NotifyRequest, Opts, SEND_AT_MAX_AHEAD_MS};
use herald_core::ids::{RoomId, User, UserId};
use herald_core::internal::JobClaim;
use herald_core::room::{Room, SqlLog};
use herald_tests::{conn, user, Harness, Sqlite, DAY, T0};
use serde_json::{json, Value};

const SECOND: i64 = 1000;

fn deadlines() -> Fallback {
    Fallback {
        low_email_ms: 600 * SECOND,
        normal_email_ms: 60 * SECOND,
        high_sms_ms: 10 * SECOND,
        ..Fallback::default()
    }
}

/// Bob's inbox over one SQLite, with a room harness for his devices.
struct World {
    db: Sqlite,
    h: Harness<SqlLog<Sqlite>>,
    inbox: Inbox<Sqlite>,
    next_id: u64,
}

fn bob_room() -> RoomId {
    inbox_of(&UserId::parse("bob").unwrap()).unwrap()
}

impl World {
    fn new() -> Self {
        Self::over(Sqlite::in_memory(), T0)
    }

    /// The object waking over `db` at `now`: room and inbox loaded from storage.
    fn over(db: Sqlite, now: i64) -> Self {
        Self::keeping(db, now, Retention::default())
    }

    fn keeping(db: Sqlite, now: i64, retention: Retention) -> Self {
        let room = Room::load(bob_room(), Limits::default(), retention.clone(), SqlLog::open(db.clone()).unwrap());
        let mut h = Harness::over(room.unwrap());
        h.now = now;
        let inbox = Inbox::open(&bob_room(), &deadlines(), &retention, db.clone()).unwrap().unwrap();
        Self { db, h, inbox, next_id: 0 }
    }

    fn reload(self) -> Self {
        Self::over(self.db.clone(), self.h.now)
    }

    fn send(&mut self, from: &str, msg: &str, opts: Value) -> Value {
        self.try_send(from, msg, opts).unwrap()
    }

    fn try_send(&mut self, from: &str, msg: &str, opts: Value) -> Result<Value, herald_core::error::Error> {
        let request =
            NotifyRequest { from: user(from), msg: msg.into(), opts: Opts::parse(Some(&opts), None).unwrap() };
        self.next_id += 1;
        let fresh = format!("n{}", self.next_id);
        let (answer, effects) = self.inbox.on_notify(self.h.now, &mut self.h.room, request, || fresh)?;
        self.h.apply(effects);
        Ok(answer)
    }

    /// One alarm pass at the current time, whatever it finds (problems included).
    fn pass(&mut self) -> Due {
        let due = self.inbox.on_alarm(self.h.now, &mut self.h.room);
        self.h.apply(due.effects.clone());
        self.inbox.enqueued(&due.jobs, &vec![true; due.jobs.len()]).unwrap();
        due
    }

    /// When the shell sets the alarm after `due`.
    fn next_after(&self, due: &Due) -> Option<i64> {
        self.inbox.alarm_after(self.h.now, &self.h.room, due)
    }

    fn frame(&mut self, id: &str, frame: Value) {
        let effects =
            self.h.room.on_inbox_frame(self.h.now, &conn(id), &frame.to_string(), &mut self.inbox, || "fresh".into());
        self.h.apply(effects);
    }

    /// Advances the clock by `ms` and runs the alarm as the shell does when it is due; the
    /// queue takes every job unless `queue_fails`.
    fn alarm_after(&mut self, ms: i64, queue_fails: bool) -> Due {
        self.h.advance(ms);
        let due = match self.inbox.alarm_with(&self.h.room) {
            Some(at) if at <= self.h.now => {
                let room_effects = self.h.room.on_alarm(self.h.now);
                self.h.apply(room_effects);
                self.inbox.on_alarm(self.h.now, &mut self.h.room)
            }
            _ => Due::default(),
        };
        assert_eq!(due.problems, Vec::<String>::new());
        self.h.apply(due.effects.clone());
        if !queue_fails {
            self.inbox.enqueued(&due.jobs, &vec![true; due.jobs.len()]).unwrap();
        }
        due
    }

    fn contacts(&mut self, body: Value) {
        self.inbox.update_contacts(ContactsUpdate::parse(&body.to_string()).unwrap()).unwrap();
    }

    fn page(&self, before: Option<u64>, limit: usize) -> Value {
        serde_json::from_str(&self.inbox.page(before, limit).unwrap()).unwrap()
    }
}

fn bob() -> User {
    user("bob")
}

fn reachable(w: &mut World) {
    w.contacts(json!({ "email": "bob@example.com", "phone": "+447700900123" }));
}

fn channels(due: &Due) -> Vec<(u64, Channel)> {
    due.jobs.iter().map(|j| (j.seq, j.channel)).collect()
}

#[test]
fn a_notification_reaches_every_device_of_the_user_in_its_documented_shape() {
    let mut w = World::new();
    w.h.connect("phone", &bob(), None);
    w.h.connect("laptop", &bob(), None);
    w.h.take("phone");
    w.h.take("laptop");
    let answer = w.send("alice", "Lunch?", json!({ "urgency": "high", "data": { "place": "canteen" } }));
    assert_eq!(answer, json!({ "id": "n1", "seq": 1 }));
    let expected = json!({
        "type": "message", "room": "inbox:bob", "seq": 1, "id": "n1", "event": "notification",
        "data": { "id": "n1", "msg": "Lunch?", "data": { "place": "canteen" }, "urgency": 4,
                  "from": { "id": "alice", "name": "alice name" } },
        "from": { "id": "alice", "name": "alice name" }, "ts": T0,
    });
    assert_eq!(w.h.take("phone"), vec![expected.clone()]);
    assert_eq!(w.h.take("laptop"), vec![expected]);
    let plain = w.send("alice", "no data", json!({}));
    assert_eq!(plain["seq"], 2);
    let frames = w.h.take("phone");
    assert_eq!(
        frames[0]["data"],
        json!({ "id": "n2", "msg": "no data", "data": null, "urgency": 3,
        "from": { "id": "alice", "name": "alice name" } })
    );
}

#[test]
fn a_repeated_idempotency_key_finds_the_first_notification_and_plans_nothing_more() {
    let mut w = World::new();
    reachable(&mut w);
    assert_eq!(w.send("alice", "once", json!({ "idempotency_key": "k" })), json!({ "id": "k", "seq": 1 }));
    assert_eq!(
        w.send("alice", "once", json!({ "idempotency_key": "k" })),
        json!({ "id": "k", "seq": 1, "duplicate": true })
    );
    assert_eq!(w.send("carol", "hers", json!({ "idempotency_key": "k" })), json!({ "id": "k", "seq": 2 }));
    let due = w.alarm_after(60 * SECOND, false);
    assert_eq!(channels(&due), vec![(1, Channel::Email), (2, Channel::Email)], "one email each, not three");
    assert_eq!(due.jobs[0].key, "bob/1/email");
    assert_eq!(due.jobs[1].key, "bob/2/email", "keys name the seq: two senders' same key stays apart");
}

#[test]
fn marks_only_move_forward_and_a_read_on_one_device_is_told_to_all() {
    let mut w = World::new();
    w.h.connect("phone", &bob(), None);
    w.h.connect("laptop", &bob(), None);
    for n in 0..3 {
        w.send("alice", &format!("m{n}"), json!({}));
    }
    w.h.take("phone");
    w.h.take("laptop");
    w.frame("phone", json!({ "type": "received", "seq": 2 }));
    assert_eq!(w.inbox.marks(), (2, 0));
    assert_eq!(w.h.take("phone"), Vec::<Value>::new(), "a receipt is not answered");
    w.frame("laptop", json!({ "type": "received", "seq": 1 }));
    assert_eq!(w.inbox.marks(), (2, 0), "an older receipt changes nothing");
    w.frame("laptop", json!({ "type": "read", "seq": 3 }));
    assert_eq!(w.inbox.marks(), (3, 3), "a read is a delivery too");
    assert_eq!(w.h.take("phone"), vec![json!({ "type": "read", "seq": 3 })]);
    assert_eq!(w.h.take("laptop"), vec![json!({ "type": "read", "seq": 3 })]);
    w.frame("phone", json!({ "type": "read", "seq": 2 }));
    assert_eq!(w.inbox.marks(), (3, 3));
    assert_eq!(w.h.take("laptop"), Vec::<Value>::new(), "an older read is told to nobody");
    assert_eq!(w.inbox.unread().unwrap(), 0);
}

#[test]
fn bad_marks_are_refused_with_coded_errors_and_the_socket_stays_usable() {
    let mut w = World::new();
    w.h.connect("phone", &bob(), None);
    w.h.connect("admin", &user("root"), None);
    w.send("alice", "hi", json!({}));
    w.h.take("phone");
    w.h.take("admin");
    let cases = [
        (json!({ "type": "received", "seq": 5, "transaction": "t1" }), "invalid_field", Some("seq")),
        (json!({ "type": "read", "seq": 2, "transaction": 7 }), "invalid_field", Some("seq")),
        (json!({ "type": "read", "seq": "1", "transaction": "t3" }), "invalid_field", Some("seq")),
        (json!({ "type": "read", "transaction": "t4" }), "invalid_field", Some("seq")),
    ];
    for (frame, code, field) in cases {
        let transaction = frame["transaction"].clone();
        w.frame("phone", frame);
        let error = w.h.take("phone").pop().unwrap();
        assert_eq!(error["type"], "error");
        assert_eq!(error["code"], code);
        assert_eq!(error["transaction"], transaction);
        assert_eq!(error["details"]["field"].as_str(), field);
    }
    w.frame("admin", json!({ "type": "read", "seq": 1 }));
    assert_eq!(w.h.take("admin")[0]["code"], "room_forbidden", "someone else's connection does not mark");
    assert_eq!(w.inbox.marks(), (0, 0));
    // The native protocol still works on the same connection.
    w.frame("phone", json!({ "type": "publish", "event": "note", "data": 1 }));
    assert_eq!(w.h.take("phone")[0]["type"], "ack");
    w.frame("phone", json!({ "type": "shout" }));
    assert_eq!(w.h.take("phone")[0]["code"], "unknown_type");
    assert!(w.h.is_open("phone"));
}

#[test]
fn outside_an_inbox_received_and_read_are_unknown_frame_types() {
    let mut h = Harness::new();
    h.connect("a", &bob(), None);
    h.take("a");
    h.send_json("a", json!({ "type": "read", "seq": 1 }));
    let error = h.take("a").pop().unwrap();
    assert_eq!((error["code"].as_str(), error["details"]["type"].as_str()), (Some("unknown_type"), Some("read")));
    assert!(Inbox::open(&RoomId::parse("lobby").unwrap(), &deadlines(), &Retention::default(), Sqlite::in_memory())
        .unwrap()
        .is_none());
}

#[test]
fn an_offline_user_gets_one_email_at_the_deadline_and_no_more_once_the_queue_took_it() {
    let mut w = World::new();
    reachable(&mut w);
    w.send("alice", "Your report is ready", json!({ "urgency": "normal" }));
    assert_eq!(w.inbox.next_alarm().unwrap(), Some(T0 + 60 * SECOND));
    assert!(w.alarm_after(59 * SECOND, false).jobs.is_empty(), "not before the deadline");
    let due = w.alarm_after(SECOND, false);
    assert_eq!(
        due.jobs,
        vec![Job {
            key: "bob/1/email".into(),
            user: UserId::parse("bob").unwrap(),
            channel: Channel::Email,
            to: "bob@example.com".into(),
            seq: 1,
            notification: "n1".into(),
            subject: "Notification from alice name".into(),
            text: "Your report is ready".into(),
            expires_at: None,
            push: None,
        }]
    );
    assert_eq!(w.inbox.next_alarm().unwrap(), None);
    assert!(w.alarm_after(DAY, false).jobs.is_empty());
}

#[test]
fn a_user_online_with_the_notification_acknowledged_gets_no_email_even_unread() {
    let mut w = World::new();
    reachable(&mut w);
    w.h.connect("phone", &bob(), None);
    w.send("alice", "hi", json!({ "urgency": "low" }));
    w.frame("phone", json!({ "type": "received", "seq": 1 }));
    let due = w.alarm_after(600 * SECOND, false);
    assert_eq!((due.jobs.len(), due.skipped.clone()), (0, vec![(1, Channel::Email, Skip::SeenOnline)]));
}

#[test]
fn a_device_that_acknowledged_and_went_away_still_gets_the_email() {
    let mut w = World::new();
    reachable(&mut w);
    w.h.connect("phone", &bob(), None);
    w.send("alice", "hi", json!({}));
    w.frame("phone", json!({ "type": "received", "seq": 1 }));
    w.h.close("phone");
    assert_eq!(channels(&w.alarm_after(60 * SECOND, false)), vec![(1, Channel::Email)]);
}

#[test]
fn high_urgency_not_acknowledged_in_time_goes_by_sms_and_email_even_in_quiet_hours() {
    let mut w = World::new();
    reachable(&mut w);
    // Quiet all day but the last minute: high urgency does not wait.
    w.contacts(json!({ "quiet_hours": { "start": "00:00", "end": "23:59" } }));
    w.h.connect("phone", &bob(), None);
    w.send("alice", "Server down", json!({ "urgency": 4 }));
    let due = w.alarm_after(10 * SECOND, false);
    assert_eq!(channels(&due), vec![(1, Channel::Email), (1, Channel::Sms)]);
    let sms = due.jobs.iter().find(|j| j.channel == Channel::Sms).unwrap();
    assert_eq!((sms.to.as_str(), sms.text.as_str(), sms.key.as_str()), ("+447700900123", "Server down", "bob/1/sms"));
}

#[test]
fn high_urgency_acknowledged_in_time_sends_nothing() {
    let mut w = World::new();
    reachable(&mut w);
    w.h.connect("phone", &bob(), None);
    w.send("alice", "Server down", json!({ "urgency": "high" }));
    w.frame("phone", json!({ "type": "received", "seq": 1 }));
    let due = w.alarm_after(10 * SECOND, false);
    assert!(due.jobs.is_empty());
    assert_eq!(due.skipped, vec![(1, Channel::Email, Skip::Delivered), (1, Channel::Sms, Skip::Delivered)]);
}

#[test]
fn a_read_before_the_deadline_sends_nothing_and_clears_the_alarm() {
    let mut w = World::new();
    reachable(&mut w);
    w.send("alice", "one", json!({ "urgency": "high" }));
    w.send("alice", "two", json!({}));
    w.h.connect("laptop", &bob(), None);
    w.frame("laptop", json!({ "type": "read", "seq": 2 }));
    assert_eq!(w.inbox.next_alarm().unwrap(), None);
    assert!(w.alarm_after(DAY, false).jobs.is_empty());
}

#[test]
fn quiet_hours_hold_a_normal_email_until_they_end() {
    let mut w = World::new();
    reachable(&mut w);
    // T0 is 09:00 UTC; 10:00 to 12:00 at UTC+1 is 09:00 to 11:00 UTC: the deadline at 09:01
    // falls in it.
    w.contacts(json!({ "quiet_hours": { "start": "10:00", "end": "12:00", "utc_offset_minutes": 60 } }));
    w.send("alice", "hi", json!({}));
    let due = w.alarm_after(60 * SECOND, false);
    assert!(due.jobs.is_empty() && due.skipped.is_empty(), "deferred, not skipped");
    let end = T0 + 2 * 3600 * SECOND;
    assert_eq!(w.inbox.next_alarm().unwrap(), Some(end));
    let due = w.alarm_after(end - w.h.now, false);
    assert_eq!(channels(&due), vec![(1, Channel::Email)]);
}

#[test]
fn channels_the_user_turned_off_or_has_no_address_for_and_expired_notifications_are_skipped() {
    let mut w = World::new();
    w.contacts(json!({ "phone": "+447700900123", "channels": ["email"] }));
    w.send("alice", "a", json!({ "urgency": "high" }));
    w.send("alice", "b", json!({ "urgency": "normal", "ttl": 30 }));
    w.send("alice", "c", json!({ "urgency": "normal", "channels": [] }));
    w.send("alice", "d", json!({ "urgency": "very-low" }));
    let first = w.alarm_after(10 * SECOND, false);
    assert_eq!(first.skipped, vec![(1, Channel::Email, Skip::NoAddress), (1, Channel::Sms, Skip::TurnedOff)]);
    let second = w.alarm_after(50 * SECOND, false);
    assert_eq!(second.skipped, vec![(2, Channel::Email, Skip::Expired)]);
    assert_eq!(w.inbox.next_alarm().unwrap(), None, "realtime-only notifications plan nothing");
}

#[test]
fn a_job_the_queue_did_not_take_is_queued_again_and_the_ledger_lets_it_send_once() {
    let mut w = World::new();
    reachable(&mut w);
    w.send("alice", "hi", json!({}));
    let first = w.alarm_after(60 * SECOND, true);
    assert_eq!(channels(&first), vec![(1, Channel::Email)]);
    assert_eq!(w.inbox.next_alarm().unwrap(), Some(w.h.now + REQUEUE_MS));
    let again = w.alarm_after(REQUEUE_MS, false);
    assert_eq!(again.jobs, first.jobs, "the same job, the same key");
    // Both copies reach the consumer: only the first claim sends; the other is told to come
    // back when the first one's lease ends, and then finds the job sent.
    let key = &first.jobs[0].key;
    assert_eq!(w.inbox.claim(w.h.now, key, None).unwrap(), go(1));
    assert_eq!(w.inbox.claim(w.h.now, key, None).unwrap(), held(w.h.now + LEASE_MS), "the other copy finds it held");
    w.inbox.done(w.h.now, key).unwrap();
    assert_eq!(w.inbox.claim(w.h.now + LEASE_MS, key, None).unwrap(), finished(), "and later, sent");
}

fn go(claim: u64) -> JobClaim {
    JobClaim { go: true, claim: Some(claim), held_until_ms: None }
}

fn held(until: i64) -> JobClaim {
    JobClaim { go: false, claim: None, held_until_ms: Some(until) }
}

/// Sent or skipped: the answer that acks a job.
fn finished() -> JobClaim {
    JobClaim { go: false, claim: None, held_until_ms: None }
}

#[test]
fn a_job_whose_notification_was_read_after_it_was_queued_is_not_sent() {
    let mut w = World::new();
    reachable(&mut w);
    w.send("alice", "hi", json!({}));
    let due = w.alarm_after(60 * SECOND, false);
    w.h.connect("phone", &bob(), None);
    w.frame("phone", json!({ "type": "read", "seq": 1 }));
    assert_eq!(w.inbox.claim(w.h.now, &due.jobs[0].key, None).unwrap(), finished());
}

#[test]
fn a_job_carries_its_notifications_ttl_and_is_skipped_once_past_it() {
    let mut w = World::new();
    reachable(&mut w);
    w.send("alice", "soon stale", json!({ "ttl": 90 }));
    w.send("alice", "evergreen", json!({}));
    let due = w.alarm_after(60 * SECOND, false);
    let expires_at = T0 + 90 * SECOND;
    assert_eq!(due.jobs.iter().map(|j| j.expires_at).collect::<Vec<_>>(), vec![Some(expires_at), None]);
    // A retry after the ttl (the queue's backoff, a held claim) sends nothing, for good.
    let stale = &due.jobs[0].key;
    assert_eq!(w.inbox.claim(expires_at, stale, Some(expires_at)).unwrap(), finished());
    assert_eq!(w.inbox.claim(expires_at + DAY, stale, None).unwrap(), finished(), "skipped stays skipped");
    assert_eq!(w.inbox.claim(expires_at, &due.jobs[1].key, None).unwrap(), go(1));
}

#[test]
fn the_ledger_sends_a_key_at_most_once_and_lets_a_retry_in_after_a_failure_or_a_lost_attempt() {
    let db = Sqlite::in_memory();
    let ledger = Ledger::open(db.clone()).unwrap();
    let key = "u/1/email";
    assert_eq!(ledger.claim(T0, key, |_| false, None).unwrap(), Claim::Go { claim: 1 }, "an unknown key may be sent");
    assert_eq!(
        ledger.claim(T0 + 1, key, |_| false, None).unwrap(),
        Claim::Held { until: T0 + LEASE_MS },
        "not while an attempt holds it: ask again when its lease ends"
    );
    ledger.release(key, Some(1)).unwrap();
    assert_eq!(
        ledger.claim(T0 + 2, key, |_| false, None).unwrap(),
        Claim::Go { claim: 2 },
        "a failed send releases it"
    );
    assert_eq!(
        ledger.claim(T0 + 2 + LEASE_MS - 1, key, |_| false, None).unwrap(),
        Claim::Held { until: T0 + 2 + LEASE_MS }
    );
    assert_eq!(
        ledger.claim(T0 + 2 + LEASE_MS, key, |_| false, None).unwrap(),
        Claim::Go { claim: 3 },
        "an attempt that died lets the next in"
    );
    ledger.done(key).unwrap();
    ledger.release(key, Some(3)).unwrap();
    assert_eq!(
        ledger.claim(T0 + DAY, key, |_| false, None).unwrap(),
        Claim::Sent,
        "done stays done, a late release changes nothing"
    );
    // A key the inbox queued for seq 4 is not sent once 4 is read.
    ledger.queued("u/4/sms", 4).unwrap();
    assert_eq!(ledger.claim(T0, "u/4/sms", |seq| seq <= 4, None).unwrap(), Claim::Skipped);
    assert_eq!(ledger.claim(T0, "u/4/sms", |_| false, None).unwrap(), Claim::Skipped, "skipped for good");
    ledger.queued("u/5/sms", 5).unwrap();
    assert_eq!(ledger.claim(T0, "u/5/sms", |seq| seq <= 4, Some(T0 + 1)).unwrap(), Claim::Go { claim: 1 });
    // Nor past its ttl.
    ledger.queued("u/6/sms", 6).unwrap();
    assert_eq!(ledger.claim(T0, "u/6/sms", |_| false, Some(T0)).unwrap(), Claim::Skipped);
    // The ledger is storage: a reload knows it all.
    let again = Ledger::open(db).unwrap();
    assert_eq!(again.claim(T0 + DAY, key, |_| false, None).unwrap(), Claim::Sent);
    assert_eq!(again.claim(T0 + DAY, "u/5/sms", |_| false, None).unwrap(), Claim::Go { claim: 2 });
}

#[test]
fn only_the_claim_that_holds_a_job_may_release_it() {
    let ledger = Ledger::open(Sqlite::in_memory()).unwrap();
    let key = "u/1/sms";
    assert_eq!(ledger.claim(T0, key, |_| false, None).unwrap(), Claim::Go { claim: 1 });
    // The first attempt outlives its lease; a second one claims the job and is sending it.
    assert_eq!(ledger.claim(T0 + LEASE_MS, key, |_| false, None).unwrap(), Claim::Go { claim: 2 });
    ledger.release(key, Some(1)).unwrap();
    ledger.release(key, None).unwrap();
    assert_eq!(
        ledger.claim(T0 + LEASE_MS + 1, key, |_| false, None).unwrap(),
        Claim::Held { until: T0 + 2 * LEASE_MS },
        "the stale release freed nothing: a third attempt does not send it beside the second"
    );
    ledger.release(key, Some(2)).unwrap();
    assert_eq!(ledger.claim(T0 + LEASE_MS + 2, key, |_| false, None).unwrap(), Claim::Go { claim: 3 });
    // A done is taken from any attempt: the provider took it, nothing may send it again.
    ledger.done(key).unwrap();
    assert_eq!(ledger.claim(T0 + DAY, key, |_| false, None).unwrap(), Claim::Sent);
}

#[test]
fn a_ledger_made_before_claims_were_numbered_gets_the_column() {
    let db = Sqlite::in_memory();
    db.execute(
        "CREATE TABLE inbox_jobs (key TEXT PRIMARY KEY, seq INTEGER, state TEXT NOT NULL,
            lease_until INTEGER NOT NULL DEFAULT 0);
         INSERT INTO inbox_jobs (key, seq, state) VALUES ('u/1/email', 1, 'queued');",
    );
    let ledger = Ledger::open(db.clone()).unwrap();
    assert_eq!(ledger.claim(T0, "u/1/email", |_| false, None).unwrap(), Claim::Go { claim: 1 });
    assert!(Ledger::open(db).is_ok(), "and opens again");
}

#[test]
fn a_scheduled_send_waits_for_its_time_then_goes_out_and_plans_its_fallbacks_from_then() {
    let mut w = World::new();
    reachable(&mut w);
    w.h.connect("phone", &bob(), None);
    w.h.take("phone");
    let at = T0 + 3600 * SECOND;
    let answer = w.send("alice", "later", json!({ "send_at": at, "idempotency_key": "s1" }));
    assert_eq!(answer, json!({ "id": "s1", "scheduled": at }));
    assert_eq!(
        w.send("alice", "later", json!({ "send_at": at, "idempotency_key": "s1" })),
        json!({ "id": "s1", "scheduled": at, "duplicate": true })
    );
    assert_eq!(w.h.take("phone"), Vec::<Value>::new());
    assert_eq!(w.inbox.next_alarm().unwrap(), Some(at));
    let mut w = w.reload();
    w.h.connect("phone", &bob(), None);
    w.h.take("phone");
    w.alarm_after(at - T0, false);
    let frames = w.h.take("phone");
    assert_eq!((frames.len(), frames[0]["seq"].clone(), frames[0]["id"].clone()), (1, json!(1), json!("s1")));
    assert_eq!(frames[0]["ts"], at);
    assert_eq!(
        w.send("alice", "later", json!({ "send_at": at, "idempotency_key": "s1" })),
        json!({ "id": "s1", "seq": 1, "duplicate": true }),
        "once sent, the key finds the notification"
    );
    assert_eq!(w.inbox.next_alarm().unwrap(), Some(at + 60 * SECOND));
    // A send_at in the past is now.
    assert_eq!(w.send("alice", "now", json!({ "send_at": 5 }))["seq"], 2);
}

#[test]
fn marks_contacts_devices_and_pending_fallbacks_survive_a_reload() {
    let mut w = World::new();
    reachable(&mut w);
    w.h.connect("phone", &bob(), None);
    w.send("alice", "a", json!({}));
    w.send("alice", "b", json!({}));
    w.frame("phone", json!({ "type": "received", "seq": 2 }));
    w.frame("phone", json!({ "type": "read", "seq": 1 }));
    let device = Device::Ios { token: "ab".repeat(32) };
    w.inbox.subscribe(w.h.now, &device).unwrap();
    let w = w.reload();
    assert_eq!(w.inbox.marks(), (2, 1));
    assert_eq!(w.inbox.contacts().email.as_deref(), Some("bob@example.com"));
    assert_eq!(w.inbox.devices().unwrap(), vec![device]);
    assert_eq!(w.inbox.next_alarm().unwrap(), Some(T0 + 60 * SECOND), "b's email is still due");
    assert_eq!(w.h.room.alarm_at(), None, "the room's own alarm is rebuilt from its sessions");
}

#[test]
fn the_page_lists_notifications_newest_first_with_their_state_and_a_cursor() {
    let mut w = World::new();
    w.h.connect("phone", &bob(), None);
    for n in 1..=5 {
        w.send("alice", &format!("m{n}"), json!({ "urgency": 1 }));
    }
    w.frame("phone", json!({ "type": "received", "seq": 4 }));
    w.frame("phone", json!({ "type": "read", "seq": 2 }));
    // Another event in the inbox's room (3D Repo publishes its own) is not a notification.
    w.frame("phone", json!({ "type": "publish", "event": "issue", "data": {} }));
    let page = w.page(None, 2);
    assert_eq!(
        (page["unread"].clone(), page["last_read"].clone(), page["next"].clone()),
        (json!(3), json!(2), json!(4))
    );
    assert_eq!(
        page["notifications"][0],
        json!({ "seq": 5, "ts": T0, "state": "sent", "id": "n5", "msg": "m5", "data": null, "urgency": 1,
                "from": { "id": "alice", "name": "alice name" } })
    );
    assert_eq!(page["notifications"][1]["state"], "delivered");
    let rest = w.page(Some(4), 10);
    let states: Vec<&str> =
        rest["notifications"].as_array().unwrap().iter().map(|n| n["state"].as_str().unwrap()).collect();
    assert_eq!(states, vec!["delivered", "read", "read"]);
    assert_eq!(rest["next"], Value::Null);
    assert_eq!(w.inbox.read_json().unwrap(), json!({ "last_read": 2, "unread": 3 }).to_string());
}

#[test]
fn a_read_over_rest_checks_the_seq_and_is_told_to_every_device() {
    let mut w = World::new();
    w.h.connect("phone", &bob(), None);
    w.send("alice", "a", json!({}));
    w.h.take("phone");
    let error = w.inbox.read(w.h.now, &w.h.room, 2).unwrap_err();
    assert_eq!((error.code, error.details.unwrap()["field"].clone()), (ErrorCode::InvalidField, json!("seq")));
    let effects = w.inbox.read(w.h.now, &w.h.room, 1).unwrap();
    w.h.apply(effects);
    assert_eq!(w.h.take("phone"), vec![json!({ "type": "read", "seq": 1 })]);
}

#[test]
fn a_device_subscribed_again_replaces_itself_and_only_the_newest_devices_are_kept() {
    let mut w = World::new();
    let token = |n: usize| Device::Android { token: format!("{n:040}") };
    for n in 0..DEVICES_MAX + 3 {
        w.inbox.subscribe(T0 + n as i64, &token(n)).unwrap();
    }
    w.inbox.subscribe(T0 + 100, &token(DEVICES_MAX + 2)).unwrap();
    let devices = w.inbox.devices().unwrap();
    assert_eq!(devices.len(), DEVICES_MAX);
    assert_eq!(devices[0], token(DEVICES_MAX + 2));
    assert!(!devices.contains(&token(2)) && devices.contains(&token(3)));
}

#[test]
fn an_inbox_belongs_to_the_user_its_id_was_written_for() {
    for id in ["bob", "alice@example.com", "zoë", "a_b:c"] {
        let user = UserId::parse(id).unwrap();
        assert_eq!(owner_of(&inbox_of(&user).unwrap()), Some(user));
    }
    for other in ["inbox:a_5f", "inbox:", "inbox:a_ZZ", "inbox:a:b", "lobby", "tndata:a:b"] {
        assert_eq!(owner_of(&RoomId::parse(other).unwrap()), None, "{other}");
    }
}

#[test]
fn the_alarm_serves_the_rooms_sessions_and_the_inbox_whichever_is_first() {
    let mut w = World::new();
    w.h.connect_until("phone", &bob(), None, T0 + 30 * SECOND);
    assert_eq!(w.inbox.alarm_with(&w.h.room), Some(T0 + 30 * SECOND));
    w.send("alice", "hi", json!({ "urgency": "high" }));
    assert_eq!(w.inbox.alarm_with(&w.h.room), Some(T0 + 10 * SECOND));
    w.alarm_after(10 * SECOND, false);
    assert!(w.h.is_open("phone"));
    assert_eq!(w.inbox.alarm_with(&w.h.room), Some(T0 + 30 * SECOND));
    w.alarm_after(20 * SECOND, false);
    assert_eq!(w.h.close_code("phone"), Some(4501), "the session's expiry still ends it");
    assert_eq!(w.inbox.alarm_with(&w.h.room), None);
}

#[test]
fn a_row_that_cannot_be_read_is_dropped_and_the_rest_of_the_alarm_is_done() {
    let mut w = World::new();
    reachable(&mut w);
    w.h.connect("phone", &bob(), None);
    w.h.take("phone");
    let at = T0 + 10 * SECOND;
    w.send("alice", "later", json!({ "send_at": at, "idempotency_key": "s1" }));
    w.send("alice", "hi", json!({ "urgency": "high" }));
    // What no code writes: a scheduled send that is not a request, due first, and a fallback
    // through a channel that does not exist.
    w.db.execute(&format!(
        "INSERT INTO inbox_scheduled (sender, id, due, request) VALUES ('mallory', 'bad', {T0}, 'not json');
         INSERT INTO inbox_due (seq, channel, due) VALUES (1, 'fax', {T0});"
    ));
    w.h.take("phone");
    w.h.advance(10 * SECOND);
    let due = w.pass();
    assert_eq!(due.problems.len(), 2, "{:?}", due.problems);
    assert!(due.problems[0].starts_with("a scheduled send that cannot be read was dropped"), "{:?}", due.problems);
    assert!(due.problems[1].starts_with("a due fallback that cannot be read was dropped"), "{:?}", due.problems);
    assert!(!due.retry, "nothing is left to retry");
    let frames = w.h.take("phone");
    assert_eq!(frames.iter().map(|f| f["id"].clone()).collect::<Vec<_>>(), vec![json!("s1")], "the good send went out");
    assert_eq!(channels(&due), vec![(1, Channel::Email), (1, Channel::Sms)], "the good fallbacks were decided");
    assert_eq!((w.db.count("inbox_scheduled"), w.db.count("inbox_due")), (0, 1), "the bad rows are gone: s1's is left");
    assert_eq!(w.next_after(&due), Some(at + 60 * SECOND), "s1's own fallback, not the past");
}

#[test]
fn a_write_that_fails_in_the_alarm_brings_it_back_after_a_while_not_at_once() {
    let mut w = World::new();
    reachable(&mut w);
    w.send("alice", "one", json!({}));
    w.send("alice", "two", json!({}));
    w.db.execute(
        "CREATE TRIGGER broken BEFORE UPDATE ON inbox_due WHEN NEW.seq = 1
         BEGIN SELECT RAISE(FAIL, 'disk on fire'); END;",
    );
    w.h.advance(60 * SECOND);
    let due = w.pass();
    assert_eq!(channels(&due), vec![(2, Channel::Email)], "the other fallback went on");
    assert!(due.retry && due.problems[0].contains("disk on fire"), "{:?}", due.problems);
    assert_eq!(w.inbox.next_alarm().unwrap(), Some(w.h.now), "the failed one is still due");
    assert_eq!(w.next_after(&due), Some(w.h.now + RETRY_MS), "but the alarm waits before trying it again");
    w.db.execute("DROP TRIGGER broken;");
    w.h.advance(RETRY_MS);
    let again = w.pass();
    assert_eq!((channels(&again), again.problems.len()), (vec![(1, Channel::Email)], 0));
    // Storage that cannot even be read asks for the alarm again, rather than none.
    w.db.execute("DROP TABLE inbox_scheduled;");
    let broken = w.pass();
    assert!(broken.retry);
    assert_eq!(w.next_after(&broken), Some(w.h.now + RETRY_MS));
}

#[test]
fn an_alarm_takes_a_bounded_batch_of_due_rows_and_comes_again_at_once_for_the_rest() {
    let mut w = World::new();
    reachable(&mut w);
    let total = ALARM_BATCH + 50;
    for n in 0..total {
        w.send("alice", &format!("m{n}"), json!({}));
    }
    w.h.advance(60 * SECOND);
    let first = w.pass();
    assert_eq!(first.jobs.len(), ALARM_BATCH);
    assert_eq!(w.next_after(&first), Some(T0 + 60 * SECOND), "the rest is due now: the alarm comes again at once");
    let second = w.pass();
    assert_eq!(second.jobs.len(), 50);
    assert_eq!(second.jobs[0].seq, ALARM_BATCH as u64 + 1, "in order, none twice");
    assert_eq!(w.next_after(&second), None);
}

#[test]
fn an_inbox_keeps_a_bounded_number_of_scheduled_sends_at_most_30_days_ahead() {
    let mut w = World::new();
    let at = T0 + DAY;
    for n in 0..SCHEDULED_MAX {
        w.db.execute(&format!(
            "INSERT INTO inbox_scheduled (sender, id, due, request) VALUES ('alice', 'k{n}', {at}, '{{}}')"
        ));
    }
    let error = w.try_send("alice", "one more", json!({ "send_at": at })).unwrap_err();
    assert_eq!((error.code.as_str(), error.code.http_status()), ("too_many_scheduled", 429));
    assert_eq!(error.details, Some(json!({ "limit": SCHEDULED_MAX })));
    assert_eq!(w.send("alice", "now is fine", json!({}))["seq"], 1);
    let far = w.try_send("carol", "next year", json!({ "send_at": T0 + SEND_AT_MAX_AHEAD_MS + 1 })).unwrap_err();
    assert_eq!(far.details.unwrap()["field"], "send_at");
}

#[test]
fn a_notification_stored_but_not_planned_is_planned_when_the_sender_retries_its_key() {
    let mut w = World::new();
    reachable(&mut w);
    w.db.execute("CREATE TRIGGER broken BEFORE INSERT ON inbox_notes BEGIN SELECT RAISE(FAIL, 'disk on fire'); END;");
    let error = w.try_send("alice", "report ready", json!({ "idempotency_key": "r7" })).unwrap_err();
    assert!(error.message.contains("disk on fire"), "{error:?}");
    assert_eq!(w.h.room.last_seq(), 1, "the room stored it before planning failed");
    w.db.execute("DROP TRIGGER broken;");
    assert_eq!(
        w.send("alice", "report ready", json!({ "idempotency_key": "r7" })),
        json!({ "id": "r7", "seq": 1, "duplicate": true })
    );
    assert_eq!(w.page(None, 10)["notifications"][0]["id"], "r7", "its note is kept");
    let due = w.alarm_after(60 * SECOND, false);
    assert_eq!(channels(&due), vec![(1, Channel::Email)], "and its fallback was planned");
    // Once planned, a retry plans nothing more.
    w.send("alice", "report ready", json!({ "idempotency_key": "r7" }));
    assert_eq!(w.inbox.next_alarm().unwrap(), None);
}

#[test]
fn finished_jobs_are_pruned_with_their_notifications() {
    let retention = Retention { max_messages: 10, ..Retention::default() };
    let mut w = World::keeping(Sqlite::in_memory(), T0, retention);
    reachable(&mut w);
    w.send("alice", "one", json!({}));
    w.send("alice", "two", json!({}));
    w.send("alice", "three", json!({}));
    let due = w.alarm_after(60 * SECOND, false);
    let keys: Vec<&str> = due.jobs.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(w.inbox.claim(w.h.now, keys[0], None).unwrap(), go(1));
    w.inbox.done(w.h.now, keys[0]).unwrap();
    assert_eq!(w.inbox.claim(w.h.now, keys[1], Some(w.h.now)).unwrap(), finished(), "skipped: past its ttl");
    assert_eq!(w.inbox.claim(w.h.now, keys[2], None).unwrap(), go(1), "still held");
    assert_eq!(w.db.count("inbox_jobs"), 3);
    // Seq 64 prunes what is more than 10 notifications old: the three notes, and the two
    // finished jobs; the held one may still be reported.
    for n in 4..=64 {
        w.send("alice", &format!("m{n}"), json!({ "urgency": 1 }));
    }
    assert_eq!(w.page(Some(54), 10)["notifications"], json!([]));
    assert_eq!(w.db.count("inbox_jobs"), 1);
    w.inbox.done(w.h.now, keys[2]).unwrap();
}
