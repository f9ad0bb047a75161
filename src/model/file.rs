//! The model file: format version, kind, feature specification, horizon,
//! training data summary, validation metrics and the fitted parameters (JSON).
//! Loading checks the format version and that this build computes exactly the
//! features the model was trained on; a mismatch is an error, never a guess.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cycle::DailyCycle;
use super::features::FeatureSpec;
use super::kinds::Params;
use super::margin::Margin;
use super::train::{FoldReport, Trained};

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

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))
    }

    pub fn parse(text: &str, source: &str) -> Result<ModelFile, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{source}: not a model file: {e}"))?;
        match v.get("formatVersion").and_then(serde_json::Value::as_u64) {
            Some(n) if n == u64::from(FORMAT_VERSION) => {}
            Some(n) => {
                return Err(format!(
                    "{source}: formatVersion {n}, but this build reads version {FORMAT_VERSION}: retrain with `scalepilot train`"
                ))
            }
            None => return Err(format!("{source}: formatVersion: missing")),
        }
        let m: ModelFile = serde_path_to_error::deserialize(v)
            .map_err(|e| format!("{source}: {}: {}", e.path(), e.inner()))?;
        let ours = FeatureSpec::new(m.features.step_s, m.features.horizon_steps);
        if ours.names != m.features.names {
            return Err(format!(
                "{source}: features {:?} differ from what this build computes ({:?}): retrain",
                m.features.names, ours.names
            ));
        }
        for (field, params) in [
            ("params", &m.params),
            ("margin.spread", &m.margin.spread),
            ("noChangeMargin.spread", &m.no_change_margin.spread),
        ] {
            if let super::kinds::Params::Ridge {
                weights, scaling, ..
            } = params
            {
                if weights.len() != ours.names.len() || scaling.mean.len() != ours.names.len() {
                    return Err(format!(
                        "{source}: {field}: {} weights for {} features",
                        weights.len(),
                        ours.names.len()
                    ));
                }
            }
        }
        Ok(m)
    }

    pub fn load(path: &Path) -> Result<ModelFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{dataset, train, Series};

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
        let e = ModelFile::parse(&old, "m.json").unwrap_err();
        assert!(
            e.contains("m.json: formatVersion 1") && e.contains("retrain"),
            "{e}"
        );
        let renamed = text.replace("\"lag5\"", "\"lag7\"");
        let e = ModelFile::parse(&renamed, "m.json").unwrap_err();
        assert!(e.contains("differ from what this build computes"), "{e}");
        assert!(ModelFile::parse("{}", "m.json")
            .unwrap_err()
            .contains("formatVersion: missing"));
    }
}
