//! The escalation ladder under a fake clock: live devices first, then a push to every
//! subscribed device, then email / SMS; each step cancelled by a live acknowledgement, a push
//! receipt or a read. And one push job's delivery, step by step, through each kind of provider
//! answer (`attempt.rs`).

use base64ct::{Base64UrlUnpadded, Encoding};
use herald_core::config::{Fallback, Limits, Retention};
use herald_core::exchange::attempt::{Answer, Attempt, Step};
use herald_core::exchange::contacts::ContactsUpdate;
use herald_core::exchange::inbox::{Due, Inbox, Outcome, TELL_AFTER_MS};
use herald_core::exchange::providers::Outbound;
use herald_core::exchange::push::answers::{Provider, Verdict};
use herald_core::exchange::push::outbound::outbound;
use herald_core::exchange::push::receipts::{self, ReceiptState};
use herald_core::exchange::push::settings::{ApnsSettings, PushSettings, Secret, WebPushSettings};
use herald_core::exchange::push::{ece, payload};
use herald_core::exchange::requests::Device;
use herald_core::exchange::{inbox_of, Channel, Job, NotifyRequest, Opts, Told};
use herald_core::ids::{RoomId, UserId};
use herald_core::internal::{JobClaim, JOB_DONE, JOB_RELEASE};
use herald_core::room::{Room, SqlLog};
use herald_tests::{conn, user, Harness, Sqlite, APNS_P8, T0};
use serde_json::{json, Value};

const SECOND: i64 = 1000;
const SECRET: &str = "a receipt secret of 32 bytes or more";
/// RFC 8291 Appendix A's keys: the receiver's (a browser's subscription) and a sender's, used
/// here as the VAPID key.
const UA_PUBLIC: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
const VAPID_PUBLIC: &str = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
const VAPID_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";

fn settings() -> PushSettings {
    PushSettings {
        web_push: Some(WebPushSettings {
            public_key: VAPID_PUBLIC.into(),
            private_key: Secret(VAPID_PRIVATE.into()),
            subject: "mailto:ops@example.com".into(),
        }),
        apns: Some(ApnsSettings {
            url: "https://api.push.apple.com".into(),
            key: Secret(APNS_P8.into()),
            key_id: "KEYID12345".into(),
            team_id: "TEAMID1234".into(),
            topic: "com.example.app".into(),
        }),
        receipt_secret: Some(Secret(SECRET.into())),
        ..PushSettings::default()
    }
}

fn iphone(n: u8) -> Device {
    Device::Ios { token: format!("{n:02x}").repeat(32) }
}

/// Push after 10 s (normal) / 2 s (high), email after 60 s, SMS after 30 s.
fn deadlines() -> Fallback {
    Fallback {
        normal_email_ms: 60 * SECOND,
        high_sms_ms: 30 * SECOND,
        push_ms: [10 * SECOND, 10 * SECOND, 10 * SECOND, 2 * SECOND],
        push: settings(),
        ..Fallback::default()
    }
}

fn browser(n: u8) -> Device {
    Device::WebPush {
        endpoint: format!("https://updates.push.services.mozilla.com/wpush/v2/{n}"),
        expiration_time: None,
        p256dh: UA_PUBLIC.into(),
        auth: AUTH.into(),
    }
}

/// Bob's inbox, his live devices in a room harness, and the jobs the queue took.
struct World {
    h: Harness<SqlLog<Sqlite>>,
    inbox: Inbox<Sqlite>,
    jobs: Vec<Job>,
}

impl World {
    fn new() -> Self {
        let db = Sqlite::in_memory();
        let room = Room::load(bob_room(), Limits::default(), Retention::default(), SqlLog::open(db.clone()).unwrap());
        let mut h = Harness::over(room.unwrap());
        h.now = T0;
        let inbox = Inbox::open(&bob_room(), &deadlines(), &Retention::default(), db).unwrap().unwrap();
        let mut w = Self { h, inbox, jobs: Vec::new() };
        let contacts = json!({ "email": "bob@example.com", "phone": "+447700900123" }).to_string();
        w.inbox.update_contacts(ContactsUpdate::parse(&contacts).unwrap()).unwrap();
        w
    }

