//! A policy's forecast block resolved: its model file loaded (relative to the
//! policy file), checked against the policy's horizon, and the gate settings
//! with their defaults; and the forecast at work for that policy (forecaster
//! and accuracy gate fed together). Used alike by the simulator and the live
//! controller.

use std::path::Path;
use std::sync::Arc;

use super::file::{ModelError, ModelFile};
use super::forecaster::{Ahead, Forecaster};
use super::gate::AccuracyGate;
use crate::policy::{ForecastMode, ForecastSpec, RelaxTargets, MAX_RELAX_TARGETS_PERCENT};

/// The gate's defaults: 30 % MAPE over the last hour.
pub const DEFAULT_MAX_MAPE_PERCENT: f64 = 30.0;
pub const DEFAULT_GATE_WINDOW_S: i64 = 3600;

#[derive(Clone, Debug)]
pub struct PolicyModel {
    pub model: Arc<ModelFile>,
    pub mode: ForecastMode,
    pub max_mape_percent: f64,
    pub gate_window_s: i64,
    /// Targets are raised by this many percent while the gate is open
    /// (`Fixed`), or by what the forecast earned, at most this (`Earned`).
    pub relax_targets_percent: f64,
    pub relax: RelaxTargets,
    /// The model file's path, as the reasons name it.
    pub label: String,
}

impl PolicyModel {
    /// `Ok(None)` when the policy has no forecast or turns it off.
    pub fn load(
        policy_file: Option<&Path>,
        spec: Option<&ForecastSpec>,
    ) -> Result<Option<Self>, ModelError> {
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
                return Err(ModelError::Forecast {
                    field: "horizon",
                    message: format!(
                        "{h}, but {} forecasts {} s ahead",
                        path.display(),
                        model.horizon_s
                    ),
                });
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
            relax_targets_percent: f.relax_targets_percent.unwrap_or(match f.relax_targets {
                Some(RelaxTargets::Earned) => MAX_RELAX_TARGETS_PERCENT,
                _ => 0.0,
            }),
            relax: f.relax_targets.unwrap_or_default(),
            label: path.display().to_string(),
        }))
    }

    /// True if the policy may act on this model's forecasts: the model's
    /// training data had a daily cycle.
    pub fn may_act(&self) -> bool {
        self.model.daily_cycle.detected()
    }

    /// Why the policy never acts on this model's forecasts, if it never does.
    pub fn never_acts(&self) -> Option<String> {
        (!self.may_act()).then(|| self.model.daily_cycle.describe())
    }
}

/// A policy's forecast at work: every value seen feeds the forecaster and the
/// accuracy gate, and each new forecast is handed to the gate to be scored.
/// A model whose training data had no daily cycle is run and scored alike
/// (its scores stay visible) but never acted on.
pub struct RunningForecast {
    pub setup: PolicyModel,
    forecaster: Forecaster,
    gate: AccuracyGate,
    last_due: i64,
    /// The relaxation earned so far (`RelaxTargets::Earned`), percent.
    earned: f64,
}

impl RunningForecast {
    pub fn new(setup: PolicyModel) -> Self {
        RunningForecast {
            forecaster: Forecaster::new(setup.model.clone()),
            gate: AccuracyGate::new(setup.max_mape_percent, setup.gate_window_s),
            last_due: i64::MIN,
            earned: 0.0,
            setup,
        }
    }

    /// The value at `t` (times must not go back); the forecast made at the
    /// latest step, once the model has its warm-up.
    pub fn observe(&mut self, t: i64, value: f64) -> Option<Ahead> {
        self.forecaster.observe(t, value);
        if self.gate.actual(t, value) && self.setup.relax == RelaxTargets::Earned {
            self.earned = self
                .gate
                .earned_relax_percent(self.setup.relax_targets_percent);
        }
        let ahead = self.forecaster.forecast()?;
        if ahead.due != self.last_due {
            self.gate.forecast(&ahead);
            self.last_due = ahead.due;
        }
        Some(ahead)
    }

    /// True while the policy stays reactive: the model's training data had
    /// no daily cycle, or the accuracy gate has fallen back.
    pub fn gated(&self) -> bool {
        !self.setup.may_act() || !self.gate.is_open()
    }

    /// How many percent targets are raised by while the gate is open: the
    /// policy's fixed figure, or what the forecast has earned so far.
    pub fn relax_targets_percent(&self) -> f64 {
        match self.setup.relax {
            RelaxTargets::Fixed => self.setup.relax_targets_percent,
            RelaxTargets::Earned => self.earned,
        }
    }

    pub fn gate(&self) -> &AccuracyGate {
        &self.gate
    }

    /// What the reasons say: the forecast `upper` (in the policy's units) due
    /// in `within_s`, or why the gate is closed.
    pub fn label(&self, upper: f64, within_s: i64) -> String {
        if let Some(why) = self.setup.never_acts() {
            format!("forecast not acted on: {why} ({})", self.setup.label)
        } else if self.gated() {
            format!(
                "forecast gated off: {} ({})",
                self.gate.describe(),
                self.setup.label
            )
        } else {
            let earned = match self.setup.relax {
                RelaxTargets::Fixed => String::new(),
                RelaxTargets::Earned => format!("; {}", self.gate.describe_earned()),
            };
            format!(
                "forecast peak {upper:.1} within {within_s} s ({}){earned}",
                self.setup.label
            )
        }
    }
}
