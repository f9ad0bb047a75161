//! Whether the training data repeats from one day to the next, so that a
//! forecast has a cycle to lean on: the load in bins of an hour (or of the
//! series' step, if longer), detrended by its moving average over one day (so
//! level shifts, regime changes and slow trends do not count as a cycle), and
//! the autocorrelation of what remains at a lag of one day. A daily cycle
//! scores near 1; noise, bursts, sawtooths and regime changes near 0.
//! Training records the verdict in the model file, and a policy acts on a
//! model's forecasts only if its training data had a cycle: elsewhere there is
//! nothing predictable to scale ahead of, and the policy stays reactive.

use serde::{Deserialize, Serialize};

use super::train::Series;

/// The least strength that counts as a daily cycle.
pub const MIN_STRENGTH: f64 = 0.4;
const DAY_S: i64 = 86_400;
/// Bins per day, at least: coarser series cannot show a daily shape.
const MIN_BINS_PER_DAY: i64 = 8;
/// Days a series needs: one goes to the detrending, and at least one day of
/// pairs a day apart must remain.
pub const MIN_DAYS: i64 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DailyCycle {
    /// Autocorrelation of the detrended load at a lag of one day; none when
    /// no series was long and fine enough to tell.
    pub strength: Option<f64>,
    /// The strength a cycle needed when the model was trained.
    pub min_strength: f64,
}

/// The bin width and bins per day for a series of step `step_s`, if it can show a daily shape.
fn bins(step_s: i64) -> Option<(i64, usize)> {
    let bin_s = step_s.max(3600);
    (DAY_S % bin_s == 0 && DAY_S / bin_s >= MIN_BINS_PER_DAY)
        .then_some((bin_s, (DAY_S / bin_s) as usize))
}

/// Mean load per bin of `bin_s`, from the bin holding the first sample.
fn binned(s: &Series, step_s: i64, bin_s: i64) -> Vec<f64> {
    let origin = s.t0.div_euclid(bin_s) * bin_s;
    let mut sum: Vec<(f64, usize)> = Vec::new();
    for (k, v) in s.values.iter().enumerate() {
        let b = ((s.t0 + k as i64 * step_s - origin) / bin_s) as usize;
        if sum.len() <= b {
            sum.resize(b + 1, (0.0, 0));
        }
        sum[b].0 += v;
        sum[b].1 += 1;
    }
    // A regular series with a step no longer than the bin leaves no bin empty.
    sum.into_iter().map(|(s, n)| s / n.max(1) as f64).collect()
}

/// `x` less its moving average over `lag` bins (centred as nearly as an even
/// window allows); `lag - 1` bins shorter than `x`.
fn detrended(x: &[f64], lag: usize) -> Vec<f64> {
    let mut prefix = vec![0.0];
    for v in x {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + v);
    }
    let half = lag / 2;
    (0..=x.len().saturating_sub(lag))
        .map(|start| x[start + half] - (prefix[start + lag] - prefix[start]) / lag as f64)
        .collect()
}

impl DailyCycle {
    /// Measures the cycle over every series of `step_s` (pooled: the sums of
    /// every long enough series together).
    pub fn measure(series: &[Series], step_s: i64) -> DailyCycle {
        let (mut num, mut den, mut seen) = (0.0, 0.0, false);
        if let Some((bin_s, lag)) = bins(step_s) {
            for s in series {
                let x = binned(s, step_s, bin_s);
                if x.len() < MIN_DAYS as usize * lag {
                    continue;
                }
                let r = detrended(&x, lag);
                let mean = r.iter().sum::<f64>() / r.len() as f64;
                let c: Vec<f64> = r.iter().map(|v| v - mean).collect();
                num += c.iter().zip(&c[lag..]).map(|(a, b)| a * b).sum::<f64>();
                den += c.iter().map(|a| a * a).sum::<f64>();
                seen = true;
            }
        }
        DailyCycle {
            strength: seen.then(|| if den > 1e-12 { num / den } else { 0.0 }),
            min_strength: MIN_STRENGTH,
        }
    }

