//! One suite every room log passes: the in-memory log and the SQL log (here over rusqlite; in
//! production over Durable Object SQLite, with the same queries).

use herald_core::room::{Entry, Log, MemoryLog, SqlLog};
use herald_tests::Sqlite;

fn entry(seq: u64, id: &str, publisher: &str, ts: i64) -> Entry {
    Entry { seq, id: id.into(), publisher: publisher.into(), ts, frame: format!("{{\"seq\":{seq}}}") }
}

fn seqs(entries: &[Entry]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

fn suite(mut open: impl FnMut() -> Box<dyn Log>) {
    // A new log is empty.
    let mut log = open();
    assert_eq!(log.last_seq().unwrap(), 0);
    assert_eq!(log.read(0, u64::MAX, i64::MIN, 10).unwrap(), vec![]);

    // Appends are read back in order, whole.
    for seq in 1..=10 {
        log.append(&entry(seq, &format!("m{seq}"), if seq % 2 == 0 { "bob" } else { "alice" }, 1000 + seq as i64))
            .unwrap();
    }
    assert_eq!(log.last_seq().unwrap(), 10);
    let all = log.read(0, u64::MAX, i64::MIN, 100).unwrap();
    assert_eq!(seqs(&all), (1..=10).collect::<Vec<_>>());
    assert_eq!(all[3], entry(4, "m4", "bob", 1004));

    // Bounds are exclusive, limit applies, ts filters.
    assert_eq!(seqs(&log.read(3, 7, i64::MIN, 100).unwrap()), vec![4, 5, 6]);
    assert_eq!(seqs(&log.read(0, u64::MAX, i64::MIN, 2).unwrap()), vec![1, 2]);
    assert_eq!(seqs(&log.read(0, u64::MAX, 1008, 100).unwrap()), vec![8, 9, 10]);
    assert_eq!(log.read(5, 6, i64::MIN, 100).unwrap(), vec![]);
    // Bounds past what JavaScript numbers hold exactly do not wrap around.
    assert_eq!(log.read(u64::MAX - 1, u64::MAX, i64::MIN, 100).unwrap(), vec![]);
    assert_eq!(log.read(1 << 63, u64::MAX, i64::MIN, 100).unwrap(), vec![]);

    // Keys are found per publisher.
    assert_eq!(log.find("bob", "m4").unwrap(), Some(4));
    assert_eq!(log.find("alice", "m4").unwrap(), None);

    // A key cannot be stored twice for one publisher.
    assert!(log.append(&entry(11, "m4", "bob", 2000)).is_err());
    assert_eq!(log.last_seq().unwrap(), 10);

    // Pruning by seq and by age never removes the newest entry, and forgets pruned keys.
    log.prune(4, i64::MIN).unwrap();
    assert_eq!(seqs(&log.read(0, u64::MAX, i64::MIN, 100).unwrap()), (4..=10).collect::<Vec<_>>());
    assert_eq!(log.find("alice", "m1").unwrap(), None);
    log.prune(0, 1007).unwrap();
    assert_eq!(
        seqs(&log.read(0, u64::MAX, i64::MIN, 100).unwrap()),
        (7..=10).collect::<Vec<_>>(),
        "age prunes a prefix"
    );
    log.prune(0, i64::MAX).unwrap();
    assert_eq!(seqs(&log.read(0, u64::MAX, i64::MIN, 100).unwrap()), vec![10]);
    assert_eq!(log.last_seq().unwrap(), 10);
    log.append(&entry(11, "m11", "alice", 3000)).unwrap();
    assert_eq!(log.last_seq().unwrap(), 11);
}

#[test]
fn the_memory_log_passes_the_suite() {
    suite(|| Box::new(MemoryLog::new()));
}

#[test]
fn the_sql_log_passes_the_suite() {
    suite(|| Box::new(SqlLog::open(Sqlite::in_memory()).unwrap()));
}

#[test]
fn the_sql_log_reopens_over_existing_tables() {
    let db = Sqlite::in_memory();
    let mut first = SqlLog::open(db.clone()).unwrap();
    first.append(&entry(1, "a", "u", 1)).unwrap();
    let mut again = SqlLog::open(db.clone()).unwrap();
    assert_eq!(again.last_seq().unwrap(), 1);
    assert_eq!(db.count("room_log"), 1);
}

/// An object's stored name (herald_core::object), over the same SQL as the log.
#[test]
fn an_objects_name_is_stored_once_and_read_back_after_a_reload() {
    use herald_core::object::StoredName;
    let db = Sqlite::in_memory();
    let names = StoredName::open(db.clone()).unwrap();
    assert_eq!(names.get().unwrap(), None);
    names.set("room:inbox:alice").unwrap();
    names.set("room:someone-else").unwrap();
    let reopened = StoredName::open(db.clone()).unwrap();
    assert_eq!(reopened.get().unwrap().as_deref(), Some("room:inbox:alice"), "the first name stays");
    assert_eq!(db.count("object_name"), 1);
}
