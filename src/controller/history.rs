//! Decision history that survives failover: the recommendations and scale
//! events the behavior chain needs, persisted with the target in the
//! `scalepilot.io/history` annotation (written with every scale) and merged
//! with the history a replica kept in memory while it decided as a standby.
//!
//! The annotation stays small whatever the tick: a recommendation matters to a
//! later stabilization only while no newer one dominates it (for scale-down
//! stabilization, the maximum over the window, a newer one at least as high;
//! for scale-up, the minimum, a newer one at least as low). Dropping dominated
//! entries, and entries older than the longest window, leaves every future
//! stabilized value unchanged; a hard cap keeps the newest entries beyond that.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::decide::{History, Time, TimedReplicas};

/// The annotation holding the history.
pub const ANNOTATION: &str = "scalepilot.io/history";

/// The longest window or period the API allows (`stabilizationWindowSeconds`
/// ≤ 3600, policy `periodSeconds` ≤ 1800): nothing older ever matters.
const HORIZON_S: i64 = 3600;

/// Entries kept per list at most.
pub const MAX_ENTRIES: usize = 256;

/// The persisted form: format version and the three lists.
#[derive(Debug, Serialize, Deserialize)]
struct Persisted {
    v: u32,
    #[serde(flatten)]
    history: History,
}

/// Drops what can no longer change a decision at or after `now`.
pub fn compact(history: &History, now: Time) -> History {
    let cutoff = now - Duration::seconds(HORIZON_S);
    let recent = |list: &[TimedReplicas]| -> Vec<TimedReplicas> {
        let mut v: Vec<TimedReplicas> = list.iter().filter(|e| e.time >= cutoff).copied().collect();
        v.sort_by_key(|e| e.time);
        v
    };
    let recs = history.recommendations.as_ref().map(|recs| {
        let recs = recent(recs);
        // Walk newest first, keeping an entry only if it sets a new maximum
        // or a new minimum among the entries newer than it.
        let (mut max, mut min) = (i32::MIN, i32::MAX);
        let mut kept: Vec<TimedReplicas> = Vec::new();
        for e in recs.iter().rev() {
            if e.replicas > max || e.replicas < min {
                kept.push(*e);
            }
            max = max.max(e.replicas);
            min = min.min(e.replicas);
        }
        kept.reverse();
        cap(kept)
    });
    let events = |list: &[TimedReplicas]| cap(recent(list));
    History {
        recommendations: recs,
        scale_up_events: events(&history.scale_up_events),
        scale_down_events: events(&history.scale_down_events),
        last_active: history.last_active,
        last_burst: history.last_burst,
    }
}

fn cap(mut v: Vec<TimedReplicas>) -> Vec<TimedReplicas> {
    if v.len() > MAX_ENTRIES {
        v.drain(..v.len() - MAX_ENTRIES);
    }
    v
}

/// The annotation value for `history` at `now`.
pub fn encode(history: &History, now: Time) -> String {
    let p = Persisted {
        v: 1,
        history: compact(history, now),
    };
    serde_json::to_string(&p).expect("history serializes")
}

/// A persisted history that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{ANNOTATION}: cannot parse: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("{ANNOTATION}: format version {0} unknown")]
    Version(u32),
}

/// Reads an annotation value; a foreign version or a damaged value is an error.
pub fn decode(value: &str) -> Result<History, HistoryError> {
    let p: Persisted = serde_json::from_str(value)?;
    if p.v != 1 {
        return Err(HistoryError::Version(p.v));
    }
    Ok(p.history)
}

