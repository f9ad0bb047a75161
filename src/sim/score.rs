//! The scorecard of one autoscaler over one replay: cost (replica-hours),
//! under-provisioning (time and unserved load), utilization of ready replicas,
//! scale actions, flaps, the reaction time to the largest load increase, and
//! for a policy with a forecast, the share of time its accuracy gate trusted it.

use serde::Serialize;

/// Reversals closer than this count as flaps.
pub const FLAP_WINDOW_S: i64 = 300;

/// What a replay measured for one autoscaler.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Scorecard {
    pub name: String,
    pub replica_hours: f64,
    /// `replica_hours` over the oracle's (1.0 for the oracle itself).
    pub cost_vs_oracle: Option<f64>,
    /// % of time with load above ready capacity.
    pub under_provisioned_pct: f64,
    /// % of the load above ready capacity.
    pub unserved_pct: f64,
    /// Mean and 95th percentile utilization of ready replicas, %.
    pub mean_utilization_pct: f64,
    pub p95_utilization_pct: f64,
    pub scale_actions: usize,
    pub flaps: usize,
    /// Seconds from the largest load increase until ready capacity covered it
    /// (`None`: never within the replay).
    pub reaction_s: Option<i64>,
    /// % of time the forecast's accuracy gate trusted it (`None`: no forecast).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_trusted_pct: Option<f64>,
}

/// The largest increase between consecutive samples: where it lands, and to what.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rise {
    pub at: i64,
    pub to: f64,
}

/// Accumulates a scorecard step by step.
pub struct ScoreKeeper {
    capacity: f64,
    step_s: f64,
    elapsed: f64,
    replica_seconds: f64,
    under_s: f64,
    unserved: f64,
    total_load: f64,
    util_sum: f64,
    util_time: f64,
    util_hist: Vec<f64>,
    rise: Option<Rise>,
    reaction_s: Option<i64>,
    actions: Vec<(i64, i32)>,
    /// The under-provisioned intervals `[from, to)`, adjacent steps merged.
    short: Vec<(i64, i64)>,
    last_direction: Option<(i64, i32)>,
    flaps: usize,
    /// Time with a forecast, and of that the time it was trusted.
    forecast_s: f64,
    trusted_s: f64,
}

const BINS: usize = 1000;

impl ScoreKeeper {
    pub fn new(capacity: f64, step_s: i64, rise: Option<Rise>) -> Self {
        ScoreKeeper {
            capacity,
            step_s: step_s as f64,
            elapsed: 0.0,
            replica_seconds: 0.0,
            under_s: 0.0,
            unserved: 0.0,
            total_load: 0.0,
            util_sum: 0.0,
            util_time: 0.0,
            util_hist: vec![0.0; BINS + 1],
            rise,
            reaction_s: None,
            actions: Vec::new(),
            short: Vec::new(),
            last_direction: None,
            flaps: 0,
            forecast_s: 0.0,
            trusted_s: 0.0,
        }
    }

    /// One step of `step_s` seconds starting at `t`.
    #[inline]
    pub fn step(&mut self, t: i64, load: f64, ready: usize, existing: usize) {
        let dt = self.step_s;
        let cap = ready as f64 * self.capacity;
        self.elapsed += dt;
        self.replica_seconds += existing as f64 * dt;
        self.total_load += load * dt;
        // A relative epsilon keeps float noise from counting as under-provisioning.
        if load > cap * (1.0 + 1e-9) + 1e-9 {
            self.under_s += dt;
            self.unserved += (load - cap) * dt;
            let until = t.saturating_add(dt as i64);
            match self.short.last_mut() {
                Some(last) if last.1 == t => last.1 = until,
                _ => self.short.push((t, until)),
            }
        }
        if ready > 0 {
            let u = (load / cap).min(1.0);
            self.util_sum += u * dt;
            self.util_time += dt;
            self.util_hist[(u * BINS as f64) as usize] += dt;
        }
        if let (Some(r), None) = (self.rise, self.reaction_s) {
            if t >= r.at && cap * (1.0 + 1e-9) + 1e-9 >= r.to {
                self.reaction_s = Some(t - r.at);
            }
        }
    }

    /// The forecast's state over the step just scored.
    pub fn forecast(&mut self, trusted: bool) {
        self.forecast_s += self.step_s;
        if trusted {
            self.trusted_s += self.step_s;
        }
    }

    /// A scale action at `t` from `from` to `to` replicas.
    pub fn action(&mut self, t: i64, from: i32, to: i32) {
        let dir = (to - from).signum();
        if dir == 0 {
            return;
        }
        if let Some((prev_t, prev_dir)) = self.last_direction {
            if prev_dir != dir && t - prev_t < FLAP_WINDOW_S {
                self.flaps += 1;
            }
        }
        self.last_direction = Some((t, dir));
        self.actions.push((t, to));
    }

