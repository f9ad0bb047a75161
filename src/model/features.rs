//! The features a forecast is made from, at one instant of a regular series:
//! recent lags, window aggregates (mean, max, slope), an EWMA, the value one
//! day and one week before the target time, and time of day and day of week
//! as Fourier terms of the target time. Every feature of row `i` reads only
//! `x[..=i]` (and the calendar, which is known ahead): no look-ahead.

use serde::{Deserialize, Serialize};

const DAY_S: i64 = 86_400;
const WEEK_S: i64 = 7 * DAY_S;
/// Steps of the window aggregates.
const WINDOW: usize = 15;
/// EWMA smoothing per step.
pub const EWMA_ALPHA: f64 = 0.1;

/// The shape of the features: what the running config must be able to compute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureSpec {
    /// Seconds between samples of the series.
    pub step_s: i64,
    /// Steps ahead the target lies.
    pub horizon_steps: usize,
    /// Feature names, in order.
    pub names: Vec<String>,
}

impl FeatureSpec {
    pub fn new(step_s: i64, horizon_steps: usize) -> Self {
        let mut names: Vec<String> = [
            "last", "lag1", "lag2", "lag5", "mean15", "max15", "slope15", "ewma", "dayAgo",
            "weekAgo",
        ]
        .map(String::from)
        .to_vec();
        for k in 1..=3 {
            names.push(format!("todSin{k}"));
            names.push(format!("todCos{k}"));
        }
        for k in 1..=2 {
            names.push(format!("dowSin{k}"));
            names.push(format!("dowCos{k}"));
        }
        FeatureSpec {
            step_s,
            horizon_steps,
            names,
        }
    }

    /// Steps a series must hold before the first row.
    pub fn warmup(&self) -> usize {
        WINDOW
    }

    /// The row at index `i` of `x` (sampled at `t0 + k·step_s`), whose EWMA
    /// up to `i` is `ewma`; `None` before the warm-up.
    pub fn row(&self, x: &[f64], i: usize, t0: i64, ewma: f64) -> Option<Vec<f64>> {
        if i + 1 < WINDOW || i >= x.len() {
            return None;
        }
        let past = &x[..=i];
        let last = past[i];
        let lag = |k: usize| past[i.saturating_sub(k)];
        let recent = &past[i + 1 - WINDOW..];
        let mean = recent.iter().sum::<f64>() / WINDOW as f64;
        let max = recent.iter().copied().fold(f64::MIN, f64::max);
        // Least-squares slope per step over the window.
        let xm = (WINDOW as f64 - 1.0) / 2.0;
        let (num, den) = recent
            .iter()
            .enumerate()
            .fold((0.0, 0.0), |(n, d), (j, v)| {
                let dx = j as f64 - xm;
                (n + dx * (v - mean), d + dx * dx)
            });
        let slope = num / den;
        let target_index = (i + self.horizon_steps) as i64;
        let seasonal = |period_s: i64| {
            let back = period_s / self.step_s.max(1);
            let j = target_index - back;
            if back > 0 && j >= 0 && (j as usize) <= i {
                past[j as usize]
            } else {
                last
            }
        };
        let target_t = t0 + target_index * self.step_s;
        let mut row = vec![
            last,
            lag(1),
            lag(2),
            lag(5),
            mean,
            max,
            slope,
            ewma,
            seasonal(DAY_S),
            seasonal(WEEK_S),
        ];
        let tau = std::f64::consts::TAU;
        let tod = target_t.rem_euclid(DAY_S) as f64 / DAY_S as f64;
        for k in 1..=3 {
            row.push((tau * k as f64 * tod).sin());
            row.push((tau * k as f64 * tod).cos());
        }
        let dow = target_t.rem_euclid(WEEK_S) as f64 / WEEK_S as f64;
        for k in 1..=2 {
            row.push((tau * k as f64 * dow).sin());
            row.push((tau * k as f64 * dow).cos());
        }
        Some(row)
    }
}

/// The EWMA after each sample.
pub fn ewma_series(x: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    let mut e = None;
    for &v in x {
        let next = e.map_or(v, |p: f64| EWMA_ALPHA * v + (1.0 - EWMA_ALPHA) * p);
        e = Some(next);
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_never_read_the_future() {
        let spec = FeatureSpec::new(300, 2);
        let x: Vec<f64> = (0..3000)
            .map(|k| (k as f64 * 0.37).sin() * 50.0 + 100.0)
            .collect();
        let e = ewma_series(&x);
        for i in [14, 15, 200, 287, 288, 2015, 2016, 2500] {
            let row = spec.row(&x, i, 0, e[i]).unwrap();
            let mut future = x.clone();
            for v in &mut future[i + 1..] {
                *v = -1e9;
            }
            let fe = ewma_series(&future);
            assert_eq!(fe[i], e[i]);
            assert_eq!(
                spec.row(&future, i, 0, fe[i]).unwrap(),
                row,
                "row {i} reads the future"
            );
            assert_eq!(row.len(), spec.names.len());
        }
        assert!(spec.row(&x, 13, 0, 0.0).is_none(), "warm-up");
    }

    #[test]
    fn seasonal_lags_land_on_the_target_time_a_day_earlier() {
        let spec = FeatureSpec::new(3600, 1);
        let x: Vec<f64> = (0..100).map(f64::from).collect();
        let row = spec.row(&x, 50, 0, 0.0).unwrap();
        assert_eq!(row[8], 27.0, "target index 51, one day (24 steps) earlier");
        assert_eq!(row[9], 50.0, "no week of history yet: the last value");
    }
}
