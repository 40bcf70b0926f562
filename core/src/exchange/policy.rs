//! The escalation ladder: which step of a notification is due when, and, when it falls due,
//! whether to take it, skip it (and why) or wait for the end of the user's quiet hours.
//!
//! Live devices get every notification at once (the inbox's room). Then:
//!
//! | urgency | push, to every subscribed device | email / SMS |
//! |---|---|---|
//! | very-low | after `PUSH_VERY_LOW_SECONDS` | never |
//! | low | after `PUSH_LOW_SECONDS` | email after `FALLBACK_LOW_EMAIL_SECONDS` |
//! | normal | after `PUSH_NORMAL_SECONDS` | email after `FALLBACK_NORMAL_EMAIL_SECONDS` |
//! | high | after `PUSH_HIGH_SECONDS`; at once when no device is connected | SMS and email after `FALLBACK_HIGH_SMS_SECONDS` |
//!
//! What each signal cancels when a step falls due:
//!
//! | signal | push | low / normal email | high SMS and email |
//! |---|---|---|---|
//! | read (any device, the inbox's read mark, or a `read` receipt) | skipped | skipped | skipped |
//! | acknowledged: a live device's `received`, or a push's `delivered` receipt | skipped | skipped only while the user is connected (they have it open) | skipped |
//! | quiet hours | waits for their end, except high | waits for their end (and the push delay after it, for a user with devices: the push goes first) | not held back |
//! | ttl run out, channel turned off by the user or by `opts.channels` | skipped | skipped | skipped |
//! | no subscribed device / no address | skipped | skipped | skipped |

use super::contacts::Contacts;
use super::{Channel, Urgency};
use crate::exchange::settings::Fallback;

/// Who can be reached when a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// A device of the user is connected now: a high notification nobody can see live is
    /// pushed at once.
    pub online: bool,
    /// The user has a device subscribed for push: without one no push step is planned, so an
    /// inbox of a user who never subscribed wakes no sooner than for email.
    pub devices: bool,
}

/// The steps to plan for a notification sent at `sent_at`: each channel and when it falls due.
/// `allowed` is the send's `opts.channels` (`None`: every channel the urgency uses).
pub fn plan(
    urgency: Urgency,
    allowed: Option<&[Channel]>,
    sent_at: i64,
    reach: Reach,
    deadlines: &Fallback,
) -> Vec<(Channel, i64)> {
    let push = match urgency {
        Urgency::High if !reach.online => 0,
        _ => deadlines.push_ms[urgency as usize],
    };
    let planned: &[(Channel, i64)] = match urgency {
        Urgency::VeryLow => &[(Channel::Push, push)],
        Urgency::Low => &[(Channel::Push, push), (Channel::Email, deadlines.low_email_ms)],
        Urgency::Normal => &[(Channel::Push, push), (Channel::Email, deadlines.normal_email_ms)],
        Urgency::High => {
            &[(Channel::Push, push), (Channel::Sms, deadlines.high_sms_ms), (Channel::Email, deadlines.high_sms_ms)]
        }
    };
    planned
        .iter()
        .filter(|(channel, _)| allowed.is_none_or(|list| list.contains(channel)))
        .filter(|(channel, _)| *channel != Channel::Push || reach.devices)
        .map(|&(channel, after)| (channel, sent_at.saturating_add(after)))
        .collect()
}

/// What the inbox knows of a notification when one of its steps falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub now: i64,
    /// The user has a connection to their inbox now.
    pub online: bool,
    /// A device acknowledged the notification: a live `received`, a push's `delivered`
    /// receipt, or it was read.
    pub delivered: bool,
    pub read: bool,
    /// When the notification stops being worth a fallback (its ttl), if it has one.
    pub expires_at: Option<i64>,
    /// The user has at least one device subscribed for push.
    pub devices: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Take the step: send through the channel to this address (for push: to every device,
    /// and `to` is empty).
    Send { to: String },
    /// Do not send, ever.
    Skip(Skip),
    /// Ask again at `until` (the end of the user's quiet hours).
    Defer { until: i64 },
}

/// Why a step is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// very-low urgency never goes by email or SMS.
    RealtimeOnly,
    Read,
    /// A device acknowledged it in time (push, and high urgency's SMS and email).
    Delivered,
    /// low / normal: a device has it and the user is connected now.
    SeenOnline,
    /// The notification's ttl ran out.
    Expired,
    /// The user does not accept this channel.
    TurnedOff,
    /// The user gave no address for this channel (no device, for push).
    NoAddress,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RealtimeOnly => "realtime_only",
            Self::Read => "read",
            Self::Delivered => "delivered",
            Self::SeenOnline => "seen_online",
            Self::Expired => "expired",
            Self::TurnedOff => "turned_off",
            Self::NoAddress => "no_address",
        }
    }
}

/// When a step that quiet hours held back (until their end, `quiet_end`) is taken: a push at
/// once, an email or SMS of a user with devices the push delay after, so that the push the
/// ladder sends first can be acknowledged before it (both would otherwise go at the same
/// instant).
pub fn after_quiet_hours(
    urgency: Urgency,
    channel: Channel,
    quiet_end: i64,
    devices: bool,
    deadlines: &Fallback,
) -> i64 {
    match channel {
        Channel::Email | Channel::Sms if devices => quiet_end.saturating_add(deadlines.push_ms[urgency as usize]),
        _ => quiet_end,
    }
}

