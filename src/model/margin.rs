//! The safety margin added to a point forecast, learned from out-of-sample
//! residuals so under-forecasting is rare by design. Load noise is rarely the
//! same at every level (request counts are noisier in relative terms at night,
//! CPU is calmer when idle), so the margin is a spread model times a factor:
//! ridge regression of the absolute residual on the same features gives the
//! expected error of each row, and the factor is the chosen quantile of
//! residual ÷ expected error. The upper forecast is point + factor × spread.

use serde::{Deserialize, Serialize};

use super::file::ModelError;
use super::kinds::{fit_ridge, Params};

/// The quantile of the residuals the upper forecast covers.
pub const QUANTILE: f64 = 0.9;
/// Ridge penalty of the spread model.
const PENALTY: f64 = 0.03;
/// The spread never falls below this share of the mean absolute residual (a
/// row the spread model thinks is certain still gets some margin).
const FLOOR_SHARE: f64 = 0.1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Margin {
    /// The residual quantile the margin covers.
    pub quantile: f64,
    /// Residual ÷ spread at that quantile.
    pub factor: f64,
    /// The least spread of any row.
    pub floor: f64,
    /// The spread model: expected absolute residual of a feature row.
    pub spread: Params,
}

/// The `q` quantile of `v` (sorted in place), by the nearest rank below.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q) as usize]
}

impl Margin {
    /// Learns the margin from out-of-sample `residuals` (actual − forecast) of `rows`.
    pub fn fit(rows: &[Vec<f64>], residuals: &[f64]) -> Result<Margin, ModelError> {
        let abs: Vec<f64> = residuals.iter().map(|r| r.abs()).collect();
        let mean_abs = abs.iter().sum::<f64>() / abs.len().max(1) as f64;
        let floor = (FLOOR_SHARE * mean_abs).max(1e-9);
        let spread = fit_ridge(rows, &abs, PENALTY)?;
        let mut ratios: Vec<f64> = {
            let model = spread.model();
            rows.iter()
                .zip(residuals)
                .map(|(row, r)| r / model.predict(row).max(floor))
                .collect()
        };
        let factor = quantile(&mut ratios, QUANTILE).max(0.0);
        Ok(Margin {
            quantile: QUANTILE,
            factor,
            floor,
            spread,
        })
    }

    /// The margin for one feature row (never negative).
    pub fn of(&self, row: &[f64]) -> f64 {
        self.factor * self.spread.model().predict(row).max(self.floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_follows_the_noise_level_and_covers_the_quantile() {
        // Residuals whose size grows with the first feature (the level).
        let mut rows = Vec::new();
        let mut res = Vec::new();
        for k in 0..4000 {
            let level = 10.0 + (k % 100) as f64;
            // A deterministic, symmetric spread of ±level/10 × u, u uniform in [-1, 1].
            let u = ((k * 7919) % 1000) as f64 / 500.0 - 1.0;
            rows.push(vec![level, 1.0]);
            res.push(level / 10.0 * u);
        }
        let m = Margin::fit(&rows, &res).unwrap();
        let (low, high) = (m.of(&[10.0, 1.0]), m.of(&[109.0, 1.0]));
        assert!(
            high > 5.0 * low,
            "margin at level 10: {low}, at 109: {high}"
        );
        let covered = rows
            .iter()
            .zip(&res)
            .filter(|(row, r)| **r <= m.of(row))
            .count() as f64
            / rows.len() as f64;
        assert!((0.85..=0.95).contains(&covered), "covers {covered}");
    }
}
