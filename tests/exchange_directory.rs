//! A directory shard's users in SQLite (here rusqlite; in production the shard object's Durable
//! Object SQLite, with the same queries), and a broadcast's walk over every shard's pages, as
//! the fan-out consumer performs it.

use herald_core::exchange::directory::{by_shard, DirectoryRows, Page, PageQuery, PAGE_SIZE};
use herald_core::exchange::fanout::{after_page, recipients, start};
use herald_core::exchange::{FanoutTask, NotifyRequest, Opts};
use herald_core::ids::{User, UserId};
use herald_tests::{Sqlite, T0};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn query(after: Option<&str>, limit: usize) -> PageQuery {
    PageQuery { after: after.map(str::to_owned), limit }
}

#[test]
fn adding_a_user_twice_keeps_one_row_and_their_first_sighting() {
    let sql = Sqlite::in_memory();
    let rows = DirectoryRows::open(sql.clone()).unwrap();
    assert_eq!(rows.add(&[user("bob"), user("alice")], T0).unwrap(), 2);
    assert_eq!(rows.add(&[user("alice"), user("carol")], T0 + 5).unwrap(), 1);
    assert_eq!(sql.count("directory_users"), 3);
    let first_seen: Vec<i64> = ["alice", "bob", "carol"]
        .iter()
        .map(|id| {
            let rows = herald_core::store::Sql::exec(
                &sql,
                "SELECT first_seen FROM directory_users WHERE user = ?",
                &[herald_core::store::SqlValue::Text((*id).into())],
            )
            .unwrap();
            match rows[0][0] {
                herald_core::store::SqlValue::Int(t) => t,
                ref other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(first_seen, [T0, T0, T0 + 5]);
    // Reopening (the shard woke up) finds them all.
    let again = DirectoryRows::open(sql).unwrap();
    assert_eq!(again.page(&query(None, 10)).unwrap().users, [user("alice"), user("bob"), user("carol")]);
}

#[test]
fn pages_list_users_in_id_order_and_say_where_the_next_starts() {
    let rows = DirectoryRows::open(Sqlite::in_memory()).unwrap();
    let ids = ["d", "b", "zoë", "a", "c", "Z"];
    rows.add(&ids.map(user), T0).unwrap();
    let first = rows.page(&query(None, 2)).unwrap();
    assert_eq!(first, Page { users: vec![user("Z"), user("a")], next: Some("a".into()) });
    let second = rows.page(&query(Some("a"), 2)).unwrap();
    assert_eq!(second, Page { users: vec![user("b"), user("c")], next: Some("c".into()) });
    let third = rows.page(&query(Some("c"), 2)).unwrap();
    assert_eq!(third, Page { users: vec![user("d"), user("zoë")], next: Some("zoë".into()) });
    // A full last page costs one more read, which comes back empty and ends the walk.
    assert_eq!(rows.page(&query(Some("zoë"), 2)).unwrap(), Page { users: vec![], next: None });
    assert_eq!(rows.page(&query(None, 10)).unwrap().next, None);
}

/// Runs a broadcast to its end the way the queue consumer does, over `shards` in-memory shards:
/// every task taken in turn, pages read from the shards. What each user was sent, and how many
/// tasks went through the queue.
fn run_broadcast(
    shards: &BTreeMap<u32, DirectoryRows<Sqlite>>,
    notify: &NotifyRequest,
) -> (BTreeMap<UserId, usize>, usize) {
    let mut queue: VecDeque<FanoutTask> = start("b1", notify, shards.len() as u32).into();
    let (mut sent, mut tasks) = (BTreeMap::new(), 0);
    while let Some(task) = queue.pop_front() {
        tasks += 1;
        match &task {
            FanoutTask::Page { broadcast, shard, after, notify } => {
                let page = shards[shard].page(&query(after.as_deref(), PAGE_SIZE)).unwrap();
                queue.extend(after_page(broadcast, *shard, notify, page));
            }
            FanoutTask::Deliver { notify: delivered, .. } => {
                assert_eq!(delivered, notify);
                for user in recipients(&task) {
                    *sent.entry(user.clone()).or_insert(0) += 1;
                }
            }
        }
    }
    (sent, tasks)
}

#[test]
fn a_broadcast_reaches_every_known_user_exactly_once_across_shards_and_pages() {
    let shards: BTreeMap<u32, DirectoryRows<Sqlite>> =
        (0..4).map(|n| (n, DirectoryRows::open(Sqlite::in_memory()).unwrap())).collect();
    // 5,000 users: shards of about 1,250, so every shard needs two pages.
    let everyone: Vec<UserId> = (0..5000).map(|n| user(&format!("user-{n}"))).collect();
    let mut expected_tasks = 0;
    for (shard, users) in by_shard(&everyone, 4) {
        assert!((1001..2000).contains(&users.len()), "{}", users.len());
        assert_eq!(shards[&shard].add(&users, T0).unwrap(), users.len());
        // Two pages (a full one, then the rest), each page's users in deliveries of 100.
        expected_tasks += 2 + 10 + (users.len() - 1000).div_ceil(100);
    }
    let notify = NotifyRequest {
        from: User::anonymous_profile(user("ops")),
        msg: "maintenance at noon".into(),
        opts: Opts { idempotency_key: Some("b1".into()), ..Opts::default() },
    };
    let (sent, tasks) = run_broadcast(&shards, &notify);
    assert_eq!(sent.keys().cloned().collect::<BTreeSet<_>>(), everyone.iter().cloned().collect());
    assert!(sent.values().all(|&n| n == 1));
    // Tens of tasks for 5,000 users, not thousands.
    assert_eq!(tasks, expected_tasks);
}