    /// True if the training data had a daily cycle.
    pub fn detected(&self) -> bool {
        self.strength.is_some_and(|s| s >= self.min_strength)
    }

    /// The verdict in words, for the training report and the reasons.
    pub fn describe(&self) -> String {
        match self.strength {
            Some(s) if self.detected() => {
                format!("daily cycle {s:.2} (at least {:.2})", self.min_strength)
            }
            Some(s) => format!(
                "no daily cycle in the training data ({s:.2}, under {:.2})",
                self.min_strength
            ),
            None => format!(
                "no daily cycle can be seen in under {MIN_DAYS} days of hourly or finer training data"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise in [-1, 1].
    fn noise(k: usize) -> f64 {
        ((k * 7919 + 13) % 1000) as f64 / 500.0 - 1.0
    }

    fn strength(values: &[f64], step_s: i64) -> DailyCycle {
        DailyCycle::measure(&[Series { t0: 0, values }], step_s)
    }

    #[test]
    fn a_noisy_daily_cycle_with_a_level_shift_is_detected() {
        // 10 days at 5 min: a daily wave of ±40, noise of ±30, and the level
        // jumping from 100 to 300 after day 4.
        let day = 288;
        let x: Vec<f64> = (0..10 * day)
            .map(|k| {
                let wave = 40.0 * (std::f64::consts::TAU * (k % day) as f64 / day as f64).sin();
                let level = if k < 4 * day { 100.0 } else { 300.0 };
                level + wave + 30.0 * noise(k)
            })
            .collect();
        let c = strength(&x, 300);
        assert!(c.detected(), "{c:?}");
        assert!(c.strength.unwrap() > 0.6, "{c:?}");
        assert!(
            c.describe().starts_with("daily cycle 0."),
            "{}",
            c.describe()
        );
    }

    #[test]
    fn noise_regime_changes_and_a_sawtooth_are_not_a_daily_cycle() {
        let day = 288;
        // Levels changing every 9.5 h by pseudo-random amounts, plus noise.
        let regimes: Vec<f64> = (0..20 * day)
            .map(|k| 100.0 + 80.0 * noise(k / 114 * 31) + 20.0 * noise(k))
            .collect();
        // A sawtooth with a 7-hour period.
        let saw: Vec<f64> = (0..20 * day).map(|k| ((k % 84) as f64) * 2.0).collect();
        for (name, x) in [("regimes", regimes), ("sawtooth", saw)] {
            let c = strength(&x, 300);
            assert!(!c.detected(), "{name}: {c:?}");
            assert!(c.describe().starts_with("no daily cycle in"), "{name}");
        }
    }

    #[test]
    fn too_short_or_too_coarse_a_series_cannot_show_a_cycle() {
        let day = 24;
        let wave: Vec<f64> = (0..10 * day)
            .map(|k| (std::f64::consts::TAU * (k % day) as f64 / day as f64).sin())
            .collect();
        assert!(strength(&wave, 3600).detected(), "ten days hourly");
        let short = strength(&wave[..3 * day - 1], 3600);
        assert_eq!(short.strength, None, "under three days");
        assert!(!short.detected());
        assert!(short.describe().contains("under 3 days"));
        assert_eq!(strength(&wave, 4 * 3600).strength, None, "6 bins a day");
    }

    #[test]
    fn minute_samples_are_binned_by_the_hour() {
        // 4 days at 60 s of a daily square wave: the binned series must see it.
        let x: Vec<f64> = (0..4 * 1440)
            .map(|k| {
                if (600..900).contains(&(k % 1440)) {
                    600.0
                } else {
                    100.0
                }
            })
            .collect();
        let c = strength(&x, 60);
        assert!(c.detected(), "{c:?}");
    }
}