    fn subscribe(&mut self, device: Device) {
        self.inbox.subscribe(self.h.now, &device).unwrap();
    }

    fn send(&mut self, msg: &str, opts: Value) -> u64 {
        let request =
            NotifyRequest { from: user("alice"), msg: msg.into(), opts: Opts::parse(Some(&opts), None).unwrap() };
        let id = format!("n-{msg}");
        let (answer, effects) = self.inbox.on_notify(self.h.now, &mut self.h.room, request, || id).unwrap();
        self.h.apply(effects);
        answer["seq"].as_u64().unwrap()
    }

    fn frame(&mut self, id: &str, frame: Value) {
        let effects =
            self.h.room.on_inbox_frame(self.h.now, &conn(id), &frame.to_string(), &mut self.inbox, || "x".into());
        self.h.apply(effects);
    }

    /// Advances the clock by `ms`, running every alarm that falls due on the way, the queue
    /// taking each job; answers the jobs made.
    fn advance(&mut self, ms: i64) -> Vec<(u64, Channel)> {
        let end = self.h.now + ms;
        let mut made = Vec::new();
        while let Some(at) = self.inbox.alarm_with(&self.h.room).filter(|&at| at <= end) {
            self.h.now = at.max(self.h.now);
            let due: Due = self.inbox.on_alarm(self.h.now, &mut self.h.room);
            assert_eq!(due.problems, Vec::<String>::new());
            self.h.apply(due.effects.clone());
            self.inbox.enqueued(&due.jobs, &vec![true; due.jobs.len()]).unwrap();
            made.extend(due.jobs.iter().map(|j| (j.seq, j.channel)));
            self.jobs.extend(due.jobs);
        }
        self.h.now = end;
        made
    }
}

impl World {
    /// The consumer sent every job made so far for which `sent` says so (claimed, then done).
    fn sent(&mut self, sent: impl Fn(&Job) -> bool) {
        for job in self.jobs.iter().filter(|job| sent(job)) {
            assert!(self.inbox.claim(self.h.now, &job.key, job.expires_at).unwrap().go, "{}", job.key);
            self.inbox.done(self.h.now, &job.key).unwrap();
        }
    }

    /// Reads every notification up to `seq` through the inbox's REST route.
    fn read(&mut self, seq: u64) {
        let effects = self.inbox.read(self.h.now, &self.h.room, seq).unwrap();
        self.h.apply(effects);
    }

    /// The jobs made since the first `from` that tell a read: (kind, seq, device).
    fn told(&self, from: usize) -> Vec<(Told, u64, String)> {
        let told = self.jobs[from..].iter().filter_map(|job| Some((job.push.as_ref()?.told?, job.seq, job.to.clone())));
        told.collect()
    }
}

fn bob_room() -> RoomId {
    inbox_of(&UserId::parse("bob").unwrap()).unwrap()
}

#[test]
fn an_acknowledgement_before_the_push_delay_means_no_push() {
    let mut w = World::new();
    w.subscribe(browser(1));
    w.h.connect("phone", &user("bob"), None);
    let seq = w.send("hi", json!({}));
    w.advance(5 * SECOND);
    w.frame("phone", json!({ "type": "received", "seq": seq }));
    let made = w.advance(3600 * SECOND);
    assert!(!made.contains(&(seq, Channel::Push)), "{made:?}");
}

#[test]
fn unacknowledged_it_is_pushed_to_every_device_at_the_push_delay() {
    let mut w = World::new();
    w.subscribe(browser(1));
    w.subscribe(Device::Ios { token: "ab".repeat(32) });
    let seq = w.send("hi", json!({ "title": "Greeting", "url": "https://app.example.com/m/1" }));
    assert_eq!(w.advance(10 * SECOND - 1), vec![], "not before the delay");
    assert_eq!(w.advance(1), vec![(seq, Channel::Push), (seq, Channel::Push)], "one job per device");
    let keys: Vec<&str> = w.jobs.iter().map(|j| j.key.as_str()).collect();
    assert!(keys.iter().all(|k| k.starts_with("bob/1/push/")) && keys[0] != keys[1], "{keys:?}");
    let push = w.jobs[0].push.as_ref().unwrap();
    assert_eq!((push.title.as_deref(), push.url.as_deref()), (Some("Greeting"), Some("https://app.example.com/m/1")));
    let receipt = receipts::verify(SECRET.as_bytes(), &push.receipt, w.h.now).unwrap();
    assert_eq!((receipt.user.as_str(), receipt.seq), ("bob", seq));
}

