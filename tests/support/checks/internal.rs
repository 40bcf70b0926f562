//! The JSON Herald's own parts send each other (`internal.rs`: Worker → object, home ↔ room;
//! queue bodies; stored devices), several read by hand rather than by serde's derive
//! (`json::required`). A body that crossed a queue or a store is outside input too.

use herald_core::auth::Identity;
use herald_core::exchange::dead_letters::{DeadLetter, ReasonNote};
use herald_core::exchange::device_owners::{ClaimAnswer, DeviceClaim, ReleaseAnswer};
use herald_core::exchange::inbox::{Deleted, DeviceOutcome, ForgetDevice, RemoveDevice};
use herald_core::exchange::requests::Device;
use herald_core::exchange::{FanoutTask, Job, NotifyRequest};
use herald_core::ids::User;
use herald_core::internal::{
    header_json, Delivery, DeliveryAnswer, DeliveryItem, JobClaim, JobKey, MemberBatch, MemberCommand, PublishRequest,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// Any text read as each wire type: refused with serde's error, or a value that writes back
/// into text read as the same value.
pub fn wire(text: &str) {
    fn one<T: Serialize + DeserializeOwned + PartialEq + Debug>(text: &str) {
        if let Ok(value) = serde_json::from_str::<T>(text) {
            round_trip(&value);
        }
    }
    one::<MemberBatch>(text);
    one::<MemberCommand>(text);
    one::<Delivery>(text);
    one::<DeliveryItem>(text);
    one::<DeliveryAnswer>(text);
    one::<PublishRequest>(text);
    one::<JobKey>(text);
    one::<JobClaim>(text);
    one::<NotifyRequest>(text);
    one::<Job>(text);
    one::<FanoutTask>(text);
    one::<Device>(text);
    one::<ForgetDevice>(text);
    one::<RemoveDevice>(text);
    one::<DeviceOutcome>(text);
    one::<Deleted>(text);
    one::<DeviceClaim>(text);
    one::<ClaimAnswer>(text);
    one::<ReleaseAnswer>(text);
    one::<DeadLetter>(text);
    one::<ReasonNote>(text);
    one::<Identity>(text);
    if let Ok(user) = serde_json::from_str::<User>(text) {
        let header = header_json(&user);
        assert!(header.is_ascii(), "{header:?}");
        assert_eq!(serde_json::from_str::<User>(&header).unwrap(), user, "{header}");
    }
}

/// A value written as JSON reads back the same.
pub fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let text = serde_json::to_string(value).unwrap();
    let again: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{value:?} written as {text}: {e}"));
    assert_eq!(&again, value, "{text}");
}
