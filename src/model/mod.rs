//! Learned forecasts: feature construction without look-ahead, model kinds
//! behind one trait (ridge regression with `linfa-elasticnet`, and the
//! seasonal-naive and last-value baselines), rolling-origin cross-validation,
//! the daily-cycle check of the training data, the versioned model file, the
//! accuracy gate, and a forecaster that runs a model over a live or replayed
//! series.
//!
//! Pure: imports serde and linfa; never `kube` or `rdkafka`.

mod cycle;
mod features;
mod file;
mod forecaster;
mod gate;
mod kinds;
mod margin;
mod policy;
mod train;

pub use cycle::DailyCycle;
pub use features::{ewma_series, FeatureSpec};
pub use file::{
    data_hash, ModelError, ModelFile, TrainingSummary, FORMAT_VERSION, MAX_HORIZON_S, MAX_STEP_S,
};
pub use forecaster::{Ahead, Forecaster};
pub use gate::AccuracyGate;
pub use kinds::{fit_ridge, Model, Params, Scaling, KINDS};
pub use margin::Margin;
pub use policy::{PolicyModel, RunningForecast};
pub use train::{dataset, peak_ahead, train, Dataset, Errors, FoldReport, Series, Trained};