#[test]
fn a_push_receipt_stops_the_sms_and_email_of_a_high_notification() {
    let mut w = World::new();
    w.subscribe(browser(1));
    let seq = w.send("Disk full", json!({ "urgency": "high" }));
    assert_eq!(w.advance(0), vec![(seq, Channel::Push)], "nobody connected: pushed at once");
    let effects = w.inbox.receipt(w.h.now, &w.h.room, seq, ReceiptState::Delivered).unwrap();
    assert!(effects.is_empty());
    assert_eq!(w.advance(3600 * SECOND), vec![], "no SMS, no email");
    // Without the receipt, the same notification goes by SMS and email.
    let other = w.send("Disk full again", json!({ "urgency": "high" }));
    let made = w.advance(3600 * SECOND);
    assert_eq!(made, vec![(other, Channel::Push), (other, Channel::Email), (other, Channel::Sms)]);
}

#[test]
fn a_delivered_receipt_stops_further_pushes_but_a_normal_email_still_goes_unread() {
    let mut w = World::new();
    w.subscribe(browser(1));
    w.subscribe(browser(2));
    let seq = w.send("report", json!({}));
    assert_eq!(w.advance(10 * SECOND), vec![(seq, Channel::Push), (seq, Channel::Push)]);
    // One browser showed it before the other's job was sent: that job is no longer needed.
    w.inbox.receipt(w.h.now, &w.h.room, seq, ReceiptState::Delivered).unwrap();
    let claim = w.inbox.claim(w.h.now, &w.jobs[1].key, None).unwrap();
    assert_eq!(claim, JobClaim { go: false, claim: None, held_until_ms: None }, "the other push is settled");
    assert_eq!(w.advance(3600 * SECOND), vec![(seq, Channel::Email)], "shown, not opened, nobody connected");
}

#[test]
fn a_read_on_another_device_cancels_every_step_and_is_told_to_every_device() {
    let mut w = World::new();
    w.subscribe(browser(1));
    w.h.connect("laptop", &user("bob"), None);
    let seq = w.send("news", json!({ "urgency": "high" }));
    w.h.take("laptop");
    let effects = w.inbox.receipt(w.h.now, &w.h.room, seq, ReceiptState::Read).unwrap();
    w.h.apply(effects);
    assert_eq!(w.h.take("laptop"), vec![json!({ "type": "read_one", "seq": seq })]);
    assert_eq!(w.advance(3600 * SECOND), vec![], "no push, SMS or email");
    assert_eq!(w.inbox.unread().unwrap(), 0);
    let page: Value = serde_json::from_str(&w.inbox.page(None, 10).unwrap()).unwrap();
    assert_eq!(page["notifications"][0]["state"], "read");
    // A live read (the inbox's mark) cancels just the same.
    let next = w.send("more", json!({}));
    w.frame("laptop", json!({ "type": "read", "seq": next }));
    assert_eq!(w.advance(3600 * SECOND), vec![]);
}

