//! A small map kept in key order in one ring buffer: what a series holds its
//! few open windows and dedupe panes in. Keys arrive nearly in order (event
//! time) and leave from the front (the oldest closes first), so a sorted
//! `VecDeque` does in one allocation what a `BTreeMap` did in a node of
//! eleven slots: at 2 000 targets the open windows' `BTreeMap` nodes alone
//! were 2.9 KB a target of heap (heaptrack).

use std::collections::VecDeque;

#[derive(Debug)]
pub struct KeyedDeque<K, V> {
    entries: VecDeque<(K, V)>,
}

impl<K, V> Default for KeyedDeque<K, V> {
    fn default() -> Self {
        KeyedDeque {
            entries: VecDeque::new(),
        }
    }
}

impl<K: Ord + Copy, V> KeyedDeque<K, V> {
    /// The value at `key`, inserted in key order by `make` if absent.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        // Nearly always the newest key, or one already held near the back.
        let at = match self.entries.back() {
            Some((last, _)) if *last < key => Err(self.entries.len()),
            _ => self.entries.binary_search_by(|(k, _)| k.cmp(&key)),
        };
        let i = match at {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// The smallest key.
    pub fn first_key(&self) -> Option<K> {
        self.entries.front().map(|(k, _)| *k)
    }

    /// Removes and returns the entry with the smallest key.
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        self.entries.pop_front()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Against a `BTreeMap` on random keys: same contents, same order, and
    /// the front is always the smallest key.
    #[test]
    fn keeps_the_order_a_btree_map_would() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i64
        };
        let mut ours: KeyedDeque<i64, i64> = KeyedDeque::default();
        let mut theirs: BTreeMap<i64, i64> = BTreeMap::new();
        for step in 0..5_000 {
            let r = next();
            if r % 5 == 0 {
                assert_eq!(ours.pop_first(), theirs.pop_first());
            } else {
                // Mostly increasing keys with some late ones, as event times are.
                let key = step / 3 - (r % 7) * (r % 3);
                *ours.get_or_insert_with(key, || 0) += r;
                *theirs.entry(key).or_insert(0) += r;
            }
            assert_eq!(ours.first_key(), theirs.keys().next().copied());
            assert_eq!(ours.len(), theirs.len());
        }
        let a: Vec<_> = ours.iter().map(|(k, v)| (*k, *v)).collect();
        let b: Vec<_> = theirs.into_iter().collect();
        assert_eq!(a, b);
    }
}
