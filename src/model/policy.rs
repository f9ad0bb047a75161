//! A policy's forecast block resolved: its model file loaded (relative to the
//! policy file), checked against the policy's horizon, and the gate settings
//! with their defaults. Used alike by the simulator and the live controller.

use std::path::Path;
use std::sync::Arc;

use super::file::ModelFile;
use crate::policy::{ForecastMode, ForecastSpec};

/// The gate's defaults: 30 % MAPE over the last hour.
pub const DEFAULT_MAX_MAPE_PERCENT: f64 = 30.0;
pub const DEFAULT_GATE_WINDOW_S: i64 = 3600;

#[derive(Clone, Debug)]
pub struct PolicyModel {
    pub model: Arc<ModelFile>,
    pub mode: ForecastMode,
    pub max_mape_percent: f64,
    pub gate_window_s: i64,
    /// Targets are raised by this many percent while the gate is open.
    pub relax_targets_percent: f64,
    /// The model file's path, as the reasons name it.
    pub label: String,
}

impl PolicyModel {
    /// `Ok(None)` when the policy has no forecast or turns it off.
    pub fn load(
        policy_file: Option<&Path>,
        spec: Option<&ForecastSpec>,
    ) -> Result<Option<Self>, String> {
        let Some(f) = spec.filter(|f| f.mode != ForecastMode::Off) else {
            return Ok(None);
        };
        let path = match policy_file.filter(|p| p.exists()).and_then(Path::parent) {
            Some(dir) if Path::new(&f.model).is_relative() => dir.join(&f.model),
            _ => Path::new(&f.model).to_path_buf(),
        };
        let model = ModelFile::load(&path)?;
        if let Some(h) = &f.horizon {
            if crate::duration::parse_ms(h)? / 1000 != model.horizon_s {
                return Err(format!(
                    "forecast.horizon {h}, but {} forecasts {} s ahead",
                    path.display(),
                    model.horizon_s
                ));
            }
        }
        let gate_window_s = match &f.gate_window {
            Some(w) => crate::duration::parse_ms(w)? / 1000,
            None => DEFAULT_GATE_WINDOW_S,
        };
        Ok(Some(PolicyModel {
            model: Arc::new(model),
            mode: f.mode,
            max_mape_percent: f.max_mape_percent.unwrap_or(DEFAULT_MAX_MAPE_PERCENT),
            gate_window_s,
            relax_targets_percent: f.relax_targets_percent.unwrap_or(0.0),
            label: path.display().to_string(),
        }))
    }
}