/// The step of a notification of `urgency` through `channel` falls due at `moment`.
pub fn decide(urgency: Urgency, channel: Channel, moment: &Moment, contacts: &Contacts) -> Decision {
    let skip = |why| Decision::Skip(why);
    if urgency == Urgency::VeryLow && channel != Channel::Push {
        return skip(Skip::RealtimeOnly);
    }
    if moment.read {
        return skip(Skip::Read);
    }
    if moment.expires_at.is_some_and(|at| moment.now >= at) {
        return skip(Skip::Expired);
    }
    if !contacts.accepts(channel) {
        return skip(Skip::TurnedOff);
    }
    let to = match channel {
        Channel::Push if moment.devices => "",
        Channel::Push => return skip(Skip::NoAddress),
        _ => match contacts.address(channel) {
            Some(to) => to,
            None => return skip(Skip::NoAddress),
        },
    };
    if channel == Channel::Push || urgency == Urgency::High {
        if moment.delivered {
            return skip(Skip::Delivered);
        }
        if urgency == Urgency::High {
            return Decision::Send { to: to.to_owned() };
        }
    } else if moment.delivered && moment.online {
        return skip(Skip::SeenOnline);
    }
    match contacts.quiet_hours.filter(|quiet| quiet.contains(moment.now)) {
        Some(quiet) => Decision::Defer { until: quiet.end_after(moment.now) },
        None => Decision::Send { to: to.to_owned() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::contacts::QuietHours;

    /// 2026-11-02 00:00 UTC.
    const MIDNIGHT: i64 = 1_793_577_600_000;
    const HOUR: i64 = 3_600_000;
    const EMAIL: &str = "bob@example.com";
    const PHONE: &str = "+447700900123";

    fn contacts() -> Contacts {
        Contacts {
            email: Some(EMAIL.into()),
            phone: Some(PHONE.into()),
            // 22:00 to 07:00 UTC.
            quiet_hours: Some(QuietHours { start: 22 * 60, end: 7 * 60, utc_offset_minutes: 0 }),
            channels: None,
        }
    }

    #[test]
    fn each_urgency_plans_push_first_then_its_fallbacks() {
        let deadlines = Fallback {
            low_email_ms: 500,
            normal_email_ms: 50,
            high_sms_ms: 5,
            push_ms: [300, 30, 3, 2],
            ..Fallback::default()
        };
        let (push, email, sms) = (Channel::Push, Channel::Email, Channel::Sms);
        const ON: Reach = Reach { online: true, devices: true };
        const OFF: Reach = Reach { online: false, devices: true };
        assert_eq!(plan(Urgency::VeryLow, None, 1000, ON, &deadlines), vec![(push, 1300)]);
        assert_eq!(plan(Urgency::Low, None, 1000, ON, &deadlines), vec![(push, 1030), (email, 1500)]);
        assert_eq!(plan(Urgency::Normal, None, 1000, OFF, &deadlines), vec![(push, 1003), (email, 1050)]);
        assert_eq!(
            plan(Urgency::High, None, 1000, ON, &deadlines),
            vec![(push, 1002), (sms, 1005), (email, 1005)],
            "someone is connected: the live devices get their push delay to acknowledge"
        );
        assert_eq!(
            plan(Urgency::High, None, 1000, OFF, &deadlines),
            vec![(push, 1000), (sms, 1005), (email, 1005)],
            "nobody is connected: pushed at once"
        );
        assert_eq!(plan(Urgency::High, Some(&[email]), 1000, ON, &deadlines), vec![(email, 1005)]);
        assert_eq!(plan(Urgency::High, Some(&[push]), 1000, OFF, &deadlines), vec![(push, 1000)]);
        assert_eq!(plan(Urgency::Normal, Some(&[]), 1000, ON, &deadlines), vec![], "[] is realtime only");
        assert_eq!(plan(Urgency::Normal, Some(&[sms]), 1000, ON, &deadlines), vec![]);
        let no_devices = Reach { online: false, devices: false };
        assert_eq!(
            plan(Urgency::High, None, 1000, no_devices, &deadlines),
            vec![(sms, 1005), (email, 1005)],
            "nothing to push to: no push step"
        );
    }

    /// Every urgency × online / offline × delivered (acked) or not × read or not × in quiet
    /// hours or not, for each channel: the whole table, written out.
    #[test]
    fn the_ladders_table() {
        use Decision::{Defer, Send};
        let send = |to: &str| Send { to: to.into() };
        let (day, night) = (MIDNIGHT + 12 * HOUR, MIDNIGHT + 23 * HOUR);
        let morning = MIDNIGHT + 31 * HOUR;
        for urgency in Urgency::ALL {
            for channel in Channel::ALL {
                for online in [false, true] {
                    for delivered in [false, true] {
                        for read in [false, true] {
                            for quiet in [false, true] {
                                let now = if quiet { night } else { day };
                                let moment = Moment {
                                    now,
                                    online,
                                    delivered: delivered || read,
                                    read,
                                    expires_at: None,
                                    devices: true,
                                };
                                let to = match channel {
                                    Channel::Email => EMAIL,
                                    Channel::Sms => PHONE,
                                    Channel::Push => "",
                                };
                                let expected = match (urgency, channel) {
                                    (Urgency::VeryLow, Channel::Email | Channel::Sms) => {
                                        Decision::Skip(Skip::RealtimeOnly)
                                    }
                                    _ if read => Decision::Skip(Skip::Read),
                                    (_, Channel::Push) | (Urgency::High, _) if delivered => {
                                        Decision::Skip(Skip::Delivered)
                                    }
                                    (Urgency::High, _) => send(to),
                                    (_, Channel::Push) if quiet => Defer { until: morning },
                                    (_, Channel::Push) => send(to),
                                    _ if delivered && online => Decision::Skip(Skip::SeenOnline),
                                    _ if quiet => Defer { until: morning },
                                    _ => send(to),
                                };
                                let case = format!(
                                    "{urgency} {channel:?} online={online} delivered={delivered} read={read} quiet={quiet}"
                                );
                                assert_eq!(decide(urgency, channel, &moment, &contacts()), expected, "{case}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn push_needs_a_device_and_the_users_consent() {
        let noon = MIDNIGHT + 12 * HOUR;
        let moment =
            Moment { now: noon, online: false, delivered: false, read: false, expires_at: None, devices: false };
        for urgency in Urgency::ALL {
            assert_eq!(decide(urgency, Channel::Push, &moment, &contacts()), Decision::Skip(Skip::NoAddress));
            let with_devices = Moment { devices: true, ..moment };
            let no_push = Contacts { channels: Some(vec![Channel::Email, Channel::Sms]), ..contacts() };
            assert_eq!(decide(urgency, Channel::Push, &with_devices, &no_push), Decision::Skip(Skip::TurnedOff));
            assert_eq!(
                decide(urgency, Channel::Push, &with_devices, &contacts()),
                Decision::Send { to: String::new() }
            );
        }
    }

    #[test]
    fn a_few_rows_of_the_table_spelled_out() {
        let at =
            |now, online, delivered, read| Moment { now, online, delivered, read, expires_at: None, devices: true };
        let noon = MIDNIGHT + 12 * HOUR;
        let email = Decision::Send { to: EMAIL.into() };
        // Offline, never acked: normal and low email, high texts and emails.
        assert_eq!(decide(Urgency::Normal, Channel::Email, &at(noon, false, false, false), &contacts()), email);
        assert_eq!(
            decide(Urgency::High, Channel::Sms, &at(noon, false, false, false), &contacts()),
            Decision::Send { to: PHONE.into() }
        );
        // Online and acked but unread: they have it open, no email.
        assert_eq!(
            decide(Urgency::Normal, Channel::Email, &at(noon, true, true, false), &contacts()),
            Decision::Skip(Skip::SeenOnline)
        );
        // Acked on a device that went away: the email still goes.
        assert_eq!(decide(Urgency::Low, Channel::Email, &at(noon, false, true, false), &contacts()), email);
        // Online but never acked (a client that cannot ack): the email still goes.
        assert_eq!(decide(Urgency::Low, Channel::Email, &at(noon, true, false, false), &contacts()), email);
        // High at 03:00: quiet hours do not hold it back.
        let night = MIDNIGHT + 3 * HOUR;
        assert_eq!(
            decide(Urgency::High, Channel::Sms, &at(night, false, false, false), &contacts()),
            Decision::Send { to: PHONE.into() }
        );
        assert_eq!(
            decide(Urgency::Normal, Channel::Email, &at(night, false, false, false), &contacts()),
            Decision::Defer { until: MIDNIGHT + 7 * HOUR }
        );
    }

    #[test]
    fn ttl_preferences_and_addresses_skip_a_channel_whatever_the_urgency() {
        let noon = MIDNIGHT + 12 * HOUR;
        let moment =
            Moment { now: noon, online: false, delivered: false, read: false, expires_at: Some(noon), devices: true };
        for urgency in [Urgency::Low, Urgency::Normal, Urgency::High] {
            assert_eq!(decide(urgency, Channel::Email, &moment, &contacts()), Decision::Skip(Skip::Expired));
            let alive = Moment { expires_at: Some(noon + 1), ..moment };
            let no_email = Contacts { channels: Some(vec![Channel::Sms]), ..contacts() };
            assert_eq!(decide(urgency, Channel::Email, &alive, &no_email), Decision::Skip(Skip::TurnedOff));
            let no_address = Contacts { email: None, ..contacts() };
            assert_eq!(decide(urgency, Channel::Email, &alive, &no_address), Decision::Skip(Skip::NoAddress));
            // A read notification is never sent, even to someone with every address.
            let read = Moment { read: true, delivered: true, ..alive };
            assert_eq!(decide(urgency, Channel::Email, &read, &contacts()), Decision::Skip(Skip::Read));
        }
    }
}
