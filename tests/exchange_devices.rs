//! A user's push devices in their inbox (SQLite, as the object keeps them): the list the user
//! sees, removal by public id, a provider's "gone" as a compare-and-delete, last outcomes, the
//! directory flag; and the device index that moves a device from one user to the next.

use herald_core::config::{Fallback, Retention};
use herald_core::exchange::device::Device;
use herald_core::exchange::device_owners::{ClaimAnswer, DeviceClaim, DeviceOwners, ReleaseAnswer};
use herald_core::exchange::inbox::{Deleted, DeviceOutcome, ForgetDevice, Inbox, Outcome, REASON_MAX};
use herald_core::exchange::inbox_of;
use herald_core::ids::UserId;
use herald_tests::{Sqlite, T0};
use serde_json::{json, Value};

const P256DH: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
const OTHER_AUTH: &str = "AAAAAAAAAAAAAAAAAAAAAA";

fn bob() -> UserId {
    UserId::parse("bob").unwrap()
}

fn inbox_over(db: &Sqlite) -> Inbox<Sqlite> {
    Inbox::open(&inbox_of(&bob()).unwrap(), &Fallback::default(), &Retention::default(), db.clone()).unwrap().unwrap()
}

fn inbox() -> Inbox<Sqlite> {
    inbox_over(&Sqlite::in_memory())
}

fn web(auth: &str) -> Device {
    Device::WebPush {
        endpoint: "https://fcm.googleapis.com/fcm/send/secret-capability".into(),
        expiration_time: None,
        p256dh: P256DH.into(),
        auth: auth.into(),
    }
}

fn ios(n: u8) -> Device {
    Device::Ios { token: format!("{:02x}", n).repeat(31) + "c0ffee" }
}

fn list(inbox: &Inbox<Sqlite>) -> Vec<Value> {
    serde_json::from_str::<Value>(&inbox.devices_json().unwrap()).unwrap().as_array().unwrap().clone()
}

#[test]
fn the_list_shows_public_ids_and_hints_newest_first_never_a_token_or_endpoint() {
    let mut inbox = inbox();
    inbox.subscribe(T0, &ios(1)).unwrap();
    inbox.subscribe(T0 + 5, &web(AUTH)).unwrap();
    let devices = list(&inbox);
    assert_eq!(
        devices,
        vec![
            json!({ "id": web(AUTH).public_id(), "os": "web", "token_hint": "https://fcm.googleapis.com",
                    "subscribed_at": T0 + 5, "last_outcome": null }),
            json!({ "id": ios(1).public_id(), "os": "ios", "token_hint": "c0ffee",
                    "subscribed_at": T0, "last_outcome": null }),
        ]
    );
    let text = inbox.devices_json().unwrap();
    assert!(!text.contains("secret-capability") && !text.contains(&"01".repeat(31)), "{text}");
}

#[test]
fn removing_by_public_id_deletes_that_device_only_and_says_whether_it_was_there() {
    let mut inbox = inbox();
    inbox.subscribe(T0, &ios(1)).unwrap();
    inbox.subscribe(T0, &ios(2)).unwrap();
    assert_eq!(inbox.remove_device(&ios(1).public_id()).unwrap(), Deleted { deleted: true });
    assert_eq!(inbox.remove_device(&ios(1).public_id()).unwrap(), Deleted { deleted: false });
    assert_eq!(inbox.remove_device("ungWv48Bz-pBQUDeXa4iIw").unwrap(), Deleted { deleted: false });
    assert_eq!(inbox.devices().unwrap(), vec![ios(2)]);
}

#[test]
fn a_gone_device_is_forgotten_only_while_it_is_the_same_subscription() {
    let mut inbox = inbox();
    inbox.subscribe(T0, &web(AUTH)).unwrap();
    // The browser subscribed again on the same endpoint, with new keys, while the push was in
    // flight: the provider's "gone" was about the old subscription.
    let stale = ForgetDevice { device: web(OTHER_AUTH), gone_since_ms: None };
    assert_eq!(inbox.forget_device(&stale).unwrap(), Deleted { deleted: false });
    assert_eq!(inbox.devices().unwrap(), vec![web(AUTH)]);
    let same = ForgetDevice { device: web(AUTH), gone_since_ms: None };
    assert_eq!(inbox.forget_device(&same).unwrap(), Deleted { deleted: true });
    assert!(inbox.devices().unwrap().is_empty());
    assert_eq!(inbox.forget_device(&same).unwrap(), Deleted { deleted: false }, "again: nothing to forget");
}

#[test]
fn an_apns_410_deletes_a_device_only_when_it_was_subscribed_before_the_410s_timestamp() {
    let mut inbox = inbox();
    inbox.subscribe(T0 + 1000, &ios(1)).unwrap();
    // APNs says the token went invalid at T0 + 1000 or earlier: the app registered since (or
    // at that very instant), so the device is kept.
    for gone in [T0, T0 + 1000] {
        let forget = ForgetDevice { device: ios(1), gone_since_ms: Some(gone) };
        assert_eq!(inbox.forget_device(&forget).unwrap(), Deleted { deleted: false }, "{gone}");
    }
    let forget = ForgetDevice { device: ios(1), gone_since_ms: Some(T0 + 1001) };
    assert_eq!(inbox.forget_device(&forget).unwrap(), Deleted { deleted: true });
}