#[test]
fn a_read_is_told_by_a_silent_push_to_each_phone_it_was_pushed_to_and_to_no_other_device() {
    let mut w = World::new();
    w.subscribe(browser(1));
    w.subscribe(iphone(1));
    w.subscribe(iphone(2));
    let seq = w.send("news", json!({}));
    assert_eq!(w.advance(10 * SECOND).len(), 3, "pushed to the browser and both phones");
    let (one, two) = (iphone(1).public_id(), iphone(2).public_id());
    // The first phone's push and the browser's went out; the second phone's never did.
    w.sent(|job| job.to != two);
    w.subscribe(iphone(3));
    let before = w.jobs.len();
    w.read(seq);
    assert_eq!(w.inbox.next_alarm().unwrap(), Some(w.h.now + TELL_AFTER_MS), "the read is told shortly");
    w.advance(TELL_AFTER_MS);
    assert_eq!(w.told(before), vec![(Told::Read, seq, one.clone())], "not the browser, the unpushed or the new phone");
    let job = w.jobs.last().unwrap().clone();
    assert_eq!(job.key, format!("bob/{seq}/read/{one}"));
    assert_eq!(job.push.as_ref().unwrap().last_read, seq);
    // Sent although its notification is read: the read is what it tells.
    assert!(w.inbox.claim(w.h.now, &job.key, job.expires_at).unwrap().go);
    assert_eq!(w.advance(86_400 * SECOND), vec![], "told once");
    assert_eq!(w.inbox.next_alarm().unwrap(), None);

    // What it is sent as: an APNs background push, signed like every APNs request.
    let Ok(request) = outbound(&job, &settings(), w.h.now, &[7; 48]) else { panic!("no request") };
    let header = |name: &str| request.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
    assert_eq!(header("apns-push-type").as_deref(), Some("background"));
    assert!(header("authorization").is_some_and(|a| a.starts_with("bearer ey")));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["herald"], json!({ "type": "read", "seq": seq }));
    assert_eq!(header("apns-collapse-id"), Some(payload::reads_collapse_id("bob")));
    assert_eq!(header("apns-expiration").as_deref(), Some("0"), "now or never: never stored in place of an alert");
}

#[test]
fn a_later_read_replaces_one_not_yet_told_and_a_read_with_no_push_in_it_tells_nobody() {
    let mut w = World::new();
    w.subscribe(iphone(1));
    let first = w.send("a", json!({}));
    let second = w.send("b", json!({}));
    w.advance(10 * SECOND);
    w.sent(|_| true);
    let before = w.jobs.len();
    let effects = w.inbox.receipt(w.h.now, &w.h.room, first, ReceiptState::Read).unwrap();
    w.h.apply(effects);
    w.advance(TELL_AFTER_MS / 2);
    w.read(second);
    w.advance(TELL_AFTER_MS);
    assert_eq!(w.told(before), vec![(Told::Read, second, iphone(1).public_id())], "one push, the later read");
    let third = w.send("c", json!({ "channels": ["email"] }));
    let before = w.jobs.len();
    w.read(third);
    assert_eq!(w.advance(TELL_AFTER_MS), vec![], "nothing of it was pushed");
    assert_eq!(w.told(before), vec![]);
}

#[test]
fn a_push_on_its_way_while_its_notification_is_read_is_told_once_the_provider_took_it() {
    let mut w = World::new();
    w.subscribe(iphone(1));
    let seq = w.send("in flight", json!({}));
    w.advance(10 * SECOND);
    let push = w.jobs[0].clone();
    assert!(w.inbox.claim(w.h.now, &push.key, None).unwrap().go);
    let before = w.jobs.len();
    w.read(seq);
    assert_eq!(w.advance(60 * SECOND), vec![], "nothing was pushed yet when it was read");
    w.inbox.done(w.h.now, &push.key).unwrap();
    w.advance(TELL_AFTER_MS);
    assert_eq!(w.told(before), vec![(Told::Read, seq, iphone(1).public_id())]);
    // A push that went before any read tells nothing when it is reported.
    let next = w.send("plain", json!({}));
    w.advance(10 * SECOND);
    let before = w.jobs.len();
    w.sent(|job| job.seq == next);
    assert_eq!(w.advance(3600 * SECOND), vec![(next, Channel::Email)], "unread: its email, and no told push");
    assert_eq!(w.told(before), vec![]);
}

