//! When each target ticks: every policy's interval from its last start, never
//! while the target's previous tick is still running, and at most `limit`
//! ticks at once (the rest wait, oldest due first, and their wait counts as
//! tick lag). The targets not running wait in a queue ordered by when they
//! fall due, so a start costs in the ticks it starts, not in the targets in
//! force: the loop wakes once per due tick, and a scan of every target at
//! each wake made 10 000 targets a hundred million steps a second.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// A target in force: when it is due next, and its interval.
struct Slot {
    due: Instant,
    every: Duration,
}

/// The tick timetable of the targets in force.
pub struct Schedule {
    slots: HashMap<String, Slot>,
    /// The targets not running, earliest due first. An entry whose instant is
    /// no longer its target's `due` (or whose target was forgotten, or is
    /// running) is stale and skipped when it comes up.
    queue: BinaryHeap<Reverse<(Instant, String)>>,
    running: HashSet<String>,
    limit: usize,
}

impl Schedule {
    /// At most `limit` (at least 1) ticks run at once.
    pub fn new(limit: usize) -> Self {
        Schedule {
            slots: HashMap::new(),
            queue: BinaryHeap::new(),
            running: HashSet::new(),
            limit: limit.max(1),
        }
    }

    /// The targets in force, each with its interval: new ones are due at
    /// `now`, the others keep their time (and take the new interval from
    /// their next start), and those not named are forgotten (a running tick
    /// still finishes).
    pub fn follow<'a>(
        &mut self,
        keys: impl IntoIterator<Item = (&'a str, Duration)>,
        now: Instant,
    ) {
        let mut named = HashSet::new();
        for (k, every) in keys {
            named.insert(k);
            match self.slots.get_mut(k) {
                Some(slot) => slot.every = every,
                None => {
                    self.slots.insert(k.to_string(), Slot { due: now, every });
                    if !self.running.contains(k) {
                        self.queue.push(Reverse((now, k.to_string())));
                    }
                }
            }
        }
        self.slots.retain(|k, _| named.contains(k.as_str()));
        self.queue
            .retain(|Reverse((_, k))| named.contains(k.as_str()));
    }

    /// The targets due at `now` that are `mine`, with the instant each was
    /// due, oldest first, as many as the limit leaves room for; each is
    /// marked running and due again one interval later. A due target not
    /// mine (another replica's shard) is looked at again one interval later.
    pub fn start(&mut self, now: Instant, mine: impl Fn(&str) -> bool) -> Vec<(String, Instant)> {
        let mut started = Vec::new();
        while self.running.len() < self.limit {
            match self.queue.peek() {
                Some(Reverse((due, _))) if *due <= now => {}
                _ => break,
            }
            let Some(Reverse((due, key))) = self.queue.pop() else {
                break;
            };
            let Some(slot) = self.slots.get_mut(&key) else {
                continue;
            };
            if slot.due != due || self.running.contains(&key) {
                continue;
            }
            slot.due = now + slot.every;
            if mine(&key) {
                self.running.insert(key.clone());
                started.push((key, due));
            } else {
                self.queue.push(Reverse((slot.due, key)));
            }
        }
        started
    }

    /// The target's tick ended (done, failed or timed out): it waits for its
    /// next due instant (at once if that has passed).
    pub fn finished(&mut self, key: &str) {
        if self.running.remove(key) {
            if let Some(slot) = self.slots.get(key) {
                self.queue.push(Reverse((slot.due, key.to_string())));
            }
        }
    }

    /// True while `key` is in force (not forgotten by [`Schedule::follow`]).
    pub fn knows(&self, key: &str) -> bool {
        self.slots.contains_key(key)
    }

