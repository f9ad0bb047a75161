//! When each target ticks: every policy's interval from its last start, never
//! while the target's previous tick is still running, and at most `limit`
//! ticks at once (the rest wait, oldest due first, and their wait counts as
//! tick lag).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The tick timetable of the targets in force.
pub struct Schedule {
    due: HashMap<String, Instant>,
    running: HashSet<String>,
    limit: usize,
    /// The earliest due instant still ahead at the last `start`.
    next: Option<Instant>,
}

impl Schedule {
    /// At most `limit` (at least 1) ticks run at once.
    pub fn new(limit: usize) -> Self {
        Schedule {
            due: HashMap::new(),
            running: HashSet::new(),
            limit: limit.max(1),
            next: None,
        }
    }

    /// The targets among `keys` (each with its interval) whose tick may
    /// start at `now` — due, not running, and `mine` — with the instant each
    /// was due, oldest first; each is marked running and due again one
    /// interval later. New targets are due at once.
    pub fn start<'a>(
        &mut self,
        keys: impl IntoIterator<Item = (&'a str, Duration)>,
        now: Instant,
        mine: impl Fn(&str) -> bool,
    ) -> Vec<(String, Instant)> {
        let mut ready: Vec<(Instant, &str, Duration)> = Vec::new();
        self.next = None;
        for (k, every) in keys {
            if self.running.contains(k) {
                continue;
            }
            let due = match self.due.get(k) {
                Some(d) => *d,
                None => *self.due.entry(k.to_string()).or_insert(now),
            };
            if due > now {
                self.next = Some(self.next.map_or(due, |n| n.min(due)));
            } else if mine(k) {
                ready.push((due, k, every));
            } else if let Some(d) = self.due.get_mut(k) {
                // Not ours (another replica's shard): due again the moment it
                // is, and its wait counts from then.
                *d = now;
            }
        }
        ready.sort();
        ready.truncate(self.limit.saturating_sub(self.running.len()));
        ready
            .into_iter()
            .map(|(due, k, every)| {
                self.due.insert(k.to_string(), now + every);
                self.running.insert(k.to_string());
                (k.to_string(), due)
            })
            .collect()
    }

    /// The target's tick ended (done, failed or timed out).
    pub fn finished(&mut self, key: &str) {
        self.running.remove(key);
    }

    /// True while `key` is in force (not forgotten by [`Schedule::retain`]).
    pub fn knows(&self, key: &str) -> bool {
        self.due.contains_key(key)
    }

    /// When the next target not running falls due (as of the last
    /// `start`): the loop sleeps until then, so a tick starts on time.
    pub fn next_due(&self) -> Option<Instant> {
        self.next
    }

    /// The targets whose tick is running.
    pub fn running_keys(&self) -> impl Iterator<Item = &str> {
        self.running.iter().map(String::as_str)
    }

    /// Ticks running now.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Every target is due now (a new leader acts at once).
    pub fn all_due(&mut self, now: Instant) {
        self.due.values_mut().for_each(|d| *d = now);
    }

    /// Forgets targets no longer in force (a running tick still finishes).
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.due.retain(|k, _| keep(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_target_ticks_once_per_interval_and_never_twice_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(8);
        let keys = [("a/x", 5 * S), ("a/y", 10 * S)];
        let first = s.start(keys, t0, |_| true);
        assert_eq!(first.len(), 2, "new targets are due at once");
        assert!(
            s.start(keys, t0 + 20 * S, |_| true).is_empty(),
            "both still running"
        );
        s.finished("a/x");
        let again = s.start(keys, t0 + 4 * S, |_| true);
        assert!(again.is_empty(), "a/x is due only 5 s after its start");
        assert_eq!(s.next_due(), Some(t0 + 5 * S), "the loop wakes then");
        let again = s.start(keys, t0 + 5 * S, |_| true);
        assert_eq!(again, vec![("a/x".to_string(), t0 + 5 * S)]);
    }

    #[test]
    fn the_limit_holds_and_the_oldest_due_go_first() {
        let t0 = Instant::now();
        let mut s = Schedule::new(2);
        let keys = [("a/1", S), ("a/2", S), ("a/3", S)];
        let first: Vec<String> = s
            .start(keys, t0, |_| true)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(first, ["a/1", "a/2"]);
        assert_eq!(s.running(), 2);
        assert!(
            s.start(keys, t0 + 3 * S, |_| true).is_empty(),
            "at the limit"
        );
        s.finished("a/2");
        // a/3 has waited since t0; a/2 is due at t0 + 1 s.
        let next = s.start(keys, t0 + 3 * S, |_| true);
        assert_eq!(
            next,
            vec![("a/3".to_string(), t0)],
            "the longest wait first"
        );
    }

    #[test]
    fn forgotten_targets_start_over_and_a_new_leader_runs_all_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(8);
        let keys = [("a/1", 60 * S), ("a/2", 60 * S)];
        s.start(keys, t0, |_| true);
        s.finished("a/1");
        s.finished("a/2");
        s.all_due(t0 + S);
        assert_eq!(s.start(keys, t0 + S, |_| true).len(), 2);
        s.finished("a/1");
        s.finished("a/2");
        s.retain(|k| k != "a/2");
        let back = s.start(keys, t0 + 2 * S, |_| true);
        assert_eq!(
            back,
            vec![("a/2".to_string(), t0 + 2 * S)],
            "due at once when back"
        );
    }

    #[test]
    fn a_target_not_ours_starts_once_it_is_and_waits_from_then() {
        let t0 = Instant::now();
        let mut s = Schedule::new(8);
        let keys = [("a/1", S), ("a/2", S)];
        let first = s.start(keys, t0, |k| k == "a/1");
        assert_eq!(first, vec![("a/1".to_string(), t0)]);
        s.start(keys, t0 + 4 * S, |_| false);
        let later = s.start(keys, t0 + 5 * S, |k| k == "a/2");
        let since = vec![("a/2".to_string(), t0 + 4 * S)];
        assert_eq!(later, since, "due since it was last seen not ours");
    }
}
