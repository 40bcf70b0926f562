//! [`VecMap`]: a map kept as a sorted `Vec` of pairs, for the core's small maps (a session's
//! rooms and namespaces, a membership's pending acks, a room's homes with their members, and
//! its read marks).
//!
//! Why not `BTreeMap`: the wasm bundle has a size cap (README, "The bundle"), and every
//! `BTreeMap<K, V>` brings its own copy of the tree code (search, node splits, merges, steals,
//! iterators): 3 to 9 KB for each pair of key and value types. This map is a binary search
//! over a `Vec`, a few hundred bytes per pair. Insertion and removal move the entries after
//! the slot with one `memmove`: cheap for tens of entries, and still small for a room's homes
//! (at most its connection cap, one home per Socket.IO session), which a room restores in key
//! order (`MemberRows::all`), each one appended. Maps filled in any order and as large as a
//! room (its local connections, which member a remote connection is) stay in `BTreeMap`s and
//! `HashMap`s. It iterates in key order, as a `BTreeMap` does, so answers keep their order.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;

/// A map ordered by key, stored as a sorted `Vec` of `(key, value)`.
#[derive(Clone, PartialEq, Eq)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        Self { entries: Vec::new() }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Where `key` is (`Ok`), or where it would go (`Err`).
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; the value it replaced, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// The value of `key`, inserted from `make` first when there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }
}

impl<K, V> VecMap<K, V> {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub fn into_keys(self) -> impl Iterator<Item = K> {
        self.entries.into_iter().map(|(k, _)| k)
    }

    pub fn into_values(self) -> impl Iterator<Item = V> {
        self.entries.into_iter().map(|(_, v)| v)
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// As a JSON object, like a `BTreeMap`: what was stored as one reads back.
impl<K: Serialize, V: Serialize> Serialize for VecMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for VecMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<K, V>(PhantomData<(K, V)>);

        impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
            type Value = VecMap<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = VecMap::new();
                while let Some((k, v)) = access.next_entry()? {
                    map.insert(k, v);
                }
                Ok(map)
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_in_key_order_whatever_the_order_of_insertion() {
        let mut map = VecMap::new();
        for (k, v) in [("b", 2), ("c", 3), ("a", 1)] {
            assert_eq!(map.insert(k.to_owned(), v), None);
        }
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(map.values().copied().collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn inserting_a_key_again_replaces_its_value_and_returns_the_old_one() {
        let mut map = VecMap::new();
        map.insert("k".to_owned(), 1);
        assert_eq!(map.insert("k".to_owned(), 2), Some(1));
        assert_eq!(map.len(), 1);
        assert_eq!(map.get("k"), Some(&2));
    }

    #[test]
    fn removing_returns_the_value_once_and_keeps_the_others() {
        let mut map = VecMap::new();
        map.insert(2, "two");
        map.insert(1, "one");
        assert_eq!(map.remove(&1), Some("one"));
        assert_eq!(map.remove(&1), None);
        assert!(!map.contains_key(&1) && map.contains_key(&2));
    }

    #[test]
    fn get_or_insert_with_makes_a_value_only_for_a_missing_key() {
        let mut map = VecMap::new();
        *map.get_or_insert_with("a".to_owned(), || 10) += 1;
        *map.get_or_insert_with("a".to_owned(), || panic!("the key is there")) += 1;
        assert_eq!(map.get("a"), Some(&12));
    }

    #[test]
    fn it_reads_and_writes_the_json_object_a_btreemap_does() {
        let text = r#"{"b":"2","a":"1"}"#;
        let map: VecMap<String, String> = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"a":"1","b":"2"}"#);
        let tree: std::collections::BTreeMap<String, String> = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&map).unwrap(), serde_json::to_string(&tree).unwrap());
    }
}