    /// When the earliest waiting target falls due: the loop sleeps until
    /// then, so a tick starts on time (an instant already past means the
    /// limit holds the queue back, or a stale entry; the loop does not spin
    /// on it).
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((due, _))| *due)
    }

    /// The targets whose tick is running.
    pub fn running_keys(&self) -> impl Iterator<Item = &str> {
        self.running.iter().map(String::as_str)
    }

    /// Ticks running now.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// The targets `which` selects are due now (a shard just assigned or
    /// won acts at once; a running one again as soon as its tick ends); the
    /// others keep their time.
    pub fn due_where(&mut self, now: Instant, which: impl Fn(&str) -> bool) {
        for (k, slot) in self.slots.iter_mut().filter(|(k, _)| which(k)) {
            slot.due = now;
            if !self.running.contains(k) {
                self.queue.push(Reverse((now, k.clone())));
            }
        }
    }

    /// Every target is due now (a new leader acts at once; a running one
    /// again as soon as its tick ends).
    pub fn all_due(&mut self, now: Instant) {
        self.slots.values_mut().for_each(|s| s.due = now);
        let waiting = self.slots.keys().filter(|k| !self.running.contains(*k));
        self.queue = waiting.map(|k| Reverse((now, k.clone()))).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn keys(s: &Schedule, started: Vec<(String, Instant)>) -> Vec<String> {
        assert!(started
            .iter()
            .all(|(k, _)| s.running_keys().any(|r| r == k)));
        started.into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn a_target_ticks_once_per_interval_and_never_twice_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(8);
        s.follow([("a/x", 5 * S), ("a/y", 10 * S)], t0);
        let first = s.start(t0, |_| true);
        assert_eq!(first.len(), 2, "new targets are due at once");
        assert!(
            s.start(t0 + 20 * S, |_| true).is_empty(),
            "both still running"
        );
        s.finished("a/x");
        let again = s.start(t0 + 4 * S, |_| true);
        assert!(again.is_empty(), "a/x is due only 5 s after its start");
        assert_eq!(s.next_due(), Some(t0 + 5 * S), "the loop wakes then");
        let again = s.start(t0 + 5 * S, |_| true);
        assert_eq!(again, vec![("a/x".to_string(), t0 + 5 * S)]);
        s.finished("a/x");
        s.finished("a/x");
        let once = s.start(t0 + 20 * S, |_| true);
        assert_eq!(once.len(), 1, "finished twice, queued once");
    }

    #[test]
    fn a_tick_longer_than_its_interval_is_due_again_as_it_ends() {
        let t0 = Instant::now();
        let mut s = Schedule::new(8);
        s.follow([("a/x", S)], t0);
        assert_eq!(s.start(t0, |_| true).len(), 1);
        s.finished("a/x");
        s.start(t0 + S, |_| true);
        s.finished("a/x");
        let late = s.start(t0 + 7 * S, |_| true);
        assert_eq!(
            late,
            vec![("a/x".to_string(), t0 + 2 * S)],
            "due since its interval passed"
        );
    }

    #[test]
    fn the_limit_holds_and_the_oldest_due_go_first() {
        let t0 = Instant::now();
        let mut s = Schedule::new(2);
        s.follow([("a/1", S), ("a/2", S), ("a/3", S)], t0);
        let first = s.start(t0, |_| true);
        assert_eq!(keys(&s, first), ["a/1", "a/2"]);
        assert_eq!(s.running(), 2);
        assert!(s.start(t0 + 3 * S, |_| true).is_empty(), "at the limit");
        s.finished("a/2");
        // a/3 has waited since t0; a/2 is due at t0 + 1 s.
        let next = s.start(t0 + 3 * S, |_| true);
        assert_eq!(
            next,
            vec![("a/3".to_string(), t0)],
            "the longest wait first"
        );
        s.finished("a/1");
        let next = s.start(t0 + 3 * S, |_| true);
        assert_eq!(
            keys(&s, next),
            ["a/1"],
            "due at t0 + 1 s, as a/2 is; the key breaks the tie"
        );
    }

    #[test]
    fn only_the_targets_selected_fall_due_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(8);
        s.follow([("a/1", 60 * S), ("a/2", 60 * S), ("b/1", 60 * S)], t0);
        assert_eq!(s.start(t0, |_| true).len(), 3);
        for k in ["a/1", "a/2", "b/1"] {
            s.finished(k);
        }
        // a/2 is still running when its shard is won.
        s.start(t0 + 60 * S, |k| k == "a/2");
        s.due_where(t0 + 61 * S, |k| k.starts_with("a/"));
        let now = s.start(t0 + 61 * S, |_| true);
        assert_eq!(keys(&s, now), ["a/1"], "b/1 keeps its time; a/2 still runs");
        s.finished("a/2");
        assert_eq!(
            s.start(t0 + 61 * S, |_| true),
            vec![("a/2".to_string(), t0 + 61 * S)],
            "a running target selected is due again as it ends"
        );
        assert_eq!(
            s.next_due(),
            Some(t0 + 120 * S),
            "b/1, one interval after it last started"
        );
    }

    #[test]
    fn forgotten_targets_start_over_and_a_new_leader_runs_all_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(8);
        let both = [("a/1", 60 * S), ("a/2", 60 * S)];
        s.follow(both, t0);
        s.start(t0, |_| true);
        s.finished("a/1");
        s.all_due(t0 + S);
        let now = s.start(t0 + S, |_| true);
        assert_eq!(keys(&s, now), ["a/1"], "a/2 still runs");
        s.finished("a/2");
        assert_eq!(
            s.start(t0 + S, |_| true),
            vec![("a/2".to_string(), t0 + S)],
            "a running target is due again as it ends"
        );
        s.finished("a/1");
        s.finished("a/2");
        s.follow([("a/1", 60 * S)], t0 + S);
        assert!(!s.knows("a/2"));
        s.follow(both, t0 + 2 * S);
        let back = s.start(t0 + 2 * S, |_| true);
        assert_eq!(
            back,
            vec![("a/2".to_string(), t0 + 2 * S)],
            "due at once when back"
        );
    }

    #[test]
    fn a_target_forgotten_while_running_is_not_queued_when_it_ends() {
        let t0 = Instant::now();
        let mut s = Schedule::new(8);
        s.follow([("a/1", S)], t0);
        s.start(t0, |_| true);
        s.follow([], t0);
        s.finished("a/1");
        assert_eq!(s.next_due(), None);
        assert!(s.start(t0 + 9 * S, |_| true).is_empty());
    }

    #[test]
    fn a_target_not_ours_is_looked_at_again_one_interval_later() {
        let t0 = Instant::now();
        let mut s = Schedule::new(8);
        s.follow([("a/1", S), ("a/2", 2 * S)], t0);
        let first = s.start(t0, |k| k == "a/1");
        assert_eq!(first, vec![("a/1".to_string(), t0)]);
        assert!(
            s.start(t0 + S, |_| true).is_empty(),
            "a/1 runs; a/2 waits its interval"
        );
        let later = s.start(t0 + 2 * S, |_| true);
        assert_eq!(later, vec![("a/2".to_string(), t0 + 2 * S)]);
    }

    #[test]
    fn a_start_looks_only_at_the_targets_due() {
        let t0 = Instant::now();
        let mut s = Schedule::new(100);
        let names: Vec<String> = (0..10_000).map(|i| format!("a/{i}")).collect();
        s.follow(names.iter().map(|n| (n.as_str(), 10 * S)), t0);
        let asked = std::cell::Cell::new(0);
        let mine = |_: &str| {
            asked.set(asked.get() + 1);
            true
        };
        assert_eq!(s.start(t0, mine).len(), 100);
        let running: Vec<String> = s.running_keys().map(String::from).collect();
        running.iter().for_each(|k| s.finished(k));
        asked.set(0);
        // Everything started once is due at t0 + 10 s; the rest waits since t0.
        let next = s.start(t0 + S, mine);
        assert_eq!(next.len(), 100);
        assert_eq!(
            asked.get(),
            100,
            "one question per target started, none per target in force"
        );
    }
}