/// Union of two histories (entries equal in time and count once), compacted.
pub fn merge(ours: &History, theirs: &History, now: Time) -> History {
    let union = |a: &[TimedReplicas], b: &[TimedReplicas]| {
        let mut v: Vec<TimedReplicas> = a.iter().chain(b).copied().collect();
        v.sort_by_key(|e| (e.time, e.replicas));
        v.dedup();
        v
    };
    let recs = match (&ours.recommendations, &theirs.recommendations) {
        (None, None) => None,
        (a, b) => Some(union(
            a.as_deref().unwrap_or(&[]),
            b.as_deref().unwrap_or(&[]),
        )),
    };
    compact(
        &History {
            recommendations: recs,
            scale_up_events: union(&ours.scale_up_events, &theirs.scale_up_events),
            scale_down_events: union(&ours.scale_down_events, &theirs.scale_down_events),
            last_active: ours.last_active.max(theirs.last_active),
            last_burst: ours.last_burst.max(theirs.last_burst),
        },
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> Time {
        chrono::Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    fn rec(s: i64, r: i32) -> TimedReplicas {
        TimedReplicas {
            time: t(s),
            replicas: r,
        }
    }

    /// The stabilized bounds over a window, as `decide` computes them.
    fn bounds(recs: &[TimedReplicas], now: Time, window_s: i64) -> (i32, i32) {
        let cutoff = now - Duration::seconds(window_s);
        let inside = recs.iter().filter(|r| r.time > cutoff);
        let (lo, hi) = inside.fold((i32::MAX, i32::MIN), |(lo, hi), r| {
            (lo.min(r.replicas), hi.max(r.replicas))
        });
        (lo, hi)
    }

    #[test]
    fn compaction_keeps_every_future_stabilized_value() {
        // A noisy day of recommendations at a 1 s tick.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut recs = Vec::new();
        for s in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            recs.push(rec(s, 5 + (state % 20) as i32));
        }
        let now = t(20_000);
        let history = History {
            recommendations: Some(recs.clone()),
            ..History::default()
        };
        let small = compact(&history, now);
        let kept = small.recommendations.as_deref().unwrap();
        assert!(kept.len() < 60, "kept {}", kept.len());
        for later in [0, 1, 30, 299, 300, 1000, 3599] {
            for window in [0, 15, 60, 300, 3600] {
                let at = now + Duration::seconds(later);
                assert_eq!(
                    bounds(kept, at, window),
                    bounds(&recs, at, window),
                    "{later} s later, window {window} s"
                );
            }
        }
    }

    #[test]
    fn round_trip_and_versions() {
        let h = History {
            recommendations: Some(vec![rec(0, 3), rec(10, 5)]),
            scale_up_events: vec![rec(10, 2)],
            scale_down_events: Vec::new(),
            ..History::default()
        };
        let text = encode(&h, t(20));
        assert_eq!(decode(&text).unwrap(), h);
        assert!(decode(&text.replace("\"v\":1", "\"v\":9"))
            .unwrap_err()
            .to_string()
            .contains("version 9"));
        assert!(decode("{").unwrap_err().to_string().contains(ANNOTATION));
    }

    #[test]
    fn each_list_keeps_its_newest_entries_up_to_the_cap() {
        let events: Vec<TimedReplicas> = (0..300).map(|i| rec(i, 1)).collect();
        let h = History {
            scale_up_events: events.clone(),
            ..History::default()
        };
        let c = compact(&h, t(300));
        assert_eq!(c.scale_up_events.len(), MAX_ENTRIES);
        assert_eq!(c.scale_up_events, events[300 - MAX_ENTRIES..]);
        let exactly = History {
            scale_down_events: events[..MAX_ENTRIES].to_vec(),
            ..History::default()
        };
        assert_eq!(
            compact(&exactly, t(300)).scale_down_events,
            events[..MAX_ENTRIES],
            "a full list loses nothing"
        );
    }

    #[test]
    fn merge_is_a_union() {
        let ours = History {
            recommendations: Some(vec![rec(0, 3), rec(20, 2)]),
            ..History::default()
        };
        let theirs = History {
            recommendations: Some(vec![rec(10, 9)]),
            scale_up_events: vec![rec(10, 6)],
            ..History::default()
        };
        let m = merge(&ours, &theirs, t(30));
        assert_eq!(
            m.recommendations.as_deref().unwrap(),
            &[rec(10, 9), rec(20, 2)],
            "the 3 at t=0 is dominated by the 9 (max) and the 2 (min)"
        );
        assert_eq!(m.scale_up_events, [rec(10, 6)]);
        assert_eq!(
            merge(&History::default(), &History::default(), t(0)).recommendations,
            None
        );
    }
}