#[test]
fn a_push_receipts_read_is_told_to_the_pushed_phones_as_read_one_unless_the_phone_went() {
    let mut w = World::new();
    w.subscribe(iphone(1));
    w.subscribe(iphone(2));
    let seq = w.send("opened on one phone", json!({ "urgency": "high" }));
    assert_eq!(w.advance(0).len(), 2, "nobody online: pushed at once");
    w.sent(|_| true);
    let before = w.jobs.len();
    let effects = w.inbox.receipt(w.h.now, &w.h.room, seq, ReceiptState::Read).unwrap();
    w.h.apply(effects);
    // One phone is removed before the alarm: it is no longer the user's to tell.
    w.inbox.remove_device(&iphone(2).public_id()).unwrap();
    w.advance(TELL_AFTER_MS);
    assert_eq!(w.told(before), vec![(Told::ReadOne, seq, iphone(1).public_id())]);
    let request = outbound(w.jobs.last().unwrap(), &settings(), w.h.now, &[7; 48]).unwrap();
    assert!(request.headers.iter().all(|(name, _)| *name != "apns-collapse-id"));
    assert_eq!(w.inbox.next_alarm().unwrap(), None, "no SMS or email after a read");
}

#[test]
fn a_push_carries_the_read_mark_so_a_browser_clears_what_was_read_elsewhere() {
    let mut w = World::new();
    w.subscribe(browser(1));
    let first = w.send("a", json!({}));
    w.read(first);
    let second = w.send("b", json!({}));
    w.advance(10 * SECOND);
    let push = w.jobs.last().unwrap();
    assert_eq!((push.seq, push.push.as_ref().unwrap().last_read), (second, first));
    let Ok(request) = outbound(push, &settings(), w.h.now, &[7; 48]) else { panic!("no request") };
    assert_eq!(request.provider, Provider::WebPush);
}

#[test]
fn quiet_hours_hold_a_normal_push_until_they_end_but_not_a_high_one() {
    let mut w = World::new();
    w.subscribe(browser(1));
    // Quiet all day but the last minute before midnight UTC: T0 is within them.
    let quiet = json!({ "quiet_hours": { "start": "00:00", "end": "23:59", "utc_offset_minutes": 0 } }).to_string();
    w.inbox.update_contacts(ContactsUpdate::parse(&quiet).unwrap()).unwrap();
    let normal = w.send("later", json!({ "channels": ["push"] }));
    let high = w.send("now", json!({ "urgency": "high", "channels": ["push"] }));
    assert_eq!(w.advance(60 * SECOND), vec![(high, Channel::Push)], "high ignores quiet hours");
    let made = w.advance(86_400 * SECOND);
    assert_eq!(made, vec![(normal, Channel::Push)], "the normal one waits for the end of the quiet hours");
}

#[test]
fn channels_narrow_the_ladder_and_a_user_may_turn_push_off() {
    let mut w = World::new();
    w.subscribe(browser(1));
    let email_only = w.send("a", json!({ "channels": ["email"] }));
    let push_only = w.send("b", json!({ "channels": ["push"] }));
    assert_eq!(w.advance(3600 * SECOND), vec![(push_only, Channel::Push), (email_only, Channel::Email)]);
    let off = json!({ "channels": ["email", "sms"] }).to_string();
    w.inbox.update_contacts(ContactsUpdate::parse(&off).unwrap()).unwrap();
    let seq = w.send("c", json!({}));
    assert_eq!(w.advance(3600 * SECOND), vec![(seq, Channel::Email)], "push turned off by the user");
}

#[test]
fn a_user_without_devices_gets_no_push_step() {
    let mut w = World::new();
    let seq = w.send("x", json!({ "urgency": "high" }));
    assert_eq!(w.inbox.next_alarm().unwrap(), Some(T0 + 30 * SECOND), "woken for the SMS only");
    assert_eq!(w.advance(3600 * SECOND), vec![(seq, Channel::Email), (seq, Channel::Sms)]);
}

/// A push job for bob's browser, as the inbox made it.
fn web_job() -> Job {
    let mut w = World::new();
    w.subscribe(browser(1));
    w.send("Build 7 is green", json!({ "url": "https://app.example.com/b/7", "data": { "b": 7 } }));
    w.advance(10 * SECOND);
    w.jobs.remove(0)
}

