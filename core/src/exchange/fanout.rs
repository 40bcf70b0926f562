//! Broadcast fan-out: how one broadcast becomes queue messages (docs/notifications.md,
//! "Broadcast at scale", has the arithmetic).
//!
//! 1. The REST call queues one [`FanoutTask::Page`] per directory shard ([`start`]).
//! 2. The consumer takes a `Page`: it reads up to [`PAGE_SIZE`] of the shard's users and
//!    queues one [`FanoutTask::Deliver`] per [`DELIVER_BATCH`] of them, plus the shard's next
//!    `Page` when the page was full ([`after_page`]).
//! 3. The consumer takes a `Deliver`: one `/notify` per user's inbox.
//!
//! Nothing loops over every user in one invocation: a `Page` costs one read and a few queue
//! sends, a `Deliver` at most [`DELIVER_BATCH`] calls. Queue messages are JSON within Queues'
//! limits ([`send_batches`]), and a consumer invocation takes on at most [`SUBREQUESTS`] calls
//! ([`within_budget`]). Every task carries the broadcast's idempotency key in its
//! `NotifyRequest`, so a redelivered task never notifies an inbox twice.

use super::directory::{Page, PAGE_SIZE};
use super::{FanoutTask, NotifyRequest};
use crate::error::{Error, ErrorCode};
use crate::ids::UserId;

/// Users per `Deliver` task: one `/notify` call each.
pub const DELIVER_BATCH: usize = 100;
/// Queues' largest message (128 KB, where a KB is 1000 bytes), and the internal metadata
/// (about 100 bytes) that counts toward it and toward a batch.
pub const MESSAGE_MAX_BYTES: usize = 128_000;
pub const MESSAGE_OVERHEAD_BYTES: usize = 100;
/// Queues' `sendBatch`: at most 100 messages and 256 KB in all.
pub const SEND_BATCH_MAX_MESSAGES: usize = 100;
pub const SEND_BATCH_MAX_BYTES: usize = 256_000;
/// Subrequests one Worker invocation may make (Workers Paid, the conservative figure; the
/// Free plan allows 50). A consumer invocation plans to stay within it.
pub const SUBREQUESTS: usize = 1000;
/// Calls to objects one invocation keeps in flight at once: the platform's six simultaneous
/// outgoing connections per invocation (more would only wait for a free one).
pub const CALLS_IN_FLIGHT: usize = 6;
/// The largest broadcast notification (its `NotifyRequest` as JSON): with a `Deliver`'s 100
/// user ids (at most 131 bytes each in JSON) it stays well under [`MESSAGE_MAX_BYTES`].
pub const NOTIFY_MAX_BYTES: usize = 64_000;

/// A broadcast's notification, refused with `payload_too_large` when it could not ride in a
/// queue message.
pub fn check_size(notify: &NotifyRequest) -> Result<(), Error> {
    let size = serde_json::to_string(notify).map(|json| json.len()).unwrap_or(usize::MAX);
    if size > NOTIFY_MAX_BYTES {
        return Err(Error::new(
            ErrorCode::PayloadTooLarge,
            format!("a broadcast's msg, data and opts take {size} bytes; the limit is {NOTIFY_MAX_BYTES}"),
        )
        .with_details(serde_json::json!({ "limit": NOTIFY_MAX_BYTES })));
    }
    Ok(())
}

/// The first tasks of broadcast `id`: the first page of every shard.
pub fn start(id: &str, notify: &NotifyRequest, shards: u32) -> Vec<FanoutTask> {
    (0..shards)
        .map(|shard| FanoutTask::Page { broadcast: id.to_owned(), shard, after: None, notify: notify.clone() })
        .collect()
}

/// What follows a page of `shard`'s users: their deliveries, in batches, then the next page
/// when there is one.
pub fn after_page(id: &str, shard: u32, notify: &NotifyRequest, page: Page) -> Vec<FanoutTask> {
    let mut tasks: Vec<FanoutTask> = page
        .users
        .chunks(DELIVER_BATCH)
        .map(|users| FanoutTask::Deliver { broadcast: id.to_owned(), users: users.to_vec(), notify: notify.clone() })
        .collect();
    if let Some(after) = page.next {
        tasks.push(FanoutTask::Page { broadcast: id.to_owned(), shard, after: Some(after), notify: notify.clone() });
    }
    tasks
}

/// The most tasks that follow one page: its deliveries and the next page.
pub const TASKS_PER_PAGE: usize = PAGE_SIZE.div_ceil(DELIVER_BATCH) + 1;

/// The subrequests taking on `task` may make: a `Page` reads once and sends each following task
/// at worst in a batch of its own; a `Deliver` calls each inbox once.
pub fn cost(task: &FanoutTask) -> usize {
    match task {
        FanoutTask::Page { .. } => 1 + TASKS_PER_PAGE,
        FanoutTask::Deliver { users, .. } => users.len(),
    }
}

/// How many of `costs`, in order, one invocation takes on within `budget`: always the first
/// (no single task costs more than an invocation may spend), then as many as fit.
pub fn within_budget(costs: &[usize], budget: usize) -> usize {
    let mut spent = 0;
    costs
        .iter()
        .take_while(|&&cost| {
            spent += cost;
            spent <= budget || spent == cost
        })
        .count()
}

/// The users of a `Deliver`, or none for a `Page`.
pub fn recipients(task: &FanoutTask) -> &[UserId] {
    match task {
        FanoutTask::Deliver { users, .. } => users,
        FanoutTask::Page { .. } => &[],
    }
}

