//! The model file: format version, kind, feature specification, horizon,
//! training data summary, validation metrics and the fitted parameters (JSON).
//! Loading checks the format version and that this build computes exactly the
//! features the model was trained on; a mismatch is an error, never a guess.
//! Saving and loading both check the file's sense: a kind this build knows
//! and that matches the parameters, a step and horizon in range, and finite
//! parameters (a fit on values near `f64::MAX` overflows: it is refused, not
//! written as `null`s). Validation errors may be undefined (NaN, written as
//! `null`): they are a report, not part of the model.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cycle::DailyCycle;
use super::features::FeatureSpec;
use super::kinds::Params;
use super::margin::Margin;
use super::train::{FoldReport, Trained};

/// The longest step between samples a model may have: 7 days.
pub const MAX_STEP_S: i64 = 7 * 86_400;
/// The furthest a model may forecast: 7 days ahead.
pub const MAX_HORIZON_S: i64 = 7 * 86_400;

/// What can go wrong with a model: reading, writing, its contents, fitting.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: cannot write: {source}")]
    Write {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not a model file: {source}")]
    NotJson {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    /// A field that is missing, of the wrong type or out of range.
    #[error("{file}: {field}: {message}")]
    Field {
        file: String,
        field: String,
        message: String,
    },
    /// The training could not fit a model.
    #[error("{0}")]
    Fit(String),
    /// The policy's forecast block does not fit its model.
    #[error("forecast.{field}: {message}")]
    Forecast {
        field: &'static str,
        message: String,
    },
    #[error("forecast: {0}")]
    Duration(#[from] crate::duration::DurationError),
}

impl ModelError {
    fn field(file: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError::Field {
            file: file.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The format this build writes and reads.
/// Version 2: the target is the peak over the horizon and the margin a spread model.
/// Version 3: the daily-cycle check of the training data.
pub const FORMAT_VERSION: u32 = 3;

/// What the model was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingSummary {
    pub sources: Vec<String>,
    /// FNV-1a of every value's bits, in order: the same data gives the same hash.
    pub hash: String,
    pub start: i64,
    pub end: i64,
    pub interval_s: i64,
    pub samples: usize,
    pub rows: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelFile {
    pub format_version: u32,
    pub kind: String,
    pub features: FeatureSpec,
    pub horizon_s: i64,
    pub training: TrainingSummary,
    pub validation: Vec<FoldReport>,
    /// Mean validation MAE of every candidate.
    pub candidates: Vec<(String, f64)>,
    /// Added to every prediction: learned from the validation residuals.
    pub margin: Margin,
    /// The margin of the no-change forecast (see `AccuracyGate`).
    pub no_change_margin: Margin,
    /// Whether the training data repeated from day to day: forecasts act only if it did.
    pub daily_cycle: DailyCycle,
    pub params: Params,
}

/// FNV-1a over the values' bits.
pub fn data_hash<'a>(values: impl IntoIterator<Item = &'a f64>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_bits().to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

impl ModelFile {
    /// The file of a trained model, with its features and training data.
    pub fn new(trained: Trained, features: FeatureSpec, training: TrainingSummary) -> ModelFile {
        ModelFile {
            format_version: FORMAT_VERSION,
            kind: trained.params.name(),
            horizon_s: features.horizon_steps as i64 * features.step_s,
            features,
            training,
            validation: trained.folds,
            candidates: trained.candidates,
            margin: trained.margin,
            no_change_margin: trained.no_change_margin,
            daily_cycle: trained.daily_cycle,
            params: trained.params,
        }
    }

    /// The point forecast for a feature row (the expected peak), never negative.
    pub fn point(&self, row: &[f64]) -> f64 {
        self.params.model().predict(row).max(0.0)
    }

    /// The upper forecast: the point forecast plus the row's margin.
    pub fn predict(&self, row: &[f64]) -> f64 {
        (self.params.model().predict(row) + self.margin.of(row)).max(0.0)
    }

    /// Writes the model file; a model that does not pass [`ModelFile::check`]
    /// (e.g. parameters that overflowed) is refused and nothing is written.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let file = path.display().to_string();
        self.check(&file)?;
        let text = serde_json::to_string_pretty(self).map_err(|e| ModelError::NotJson {
            file: file.clone(),
            source: e,
        })?;
        std::fs::write(path, text + "\n").map_err(|e| ModelError::Write { file, source: e })
    }

    /// Parses and checks a model file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<ModelFile, ModelError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| ModelError::NotJson {
            file: file.to_string(),
            source: e,
        })?;
        let version = v.get("formatVersion");
        match version {
            None => return Err(ModelError::field(file, "formatVersion", "missing")),
            Some(serde_json::Value::Number(n)) => match n.as_u64() {
                Some(n) if n == u64::from(FORMAT_VERSION) => {}
                _ => {
                    return Err(ModelError::field(
                        file,
                        "formatVersion",
                        format!("{n}, but this build reads version {FORMAT_VERSION}: retrain with `scalepilot train`"),
                    ))
                }
            },
            Some(other) => {
                return Err(ModelError::field(
                    file,
                    "formatVersion",
                    format!(
                        "wrong type: {} {other}, expected the number {FORMAT_VERSION}",
                        json_type(other)
                    ),
                ))
            }
        }
        let m: ModelFile = serde_path_to_error::deserialize(v)
            .map_err(|e| ModelError::field(file, e.path().to_string(), e.inner().to_string()))?;
        m.check(file)?;
        Ok(m)
    }

    pub fn load(path: &Path) -> Result<ModelFile, ModelError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Read {
            file: file.clone(),
            source: e,
        })?;
        Self::parse(&text, &file)
    }

    /// Checks that the model makes sense and this build can run it: a kind
    /// it knows that matches the parameters, a step of 1 s to
    /// [`MAX_STEP_S`], a horizon of whole steps up to [`MAX_HORIZON_S`], the
    /// features this build computes, and finite parameters. `file` names the
    /// model in errors.
    pub fn check(&self, file: &str) -> Result<(), ModelError> {
        let bad = |field: &str, message: String| Err(ModelError::field(file, field, message));
        let family = self.kind.split('(').next().unwrap_or_default();
        if !super::kinds::KINDS.contains(&family) {
            return bad(
                "kind",
                format!(
                    "{:?}: not a kind this build knows ({})",
                    self.kind,
                    super::kinds::KINDS.join(", ")
                ),
            );
        }
        if family != self.params.family() {
            return bad(
                "kind",
                format!("{:?}, but params are {}", self.kind, self.params.family()),
            );
        }
        let step_s = self.features.step_s;
        if !(1..=MAX_STEP_S).contains(&step_s) {
            return bad(
                "features.stepS",
                format!("{step_s}: must be 1 to {MAX_STEP_S} seconds"),
            );
        }
        let steps = self.features.horizon_steps;
        let horizon = i64::try_from(steps)
            .ok()
            .and_then(|n| n.checked_mul(step_s))
            .filter(|h| (1..=MAX_HORIZON_S).contains(h));
        let Some(horizon) = horizon else {
            return bad(
                "features.horizonSteps",
                format!(
                    "{steps} steps of {step_s} s: the horizon must be 1 step to {MAX_HORIZON_S} s"
                ),
            );
        };
        if self.horizon_s != horizon {
            return bad(
                "horizonS",
                format!(
                    "{}, but the features forecast {steps} steps of {step_s} s = {horizon} s ahead",
                    self.horizon_s
                ),
            );
        }
        let ours = FeatureSpec::new(step_s, steps);
        if ours.names != self.features.names {
            return bad(
                "features.names",
                format!(
                    "{:?} differ from what this build computes ({:?}): retrain",
                    self.features.names, ours.names
                ),
            );
        }
        for (field, params) in [
            ("params", &self.params),
            ("margin.spread", &self.margin.spread),
            ("noChangeMargin.spread", &self.no_change_margin.spread),
        ] {
            if let super::kinds::Params::Ridge {
                weights, scaling, ..
            } = params
            {
                let n = ours.names.len();
                if weights.len() != n || scaling.mean.len() != n || scaling.std.len() != n {
                    return bad(
                        field,
                        format!("{} weights for {} features", weights.len(), n),
                    );
                }
            }
        }
        if let Some((field, v)) = self.non_finite() {
            return bad(
                &field,
                format!("{v} is not a finite number: the fit overflowed (load values near the largest float?); scale the trace down and retrain"),
            );
        }
        for (field, params) in [
            ("params", &self.params),
            ("margin.spread", &self.margin.spread),
            ("noChangeMargin.spread", &self.no_change_margin.spread),
        ] {
            if let super::kinds::Params::Ridge { scaling, .. } = params {
                if let Some(i) = scaling.std.iter().position(|s| *s <= 0.0) {
                    return bad(
                        &format!("{field}.scaling.std[{i}]"),
                        format!("{}: must be positive", scaling.std[i]),
                    );
                }
            }
        }
        Ok(())
    }

    /// The first parameter that is not a finite number, with its path.
    fn non_finite(&self) -> Option<(String, f64)> {
        let mut all: Vec<(String, f64)> = Vec::new();
        for (field, params) in [
            ("params", &self.params),
            ("margin.spread", &self.margin.spread),
            ("noChangeMargin.spread", &self.no_change_margin.spread),
        ] {
            all.extend(
                params
                    .numbers()
                    .into_iter()
                    .map(|(f, v)| (format!("{field}.{f}"), v)),
            );
        }
        for (field, m) in [
            ("margin", &self.margin),
            ("noChangeMargin", &self.no_change_margin),
        ] {
            all.push((format!("{field}.quantile"), m.quantile));
            all.push((format!("{field}.factor"), m.factor));
            all.push((format!("{field}.floor"), m.floor));
        }
        for (i, (_, mae)) in self.candidates.iter().enumerate() {
            all.push((format!("candidates[{i}]"), *mae));
        }
        all.push((
            "dailyCycle.minStrength".into(),
            self.daily_cycle.min_strength,
        ));
        if let Some(s) = self.daily_cycle.strength {
            all.push(("dailyCycle.strength".into(), s));
        }
        all.into_iter().find(|(_, v)| !v.is_finite())
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{dataset, train, Params, Series};

    fn trained() -> ModelFile {
        let values: Vec<f64> = (0..3000)
            .map(|k| 100.0 + 40.0 * (k as f64 * std::f64::consts::TAU / 100.0).sin())
            .collect();
        let spec = FeatureSpec::new(300, 1);
        let d = dataset(
            &spec,
            &[Series {
                t0: 0,
                values: &values,
            }],
        );
        let t = train(&d, &spec, || {}).unwrap();
        ModelFile::new(
            t,
            spec,
            TrainingSummary {
                sources: vec!["sine".into()],
                hash: data_hash(&values),
                start: 0,
                end: 900_000,
                interval_s: 300,
                samples: values.len(),
                rows: d.rows.len(),
            },
        )
    }

    #[test]
    fn save_load_round_trip_predicts_the_same() {
        let m = trained();
        let dir = std::env::temp_dir().join(format!("scalepilot-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.json");
        m.save(&path).unwrap();
        let back = ModelFile::load(&path).unwrap();
        assert_eq!(
            (&back.kind, &back.features, back.horizon_s),
            (&m.kind, &m.features, m.horizon_s)
        );
        assert_eq!(back.training, m.training);
        for k in 0..50 {
            let row: Vec<f64> = (0..m.features.names.len())
                .map(|i| (i * k) as f64 % 17.0)
                .collect();
            let (a, b) = (back.predict(&row), m.predict(&row));
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
        }
        assert!(
            m.validation[0].model.mae < m.validation[0].last_value.mae,
            "learns the cycle"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn another_format_or_other_features_are_errors() {
        let m = trained();
        let text = serde_json::to_string(&m).unwrap();
        let old = text.replace(
            &format!("\"formatVersion\":{FORMAT_VERSION}"),
            "\"formatVersion\":1",
        );
        let e = ModelFile::parse(&old, "m.json").unwrap_err().to_string();
        assert!(
            e.contains("m.json: formatVersion: 1, but this build reads version 3")
                && e.contains("retrain"),
            "{e}"
        );
        let renamed = text.replace("\"lag5\"", "\"lag7\"");
        let e = ModelFile::parse(&renamed, "m.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("differ from what this build computes"), "{e}");
        let e = ModelFile::parse("{}", "m.json").unwrap_err().to_string();
        assert_eq!(e, "m.json: formatVersion: missing");
    }

    /// The model's JSON with `edit` applied to it, parsed back.
    fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<ModelFile, String> {
        let mut v = serde_json::to_value(trained()).unwrap();
        edit(&mut v);
        ModelFile::parse(&v.to_string(), "m.json").map_err(|e| e.to_string())
    }

    #[test]
    fn nonsense_fields_are_errors_naming_the_field() {
        assert!(edited(|_| {}).is_ok());
        type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: [(&str, Edit); 9] = [
            (
                "m.json: formatVersion: wrong type: a string \"3\", expected the number 3",
                Box::new(|v| v["formatVersion"] = "3".into()),
            ),
            (
                "m.json: formatVersion: wrong type: null null",
                Box::new(|v| v["formatVersion"] = serde_json::Value::Null),
            ),
            (
                "m.json: formatVersion: -3, but this build reads version 3",
                Box::new(|v| v["formatVersion"] = (-3).into()),
            ),
            (
                "m.json: kind: \"neural\": not a kind this build knows (ridge, seasonal-naive, last-value)",
                Box::new(|v| v["kind"] = "neural".into()),
            ),
            (
                "m.json: kind: \"last-value\", but params are ridge",
                Box::new(|v| v["kind"] = "last-value".into()),
            ),
            (
                "m.json: features.stepS: 0: must be 1 to 604800 seconds",
                Box::new(|v| v["features"]["stepS"] = 0.into()),
            ),
            (
                "m.json: horizonS: -300, but the features forecast 1 steps of 300 s = 300 s ahead",
                Box::new(|v| v["horizonS"] = (-300).into()),
            ),
            (
                "m.json: features.horizonSteps: 9999999999 steps of 300 s: the horizon must be 1 step to 604800 s",
                Box::new(|v| v["features"]["horizonSteps"] = 9_999_999_999u64.into()),
            ),
            (
                "m.json: features.horizonSteps: 0 steps of 300 s",
                Box::new(|v| v["features"]["horizonSteps"] = 0.into()),
            ),
        ];
        for (expected, edit) in cases {
            let e = edited(edit).unwrap_err();
            assert!(e.starts_with(expected), "expected {expected:?}, got {e:?}");
        }
    }

    #[test]
    fn a_model_that_overflowed_is_refused_not_written_as_nulls() {
        let mut m = trained();
        if let Params::Ridge { intercept, .. } = &mut m.params {
            *intercept = f64::INFINITY;
        }
        let dir = std::env::temp_dir().join(format!("scalepilot-inf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.json");
        let e = m.save(&path).unwrap_err().to_string();
        assert!(
            e.contains("params.intercept: inf is not a finite number"),
            "{e}"
        );
        assert!(!path.exists(), "nothing is written");
        let mut m = trained();
        m.margin.factor = f64::NAN;
        let e = m.save(&path).unwrap_err().to_string();
        assert!(
            e.contains("margin.factor: NaN is not a finite number"),
            "{e}"
        );
        assert!(!path.exists());
        // Undefined validation errors are a report, not the model: they round-trip.
        let mut m = trained();
        m.validation[0].model.mase = f64::NAN;
        m.save(&path).unwrap();
        let back = ModelFile::load(&path).unwrap();
        assert!(back.validation[0].model.mase.is_nan());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn training_on_values_near_the_largest_float_writes_no_model() {
        let values: Vec<f64> = (0..3000)
            .map(|k| 1e308 * (1.0 + 0.5 * (k as f64 * std::f64::consts::TAU / 100.0).sin()))
            .collect();
        let spec = FeatureSpec::new(300, 1);
        let d = dataset(
            &spec,
            &[Series {
                t0: 0,
                values: &values,
            }],
        );
        let Ok(t) = train(&d, &spec, || {}) else {
            return; // refusing to fit is as good
        };
        let m = ModelFile::new(
            t,
            spec,
            TrainingSummary {
                sources: vec!["huge".into()],
                hash: data_hash(&values),
                start: 0,
                end: 900_000,
                interval_s: 300,
                samples: values.len(),
                rows: d.rows.len(),
            },
        );
        let e = m.check("m.json").unwrap_err().to_string();
        assert!(e.contains("is not a finite number"), "{e}");
    }
}