/// Runs one delivery of `job`: the claim goes, the provider answers `verdict`, the breaker
/// answers `tripped`; every other call succeeds. The steps taken.
fn deliver(job: &Job, verdict: Verdict, tripped: bool) -> Vec<Step> {
    let config = deadlines();
    let body = serde_json::to_string(job).unwrap();
    let (mut attempt, mut step) = Attempt::start(&body, "m1", 1, &config, T0 + 10 * SECOND, &[7; 48]);
    let mut steps = Vec::new();
    loop {
        steps.push(step.clone());
        let answer = match &step {
            Step::Claim { .. } => Answer::Claimed(Ok(JobClaim { go: true, claim: Some(1), held_until_ms: None })),
            Step::Send(_) => Answer::Pushed(verdict.clone()),
            Step::Breaker { .. } => Answer::Breaker(Ok(tripped)),
            Step::Forget { .. } => Answer::Forgot(Ok(true)),
            Step::Report { .. } => Answer::Reported(Ok(())),
            Step::Note(_) => Answer::Noted(Ok(())),
            Step::Keep(_) => Answer::Kept(Ok(())),
            Step::Ack | Step::Retry { .. } => return steps,
        };
        step = attempt.on(answer);
    }
}

#[test]
fn a_web_push_request_carries_the_notification_encrypted_for_the_subscription() {
    let job = web_job();
    let steps = deliver(&job, Verdict::Accepted, false);
    let Step::Send(Outbound::Push(request)) = &steps[1] else { panic!("{steps:?}") };
    assert_eq!(request.provider, Provider::WebPush);
    assert_eq!(request.url, "https://updates.push.services.mozilla.com/wpush/v2/1");
    let header =
        |name: &str| request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    assert_eq!(header("content-encoding"), Some("aes128gcm"));
    assert_eq!(header("topic"), Some(payload::collapse_id("bob", 1).as_str()));
    assert!(header("authorization").unwrap().starts_with("vapid t="));
    let secret: [u8; 32] = Base64UrlUnpadded::decode_vec(UA_PRIVATE).unwrap().try_into().unwrap();
    let auth = Base64UrlUnpadded::decode_vec(AUTH).unwrap();
    let plaintext = ece::web_push_decrypt(&request.body, &secret, &auth).unwrap();
    let message: Value = serde_json::from_slice(&plaintext).unwrap();
    assert_eq!(message["body"], "Build 7 is green");
    assert_eq!(message["url"], "https://app.example.com/b/7");
    assert_eq!(message["data"], json!({ "b": 7 }));
    assert!(matches!(steps.last(), Some(Step::Ack)));
    let Step::Report { path, key, .. } = &steps[2] else { panic!("{steps:?}") };
    assert_eq!(*path, JOB_DONE);
    assert_eq!(key.outcome.as_ref().map(|o| o.outcome), Some(Outcome::Accepted));
}

#[test]
fn a_gone_device_is_forgotten_after_the_breaker_unless_it_tripped() {
    let job = web_job();
    let gone = Verdict::Gone { reason: "410".into(), since_ms: None };
    let steps = deliver(&job, gone.clone(), false);
    assert!(matches!(steps[2], Step::Breaker { provider: Provider::WebPush }), "{steps:?}");
    let Step::Forget { forget, .. } = &steps[3] else { panic!("{steps:?}") };
    assert_eq!(forget.device, browser(1));
    assert!(matches!(&steps[4], Step::Report { path: JOB_DONE, .. }));
    assert!(matches!(steps.last(), Some(Step::Ack)));
    let tripped = deliver(&job, gone, true);
    assert!(!tripped.iter().any(|s| matches!(s, Step::Forget { .. })), "{tripped:?}");
    let Some(Step::Keep(letter)) = tripped.iter().find(|s| matches!(s, Step::Keep(_))) else { panic!("{tripped:?}") };
    assert!(letter.reason.as_deref().unwrap().contains("no device was deleted"));
}

#[test]
fn credentials_and_payload_errors_delete_nothing_and_are_dead_letters() {
    let job = web_job();
    for verdict in [
        Verdict::Credentials { reason: "403 BadJwtToken".into(), refresh: false },
        Verdict::Payload { reason: "413".into() },
    ] {
        let steps = deliver(&job, verdict, false);
        assert!(!steps.iter().any(|s| matches!(s, Step::Forget { .. } | Step::Breaker { .. })), "{steps:?}");
        assert!(matches!(&steps[2], Step::Report { path: JOB_RELEASE, .. }));
        assert!(steps.iter().any(|s| matches!(s, Step::Keep(_))), "{steps:?}");
    }
}