/// `tasks` (fan-out tasks, fallback jobs) as JSON queue messages, grouped into `sendBatch`
/// calls Queues accepts (at most [`SEND_BATCH_MAX_MESSAGES`] and [`SEND_BATCH_MAX_BYTES`]
/// each, metadata counted). `internal` when a task would not fit in a message (a notification
/// that [`check_size`] let through cannot make one, nor can a job, whose text is at most
/// [`super::MSG_MAX`] bytes).
pub fn send_batches<T: serde::Serialize>(tasks: &[T]) -> Result<Vec<Vec<String>>, Error> {
    let mut batches: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for task in tasks {
        let json = serde_json::to_string(task).map_err(|e| Error::internal(e.to_string()))?;
        let size = json.len() + MESSAGE_OVERHEAD_BYTES;
        if size > MESSAGE_MAX_BYTES {
            return Err(Error::internal(format!("a queue message of {size} bytes is over Queues' limit")));
        }
        let full = batches
            .last()
            .is_none_or(|batch| batch.len() == SEND_BATCH_MAX_MESSAGES || bytes + size > SEND_BATCH_MAX_BYTES);
        if full {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        batches.last_mut().expect("pushed above").push(json);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Opts;
    use crate::ids::User;
    use serde_json::json;

    fn notify(msg: &str) -> NotifyRequest {
        let from = User::anonymous_profile(UserId::parse("admin").unwrap());
        let opts = Opts { idempotency_key: Some("broadcast:b1".into()), ..Opts::default() };
        NotifyRequest { from, msg: msg.into(), opts }
    }

    fn users(range: std::ops::Range<usize>) -> Vec<UserId> {
        range.map(|n| UserId::parse(&format!("user-{n:05}")).unwrap()).collect()
    }

    #[test]
    fn a_broadcast_starts_with_the_first_page_of_every_shard() {
        let tasks = start("b1", &notify("hi"), 4);
        let shards: Vec<u32> = tasks
            .iter()
            .map(|t| match t {
                FanoutTask::Page { shard, after: None, broadcast, .. } if broadcast == "b1" => *shard,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(shards, [0, 1, 2, 3]);
    }

    #[test]
    fn a_full_page_becomes_batches_of_deliveries_and_the_next_page() {
        let page = Page { users: users(0..1000), next: Some("user-00999".into()) };
        let tasks = after_page("b1", 7, &notify("hi"), page);
        assert_eq!(tasks.len(), 11);
        for (n, task) in tasks[..10].iter().enumerate() {
            assert_eq!(recipients(task), users(n * 100..(n + 1) * 100).as_slice());
        }
        assert_eq!(
            tasks[10],
            FanoutTask::Page {
                broadcast: "b1".into(),
                shard: 7,
                after: Some("user-00999".into()),
                notify: notify("hi")
            }
        );
    }

    #[test]
    fn the_last_page_of_a_shard_ends_its_walk() {
        let tasks = after_page("b1", 0, &notify("hi"), Page { users: users(0..150), next: None });
        assert_eq!(tasks.iter().map(|t| recipients(t).len()).collect::<Vec<_>>(), [100, 50]);
        assert!(after_page("b1", 0, &notify("hi"), Page { users: vec![], next: None }).is_empty());
    }

    #[test]
    fn an_invocation_takes_on_what_fits_its_subrequests() {
        assert_eq!(within_budget(&[100; 12], SUBREQUESTS), 10);
        assert_eq!(within_budget(&[12, 100, 100], 150), 2);
        assert_eq!(within_budget(&[2000, 1], 1000), 1, "the first always goes");
        assert_eq!(within_budget(&[], 1000), 0);
        assert!(
            10 * cost(&FanoutTask::Page { broadcast: "b".into(), shard: 0, after: None, notify: notify("x") })
                <= SUBREQUESTS
        );
    }

    #[test]
    fn queue_messages_round_trip_and_batches_respect_queues_limits() {
        let big = notify(&"x".repeat(4000));
        let mut big = big;
        big.opts.data = Some(json!({ "blob": "y".repeat(58_000) }));
        check_size(&big).unwrap();
        let tasks = after_page("b1", 3, &big, Page { users: users(0..1000), next: Some("user-00999".into()) });
        let batches = send_batches(&tasks).unwrap();
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 11);
        for batch in &batches {
            let bytes: usize = batch.iter().map(|m| m.len() + MESSAGE_OVERHEAD_BYTES).sum();
            assert!(bytes <= SEND_BATCH_MAX_BYTES && batch.len() <= SEND_BATCH_MAX_MESSAGES, "{bytes}");
        }
        let back: Vec<FanoutTask> = batches.concat().iter().map(|m| serde_json::from_str(m).unwrap()).collect();
        assert_eq!(back, tasks);
        // Small tasks share one call, up to 100 of them.
        assert_eq!(send_batches(&start("b1", &notify("hi"), 64)).unwrap().len(), 1);
        assert_eq!(
            send_batches(&start("b1", &notify("hi"), 150)).unwrap().iter().map(Vec::len).collect::<Vec<_>>(),
            [100, 50]
        );
    }

    #[test]
    fn a_notification_too_big_for_a_queue_message_is_refused() {
        let mut huge = notify("hi");
        huge.opts.data = Some(json!("z".repeat(NOTIFY_MAX_BYTES)));
        let error = check_size(&huge).unwrap_err();
        assert_eq!((error.code, error.details.unwrap()["limit"].as_u64()), (ErrorCode::PayloadTooLarge, Some(64_000)));
    }
}
