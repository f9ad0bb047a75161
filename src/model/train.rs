//! Training: feature rows from regular series, each with its target, the
//! peak of the load over the next horizon (capacity must cover every moment
//! until the horizon, not only its last one); time-series cross-validation
//! with a rolling origin (each fold trains only on what precedes it, with a
//! gap of one horizon so no target leaks); the model kind with the lowest
//! mean validation MAE; and a safety margin learned from the out-of-sample
//! residuals (see `margin`), so that under-forecasting is rare by design;
//! and whether the series have a daily cycle to forecast at all (see `cycle`).

use serde::{Deserialize, Serialize};

use super::cycle::DailyCycle;
use super::features::{ewma_series, FeatureSpec};
use super::file::ModelError;
use super::kinds::{fit_ridge, Params};
use super::margin::Margin;

/// A regular series: `values[k]` at `t0 + k·step_s`.
pub struct Series<'a> {
    pub t0: i64,
    pub values: &'a [f64],
}

/// Errors of one forecaster on one fold. Each may be undefined (NaN, e.g.
/// the MASE of a series whose seasonal-naive error is 0), which JSON writes
/// as `null` and reading turns back into NaN.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    #[serde(deserialize_with = "nan_if_null")]
    pub mae: f64,
    /// Percent, over targets that are not zero.
    #[serde(deserialize_with = "nan_if_null")]
    pub mape: f64,
    /// MAE over the in-sample MAE of the seasonal-naive forecast.
    #[serde(deserialize_with = "nan_if_null")]
    pub mase: f64,
}

fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One validation fold: the model against the two baselines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoldReport {
    pub fold: usize,
    pub train_rows: usize,
    pub validation_rows: usize,
    pub model: Errors,
    pub seasonal_naive: Errors,
    pub last_value: Errors,
}

/// Rows and targets of every series, in time order.
pub struct Dataset {
    pub rows: Vec<Vec<f64>>,
    pub targets: Vec<f64>,
    /// Whether the series repeat from day to day.
    pub daily_cycle: DailyCycle,
}

pub fn dataset(spec: &FeatureSpec, series: &[Series]) -> Dataset {
    let mut d = Dataset {
        rows: Vec::new(),
        targets: Vec::new(),
        daily_cycle: DailyCycle::measure(series, spec.step_s),
    };
    for s in series {
        let e = ewma_series(s.values);
        let last = s.values.len().saturating_sub(spec.horizon_steps);
        for (i, &ewma) in e.iter().enumerate().take(last) {
            if let Some(row) = spec.row(s.values, i, s.t0, ewma) {
                d.rows.push(row);
                d.targets.push(peak_ahead(s.values, i, spec.horizon_steps));
            }
        }
    }
    d
}

/// The target of row `i`: the peak of the `horizon` values after it.
pub fn peak_ahead(values: &[f64], i: usize, horizon: usize) -> f64 {
    values[i + 1..=i + horizon.max(1)]
        .iter()
        .copied()
        .fold(f64::MIN, f64::max)
}

fn errors(pred: &[f64], actual: &[f64], scale: f64) -> Errors {
    let n = pred.len().max(1) as f64;
    let mae = pred
        .iter()
        .zip(actual)
        .map(|(p, a)| (p - a).abs())
        .sum::<f64>()
        / n;
    let nonzero: Vec<(f64, f64)> = pred
        .iter()
        .zip(actual)
        .filter(|(_, a)| a.abs() > 1e-9)
        .map(|(p, a)| (*p, *a))
        .collect();
    let mape = 100.0
        * nonzero
            .iter()
            .map(|(p, a)| ((p - a) / a).abs())
            .sum::<f64>()
        / nonzero.len().max(1) as f64;
    Errors {
        mae,
        mape,
        mase: if scale > 0.0 { mae / scale } else { f64::NAN },
    }
}

/// Penalties tried for ridge.
const PENALTIES: [f64; 2] = [0.003, 0.03];
const FOLDS: usize = 4;

/// What training produced.
pub struct Trained {
    pub params: Params,
    pub folds: Vec<FoldReport>,
    pub margin: Margin,
    /// The margin of the no-change (last-value) forecast, learned alike: the
    /// upper bound the accuracy gate holds the forecast's against.
    pub no_change_margin: Margin,
    pub daily_cycle: DailyCycle,
    /// Mean validation MAE of every candidate, by name.
    pub candidates: Vec<(String, f64)>,
}

/// A fit run on a scoped thread: its result, or an error if it panicked.
fn joined<T>(h: std::thread::ScopedJoinHandle<'_, Result<T, ModelError>>) -> Result<T, ModelError> {
    h.join()
        .unwrap_or_else(|_| Err(ModelError::Fit("a fit panicked".into())))
}