    /// The scale actions so far: (time, new replica count).
    pub fn actions(&self) -> &[(i64, i32)] {
        &self.actions
    }

    /// The under-provisioned intervals `[from, to)` so far.
    pub fn short(&self) -> &[(i64, i64)] {
        &self.short
    }

    pub fn finish(self, name: &str) -> Scorecard {
        let pct = |a: f64, b: f64| if b > 0.0 { 100.0 * a / b } else { 0.0 };
        let total_time = self.util_time;
        let p95 = {
            let mut acc = 0.0;
            let mut p = 0.0;
            for (i, w) in self.util_hist.iter().enumerate() {
                acc += w;
                if acc >= 0.95 * total_time {
                    p = i as f64 / BINS as f64;
                    break;
                }
            }
            p
        };
        Scorecard {
            name: name.to_string(),
            replica_hours: self.replica_seconds / 3600.0,
            cost_vs_oracle: None,
            under_provisioned_pct: pct(self.under_s, self.elapsed),
            unserved_pct: pct(self.unserved, self.total_load),
            mean_utilization_pct: pct(self.util_sum, self.util_time),
            p95_utilization_pct: 100.0 * p95,
            scale_actions: self.actions.len(),
            flaps: self.flaps,
            reaction_s: self.reaction_s,
            forecast_trusted_pct: (self.forecast_s > 0.0)
                .then(|| pct(self.trusted_s, self.forecast_s)),
        }
    }
}

/// The largest increase between consecutive samples of `values` at `ts`.
pub fn largest_rise(ts: &[i64], values: &[f64]) -> Option<Rise> {
    let mut best: Option<(f64, Rise)> = None;
    for i in 1..values.len() {
        let d = values[i] - values[i - 1];
        if d > 0.0 && best.is_none_or(|(b, _)| d > b) {
            best = Some((
                d,
                Rise {
                    at: ts[i],
                    to: values[i],
                },
            ));
        }
    }
    best.map(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_intervals_merge_adjacent_steps_and_only_those() {
        let mut k = ScoreKeeper::new(10.0, 5, None);
        for (t, load) in [(0, 5.0), (5, 15.0), (10, 15.0), (15, 5.0), (20, 15.0)] {
            k.step(t, load, 1, 1);
        }
        assert_eq!(k.short(), [(5, 15), (20, 25)]);
    }

    #[test]
    fn hand_computed_scores() {
        // Capacity 10 per replica, 1 s steps. Four steps:
        // load 15 with 2 ready (3 existing): covered, utilization 75 %;
        // load 25 with 2 ready: 5 unserved; load 30 with 3 ready: covered, 100 %;
        // load 0 with 3 ready: utilization 0.
        let mut k = ScoreKeeper::new(10.0, 1, Some(Rise { at: 1, to: 25.0 }));
        k.step(0, 15.0, 2, 3);
        k.step(1, 25.0, 2, 3);
        k.action(1, 3, 4);
        k.step(2, 30.0, 3, 4);
        k.action(3, 4, 3);
        k.step(3, 0.0, 3, 3);
        k.forecast(true);
        assert_eq!(k.short(), [(1, 2)]);
        let s = k.finish("x");
        assert!((s.replica_hours - 13.0 / 3600.0).abs() < 1e-12);
        assert_eq!(s.under_provisioned_pct, 25.0);
        assert!((s.unserved_pct - 100.0 * 5.0 / 70.0).abs() < 1e-9);
        // Utilization: (0.75 + 1.0 + 1.0 + 0.0) / 4 steps.
        assert!((s.mean_utilization_pct - 68.75).abs() < 1e-9);
        assert_eq!(s.p95_utilization_pct, 100.0);
        assert_eq!(s.scale_actions, 2);
        assert_eq!(
            s.flaps, 1,
            "up at 1 then down at 3: a reversal within 5 minutes"
        );
        assert_eq!(
            s.reaction_s,
            Some(1),
            "25 covered by 3 ready replicas at t=2"
        );
        assert_eq!(s.forecast_trusted_pct, Some(100.0), "one step, trusted");
    }

    #[test]
    fn reversals_far_apart_are_not_flaps() {
        let mut k = ScoreKeeper::new(1.0, 1, None);
        k.action(0, 1, 2);
        k.action(400, 2, 1);
        k.action(500, 1, 1);
        let s = k.finish("x");
        assert_eq!(s.flaps, 0);
        assert_eq!(s.forecast_trusted_pct, None, "no forecast");
    }

    #[test]
    fn largest_rise_between_samples() {
        let r = largest_rise(&[0, 10, 20, 30], &[5.0, 6.0, 20.0, 10.0]).unwrap();
        assert_eq!(r, Rise { at: 20, to: 20.0 });
        assert!(largest_rise(&[0, 10], &[5.0, 1.0]).is_none());
    }
}
