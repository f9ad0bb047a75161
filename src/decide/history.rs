//! The state a decision carries to the next one: the recommendation history
//! (stabilization windows) and the scale events (rate-limit periods), kept with
//! the same reuse-the-oldest-slot rules as the HPA so the lists stay bounded.
//!
//! Unlike the HPA, which keeps this in memory, every function here takes `now`
//! as an argument and the whole history is a value: it can be persisted,
//! replayed and handed to a new leader.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::input::Time;

/// `now - window`, the start of a window ending now; the earliest time there
/// is when that would be before it (a `now` near chrono's limits would
/// otherwise panic).
pub fn window_start(now: Time, window: Duration) -> Time {
    now.checked_sub_signed(window).unwrap_or(Time::MIN_UTC)
}

/// A replica count at an instant: a recommendation, or the size of a scale event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedReplicas {
    pub time: Time,
    pub replicas: i32,
}

/// The decision history of one target.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct History {
    /// Raw (unstabilized) recommendations. `None` means none was ever recorded:
    /// the first decision then records the current replica count, as the HPA does.
    #[serde(default)]
    pub recommendations: Option<Vec<TimedReplicas>>,
    /// Pods added by past scale-ups (absolute change).
    #[serde(default)]
    pub scale_up_events: Vec<TimedReplicas>,
    /// Pods removed by past scale-downs (absolute change).
    #[serde(default)]
    pub scale_down_events: Vec<TimedReplicas>,
    /// When the target was last active (`activation`: a metric above its
    /// threshold); it scales to zero a cooldown after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active: Option<Time>,
    /// When burst mode last saw a burst; it holds scale-downs for the stable
    /// window after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_burst: Option<Time>,
}

impl History {
    /// `recordInitialRecommendation`: a target seen for the first time starts
    /// with its current size as the only recommendation.
    pub fn record_initial(&mut self, current: i32, now: Time) {
        if self.recommendations.is_none() {
            self.recommendations = Some(vec![TimedReplicas {
                time: now,
                replicas: current,
            }]);
        }
    }

    pub fn recommendations(&self) -> &[TimedReplicas] {
        self.recommendations.as_deref().unwrap_or(&[])
    }

    /// Stores `replicas` at `now`, overwriting the slot at `reuse` when given.
    pub fn store_recommendation(&mut self, reuse: Option<usize>, replicas: i32, now: Time) {
        let recs = self.recommendations.get_or_insert_with(Vec::new);
        let rec = TimedReplicas {
            time: now,
            replicas,
        };
        match reuse {
            Some(i) => recs[i] = rec,
            None => recs.push(rec),
        }
    }

    /// `storeScaleEvent`: remembers a rescale from `prev` to `new`, reusing the
    /// last slot older than the direction's longest policy period.
    pub fn store_scale_event(&mut self, prev: i32, new: i32, longest_period_s: i32, now: Time) {
        let events = if new > prev {
            &mut self.scale_up_events
        } else {
            &mut self.scale_down_events
        };
        let cutoff = window_start(now, Duration::seconds(i64::from(longest_period_s)));
        let outdated = events.iter().rposition(|e| e.time < cutoff);
        let event = TimedReplicas {
            time: now,
            replicas: (new - prev).abs(),
        };
        match outdated {
            Some(i) => events[i] = event,
            None => events.push(event),
        }
    }
}

/// `getReplicasChangePerPeriod`: pods changed by the events newer than `now − period`.
pub fn change_in_period(events: &[TimedReplicas], period_s: i32, now: Time) -> i32 {
    let cutoff = window_start(now, Duration::seconds(i64::from(period_s)));
    events
        .iter()
        .filter(|e| e.time > cutoff)
        .fold(0i32, |acc, e| acc.saturating_add(e.replicas))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> Time {
        chrono::Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn initial_recommendation_only_when_never_recorded() {
        let mut h = History::default();
        h.record_initial(3, t(0));
        assert_eq!(
            h.recommendations(),
            &[TimedReplicas {
                time: t(0),
                replicas: 3
            }]
        );
        h.record_initial(5, t(10));
        assert_eq!(h.recommendations().len(), 1);

        let mut explicit = History {
            recommendations: Some(vec![]),
            ..Default::default()
        };
        explicit.record_initial(3, t(0));
        assert!(explicit.recommendations().is_empty());
    }

    #[test]
    fn scale_events_reuse_the_last_outdated_slot() {
        let mut h = History::default();
        h.store_scale_event(1, 3, 60, t(0));
        h.store_scale_event(3, 4, 60, t(50));
        assert_eq!(h.scale_up_events.len(), 2);
        // At t=100 the first event (t=0) is older than 60 s: its slot is reused.
        h.store_scale_event(4, 6, 60, t(100));
        assert_eq!(
            h.scale_up_events,
            vec![
                TimedReplicas {
                    time: t(100),
                    replicas: 2
                },
                TimedReplicas {
                    time: t(50),
                    replicas: 1
                }
            ]
        );
        h.store_scale_event(6, 2, 60, t(110));
        assert_eq!(
            h.scale_down_events,
            vec![TimedReplicas {
                time: t(110),
                replicas: 4
            }]
        );
    }

    #[test]
    fn change_in_period_excludes_events_at_the_cutoff() {
        let events = [
            TimedReplicas {
                time: t(0),
                replicas: 2,
            },
            TimedReplicas {
                time: t(1),
                replicas: 3,
            },
        ];
        // cutoff = t(15) − 15 s = t(0): strictly after, so only the second counts.
        assert_eq!(change_in_period(&events, 15, t(15)), 3);
        assert_eq!(change_in_period(&events, 16, t(15)), 5);
    }
}