/// Cross-validates every candidate, picks the best, refits it on all rows.
pub fn train(
    d: &Dataset,
    spec: &FeatureSpec,
    mut progress: impl FnMut(),
) -> Result<Trained, ModelError> {
    let n = d.rows.len();
    if n < 50 * (FOLDS + 1) {
        return Err(ModelError::Fit(format!(
            "{n} training rows: too few for {FOLDS} folds (need {})",
            50 * (FOLDS + 1)
        )));
    }
    let chunk = n / (FOLDS + 1);
    let mut candidates: Vec<Params> = vec![Params::SeasonalNaive, Params::LastValue];
    let names: Vec<String> = PENALTIES
        .iter()
        .map(|p| format!("ridge(penalty={p})"))
        .chain(candidates.iter().map(Params::name))
        .collect();
    let mut mae_sum = vec![0.0; names.len()];
    // Out-of-sample residuals of every candidate, with the row index.
    let mut residuals_by: Vec<Vec<(usize, f64)>> = vec![Vec::new(); names.len()];
    let mut folds = Vec::new();
    let validation = |k: usize| (k + 1) * chunk..((k + 2) * chunk).min(n);
    let train_end = |k: usize| validation(k).start.saturating_sub(spec.horizon_steps);
    // The folds' ridge fits are independent: one thread each.
    let fits: Vec<Result<Vec<Params>, ModelError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..FOLDS)
            .map(|k| {
                let end = train_end(k);
                s.spawn(move || {
                    PENALTIES
                        .iter()
                        .map(|&p| fit_ridge(&d.rows[..end], &d.targets[..end], p))
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(joined).collect()
    });
    for (k, fit) in fits.into_iter().enumerate() {
        let (val, train_end) = (validation(k), train_end(k));
        let y = &d.targets[..train_end];
        let actual = &d.targets[val.clone()];
        let seasonal: Vec<f64> = d.rows[..train_end].iter().map(|r| r[8]).collect();
        let scale = errors(&seasonal, y, 1.0).mae;
        let mut fold_models = fit?;
        fold_models.extend(candidates.iter().cloned());
        let mut per = Vec::new();
        for (c, params) in fold_models.iter().enumerate() {
            let m = params.model();
            let pred: Vec<f64> = d.rows[val.clone()].iter().map(|r| m.predict(r)).collect();
            let e = errors(&pred, actual, scale);
            mae_sum[c] += e.mae;
            residuals_by[c].extend(
                val.clone()
                    .zip(actual.iter().zip(&pred).map(|(a, p)| a - p)),
            );
            per.push(e);
        }
        let best_ridge = (0..PENALTIES.len())
            .min_by(|&a, &b| per[a].mae.total_cmp(&per[b].mae))
            .unwrap_or(0);
        folds.push(FoldReport {
            fold: k + 1,
            train_rows: train_end,
            validation_rows: val.len(),
            model: per[best_ridge].clone(),
            seasonal_naive: per[PENALTIES.len()].clone(),
            last_value: per[PENALTIES.len() + 1].clone(),
        });
        progress();
    }
    let best = (0..names.len())
        .min_by(|&a, &b| mae_sum[a].total_cmp(&mae_sum[b]))
        .unwrap_or(0);
    let margin_of = |c: usize| {
        let (rows, res): (Vec<Vec<f64>>, Vec<f64>) = residuals_by[c]
            .iter()
            .map(|&(i, r)| (d.rows[i].clone(), r))
            .unzip();
        Margin::fit(&rows, &res)
    };
    // The final fit and the two margins are independent too.
    let (refit, margin, no_change_margin) = std::thread::scope(|s| {
        let refit = (best < PENALTIES.len())
            .then(|| s.spawn(move || fit_ridge(&d.rows, &d.targets, PENALTIES[best])));
        let no_change = s.spawn(|| margin_of(PENALTIES.len() + 1));
        let margin = margin_of(best);
        (refit.map(joined), margin, joined(no_change))
    });
    let params = match refit {
        Some(fit) => fit?,
        None => candidates.swap_remove(best - PENALTIES.len()),
    };
    let (margin, no_change_margin) = (margin?, no_change_margin?);
    progress();
    Ok(Trained {
        params,
        folds,
        margin,
        no_change_margin,
        daily_cycle: d.daily_cycle,
        candidates: names
            .into_iter()
            .zip(mae_sum.iter().map(|s| s / FOLDS as f64))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_targets_the_peak_of_the_horizon_after_it() {
        let spec = FeatureSpec::new(60, 3);
        let values: Vec<f64> = (0..100).map(|k| ((k * 37) % 11) as f64).collect();
        let d = dataset(
            &spec,
            &[Series {
                t0: 0,
                values: &values,
            }],
        );
        // Rows start after the warm-up; the last rows are the ones a full horizon follows.
        let first = spec.warmup() - 1;
        assert_eq!(d.rows.len(), values.len() - spec.horizon_steps - first);
        for (r, (row, y)) in d.rows.iter().zip(&d.targets).enumerate() {
            let i = first + r;
            assert_eq!(row[0], values[i], "row {i} ends at value {i}");
            let peak = values[i + 1..=i + 3]
                .iter()
                .copied()
                .fold(f64::MIN, f64::max);
            assert_eq!(
                *y,
                peak,
                "row {i}: the peak of values {}..={}",
                i + 1,
                i + 3
            );
        }
    }
}