#[test]
fn a_retry_after_longer_than_the_backoff_is_honoured() {
    let job = web_job();
    let steps = deliver(&job, Verdict::Retry { after_seconds: Some(120), reason: "429".into() }, false);
    assert_eq!(steps.last(), Some(&Step::Retry { delay_seconds: 120 }));
    let short = deliver(&job, Verdict::Retry { after_seconds: Some(1), reason: "429".into() }, false);
    assert_eq!(short.last(), Some(&Step::Retry { delay_seconds: deadlines().retry_base_seconds }));
}

#[test]
fn a_push_whose_provider_is_off_is_a_dead_letter_saying_so() {
    let mut job = web_job();
    job.push.as_mut().unwrap().device = Device::Android { token: "t".repeat(40) };
    let steps = deliver(&job, Verdict::Accepted, false);
    let Some(Step::Keep(letter)) = steps.iter().find(|s| matches!(s, Step::Keep(_))) else { panic!("{steps:?}") };
    assert!(letter.reason.as_deref().unwrap().contains("FCM is off"), "{letter:?}");
}

#[test]
fn a_push_queued_for_a_device_removed_since_is_not_sent() {
    let mut w = World::new();
    w.subscribe(browser(1));
    w.subscribe(browser(2));
    let seq = w.send("for two browsers", json!({}));
    assert_eq!(w.advance(10 * SECOND), vec![(seq, Channel::Push), (seq, Channel::Push)]);
    let removed = w.jobs.iter().find(|j| j.push.as_ref().unwrap().device == browser(1)).unwrap().clone();
    let kept = w.jobs.iter().find(|j| j.push.as_ref().unwrap().device == browser(2)).unwrap().clone();
    // Logged out on that browser (or another user subscribed it) after its job was queued.
    w.inbox.remove_device(&browser(1).public_id()).unwrap();
    let finished = JobClaim { go: false, claim: None, held_until_ms: None };
    assert_eq!(w.inbox.claim(w.h.now, &removed.key, None).unwrap(), finished);
    assert!(w.inbox.claim(w.h.now, &kept.key, None).unwrap().go, "the other browser's still goes");
}

#[test]
fn after_quiet_hours_the_push_goes_first_and_the_email_a_push_delay_later() {
    let mut w = World::new();
    w.subscribe(browser(1));
    let quiet = json!({ "quiet_hours": { "start": "00:00", "end": "23:59", "utc_offset_minutes": 0 } }).to_string();
    w.inbox.update_contacts(ContactsUpdate::parse(&quiet).unwrap()).unwrap();
    let seq = w.send("morning", json!({}));
    let mut made = Vec::new();
    for _ in 0..(86_400 / 5) {
        for step in w.advance(5 * SECOND) {
            made.push((step, w.h.now));
        }
    }
    let steps: Vec<(u64, Channel)> = made.iter().map(|m| m.0).collect();
    assert_eq!(steps, vec![(seq, Channel::Push), (seq, Channel::Email)]);
    // The push at the end of the quiet hours, the email the push delay (10 s) after it: a
    // receipt in between would have stopped it.
    assert_eq!(made[1].1 - made[0].1, 10 * SECOND);
}

#[test]
fn a_device_subscribed_under_older_rules_is_not_sent_to_a_host_the_rules_refuse() {
    let mut job = web_job();
    if let Some(Device::WebPush { endpoint, .. }) = job.push.as_mut().map(|p| &mut p.device) {
        *endpoint = "https://169.254.169.254/latest/meta-data".into();
    }
    let steps = deliver(&job, Verdict::Accepted, false);
    assert!(!steps.iter().any(|s| matches!(s, Step::Send(_))), "{steps:?}");
    let Some(Step::Keep(letter)) = steps.iter().find(|s| matches!(s, Step::Keep(_))) else { panic!("{steps:?}") };
    assert!(letter.reason.as_deref().unwrap().contains("not sent to"), "{letter:?}");
}
