//! The model kinds behind one trait and one registry `match`: ridge regression
//! on standardized features (fitted with `linfa-elasticnet`, l1 ratio 0), and
//! the two baselines every forecast must beat, seasonal naive (the value a day
//! before the target time) and last value.

use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::file::ModelError;

/// Feature indexes the baselines read (see `FeatureSpec::new`).
const LAST: usize = 0;
const DAY_AGO: usize = 8;

/// The model kinds this build knows, as model files name them.
pub const KINDS: [&str; 3] = ["ridge", "seasonal-naive", "last-value"];

/// A fitted model: one prediction per feature row.
pub trait Model {
    fn predict(&self, row: &[f64]) -> f64;
}

/// Per-feature standardization learned from the training rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Scaling {
    pub fn fit(rows: &[Vec<f64>]) -> Scaling {
        let n = rows.len().max(1) as f64;
        let width = rows.first().map_or(0, Vec::len);
        let mut mean = vec![0.0; width];
        for r in rows {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += v / n;
            }
        }
        let mut std = vec![0.0; width];
        for r in rows {
            for ((s, v), m) in std.iter_mut().zip(r).zip(&mean) {
                *s += (v - m) * (v - m) / n;
            }
        }
        let std = std
            .into_iter()
            .map(|v: f64| if v.sqrt() > 1e-12 { v.sqrt() } else { 1.0 })
            .collect();
        Scaling { mean, std }
    }

    fn apply<'a>(&'a self, row: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
        row.iter()
            .zip(&self.mean)
            .zip(&self.std)
            .map(|((v, m), s)| (v - m) / s)
    }
}

/// The fitted parameters of every kind (the model file's `params`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Params {
    Ridge {
        penalty: f64,
        scaling: Scaling,
        intercept: f64,
        weights: Vec<f64>,
    },
    SeasonalNaive,
    LastValue,
}

struct Ridge<'a> {
    scaling: &'a Scaling,
    intercept: f64,
    weights: &'a [f64],
}

impl Model for Ridge<'_> {
    fn predict(&self, row: &[f64]) -> f64 {
        self.intercept
            + self
                .scaling
                .apply(row)
                .zip(self.weights)
                .map(|(v, w)| v * w)
                .sum::<f64>()
    }
}

struct Column(usize);

impl Model for Column {
    fn predict(&self, row: &[f64]) -> f64 {
        row[self.0]
    }
}

impl Params {
    /// The registry: one `match` from parameters to a model.
    pub fn model(&self) -> Box<dyn Model + '_> {
        match self {
            Params::Ridge {
                scaling,
                intercept,
                weights,
                ..
            } => Box::new(Ridge {
                scaling,
                intercept: *intercept,
                weights,
            }),
            Params::SeasonalNaive => Box::new(Column(DAY_AGO)),
            Params::LastValue => Box::new(Column(LAST)),
        }
    }

    /// The kind without its settings: one of [`KINDS`].
    pub fn family(&self) -> &'static str {
        match self {
            Params::Ridge { .. } => "ridge",
            Params::SeasonalNaive => "seasonal-naive",
            Params::LastValue => "last-value",
        }
    }

    /// Every number of the parameters, with its path (for the finiteness check).
    pub fn numbers(&self) -> Vec<(String, f64)> {
        let Params::Ridge {
            penalty,
            scaling,
            intercept,
            weights,
        } = self
        else {
            return Vec::new();
        };
        let indexed = |name: &str, v: &[f64]| -> Vec<(String, f64)> {
            v.iter()
                .enumerate()
                .map(|(i, x)| (format!("{name}[{i}]"), *x))
                .collect()
        };
        let mut all = vec![
            ("penalty".to_string(), *penalty),
            ("intercept".to_string(), *intercept),
        ];
        all.extend(indexed("weights", weights));
        all.extend(indexed("scaling.mean", &scaling.mean));
        all.extend(indexed("scaling.std", &scaling.std));
        all
    }

    pub fn name(&self) -> String {
        match self {
            Params::Ridge { penalty, .. } => format!("ridge(penalty={penalty})"),
            Params::SeasonalNaive => "seasonal-naive".into(),
            Params::LastValue => "last-value".into(),
        }
    }
}

/// Fits ridge regression of `y` on `rows`.
pub fn fit_ridge(rows: &[Vec<f64>], y: &[f64], penalty: f64) -> Result<Params, ModelError> {
    let scaling = Scaling::fit(rows);
    let width = scaling.mean.len();
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| scaling.apply(r).collect::<Vec<_>>())
        .collect();
    let x = Array2::from_shape_vec((rows.len(), width), flat)
        .map_err(|e| ModelError::Fit(format!("ridge fit: feature rows: {e}")))?;
    let data = Dataset::new(x, Array1::from(y.to_vec()));
    let fitted = ElasticNet::ridge()
        .penalty(penalty)
        .max_iterations(1000)
        .tolerance(1e-4)
        .fit(&data)
        .map_err(|e| ModelError::Fit(format!("ridge fit failed: {e}")))?;
    Ok(Params::Ridge {
        penalty,
        scaling,
        intercept: fitted.intercept(),
        weights: fitted.hyperplane().to_vec(),
    })
}