#[test]
fn a_devices_last_outcome_is_kept_replaced_cut_and_goes_with_the_device() {
    let mut inbox = inbox();
    inbox.subscribe(T0, &ios(1)).unwrap();
    let outcome = |at, outcome, reason: Option<String>| DeviceOutcome { id: ios(1).id().into(), at, outcome, reason };
    assert!(inbox.record_outcome(&outcome(T0 + 1, Outcome::Retry, Some("429 TooManyRequests".into()))).unwrap());
    assert_eq!(
        list(&inbox)[0]["last_outcome"],
        json!({ "at": T0 + 1, "outcome": "retry", "reason": "429 TooManyRequests" })
    );
    assert!(inbox.record_outcome(&outcome(T0 + 2, Outcome::Accepted, None)).unwrap());
    assert_eq!(list(&inbox)[0]["last_outcome"], json!({ "at": T0 + 2, "outcome": "accepted" }));
    let long = "é".repeat(REASON_MAX);
    assert!(inbox.record_outcome(&outcome(T0 + 3, Outcome::Credentials, Some(long))).unwrap());
    let kept = list(&inbox)[0]["last_outcome"]["reason"].as_str().unwrap().to_owned();
    assert_eq!(kept, "é".repeat(REASON_MAX / 2), "cut to {REASON_MAX} bytes on a character boundary");
    // It goes with the device.
    let mut inbox = inbox;
    assert!(inbox.remove_device(&ios(1).public_id()).unwrap().deleted);
    inbox.subscribe(T0 + 4, &ios(1)).unwrap();
    assert_eq!(list(&inbox)[0]["last_outcome"], Value::Null, "a device subscribed again starts clean");
    let unknown = DeviceOutcome { id: ios(9).id().into(), at: T0, outcome: Outcome::Gone, reason: None };
    assert!(!inbox.record_outcome(&unknown).unwrap(), "no device, no outcome");
}

#[test]
fn outcomes_and_the_directory_flag_survive_a_reload_of_an_inbox_made_before_them() {
    let db = Sqlite::in_memory();
    // An inbox as it was before push: its devices table only.
    herald_core::store::Sql::exec(
        &db,
        "CREATE TABLE inbox_devices (id TEXT PRIMARY KEY, device TEXT NOT NULL, added INTEGER NOT NULL)",
        &[],
    )
    .unwrap();
    let mut inbox = inbox_over(&db);
    inbox.subscribe(T0, &ios(1)).unwrap();
    assert!(!inbox.owner_listed().unwrap());
    inbox.set_owner_listed().unwrap();
    let outcome = DeviceOutcome { id: ios(1).id().into(), at: T0, outcome: Outcome::Payload, reason: None };
    assert!(inbox.record_outcome(&outcome).unwrap());
    let inbox = inbox_over(&db);
    assert!(inbox.owner_listed().unwrap());
    assert_eq!(inbox.marks(), (0, 0), "the flag is no delivery mark");
    assert_eq!(list(&inbox)[0]["last_outcome"]["outcome"], "payload");
}

fn claim(user: &str) -> DeviceClaim {
    DeviceClaim { device: ios(1).public_id(), user: UserId::parse(user).unwrap() }
}

fn previous(user: &str) -> ClaimAnswer {
    ClaimAnswer { previous: Some(UserId::parse(user).unwrap()) }
}

#[test]
fn a_device_claimed_by_another_user_names_the_previous_holder_until_someone_else_takes_it() {
    let index = DeviceOwners::open(Sqlite::in_memory()).unwrap();
    assert_eq!(index.claim(&claim("alice")).unwrap(), ClaimAnswer { previous: None });
    assert_eq!(index.claim(&claim("alice")).unwrap(), ClaimAnswer { previous: None }, "her own again");
    assert_eq!(index.claim(&claim("bob")).unwrap(), previous("alice"));
    // Bob's subscribe retried (its forget at alice's inbox may have failed): alice again.
    assert_eq!(index.claim(&claim("bob")).unwrap(), previous("alice"));
    assert_eq!(index.claim(&claim("carol")).unwrap(), previous("bob"));
    assert_eq!(index.holder(&claim("x").device).unwrap(), Some(UserId::parse("carol").unwrap()));
    let other = DeviceClaim { device: ios(2).public_id(), user: UserId::parse("bob").unwrap() };
    assert_eq!(index.claim(&other).unwrap(), ClaimAnswer { previous: None }, "devices are independent");
}

#[test]
fn a_release_lets_go_only_of_a_device_the_index_still_gives_that_user() {
    let db = Sqlite::in_memory();
    let index = DeviceOwners::open(db.clone()).unwrap();
    index.claim(&claim("alice")).unwrap();
    index.claim(&claim("bob")).unwrap();
    assert_eq!(index.release(&claim("alice")).unwrap(), ReleaseAnswer { released: false }, "bob holds it");
    assert_eq!(index.holder(&claim("x").device).unwrap(), Some(UserId::parse("bob").unwrap()));
    assert_eq!(index.release(&claim("bob")).unwrap(), ReleaseAnswer { released: true });
    assert_eq!(index.release(&claim("bob")).unwrap(), ReleaseAnswer { released: false }, "idempotent");
    assert_eq!(db.count("device_owners"), 0);
    // Claimed afresh after a release: nobody to forget.
    assert_eq!(DeviceOwners::open(db).unwrap().claim(&claim("alice")).unwrap(), ClaimAnswer { previous: None });
}
