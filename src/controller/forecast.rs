//! Forecasts in the live controller: per predictive policy, its model (loaded
//! relative to the policy file; a model that cannot be loaded is an error in
//! the log and the policy stays reactive), a forecaster fed with the observed
//! value of the policy's first metric on every tick, and the accuracy gate.

use crate::decide::{Forecast, Observation};
use crate::model::{PolicyModel, RunningForecast};
use crate::policy::ForecastSpec;
use std::path::Path;

/// The forecast state of one target.
pub struct ForecastState(RunningForecast);

/// Loads the model of a policy's forecast block; `Ok(None)` when it has none.
pub fn load(
    policy_file: Option<&Path>,
    spec: Option<&ForecastSpec>,
) -> Result<Option<ForecastState>, crate::model::ModelError> {
    let setup = PolicyModel::load(policy_file, spec)?;
    if let Some((s, why)) = setup.as_ref().and_then(|s| Some((s, s.never_acts()?))) {
        tracing::warn!(model = %s.label, cycle = %why, "the policy stays reactive: its model saw no daily cycle");
    }
    Ok(setup.map(|setup| ForecastState(RunningForecast::new(setup))))
}

/// The total an observation measures: the sum of an External metric's
/// values, an Object metric's value, or the sum over pods.
fn total(o: &Observation) -> Option<f64> {
    let milli = if !o.values.is_empty() {
        o.values.iter().sum::<i64>()
    } else if let Some(v) = o.value {
        v
    } else if !o.pods.is_empty() {
        o.pods.values().filter_map(|p| p.value).sum()
    } else {
        return None;
    };
    Some(milli as f64 / 1000.0)
}

/// The observation scaled to a forecast total.
fn scaled(o: &Observation, now: f64, ahead: f64) -> Observation {
    let milli = (ahead * 1000.0).round() as i64;
    let mut f = o.clone();
    if !f.values.is_empty() {
        f.values = vec![milli];
    } else if f.value.is_some() {
        f.value = Some(milli);
    } else if now > 0.0 {
        let k = ahead / now;
        for p in f.pods.values_mut() {
            p.value = p.value.map(|v| (v as f64 * k).round() as i64);
            for c in p.containers.values_mut() {
                *c = (*c as f64 * k).round() as i64;
            }
        }
    }
    f
}

impl ForecastState {
    /// Feeds the value observed at `now_s` and returns the forecast input for
    /// the decision, with the forecast value (for the metrics) and whether the gate is closed.
    pub fn step(&mut self, now_s: i64, observations: &[Observation]) -> Option<(Forecast, f64)> {
        let first = observations.first().filter(|o| o.error.is_none())?;
        let now = total(first)?;
        let rf = &mut self.0;
        let a = rf.observe(now_s, now)?;
        let ahead = a.upper;
        let label = rf.label(ahead, a.due - now_s);
        let mut ahead_obs: Vec<Observation> = observations.to_vec();
        ahead_obs[0] = scaled(first, now, ahead);
        Some((
            Forecast {
                observations: ahead_obs,
                mode: rf.setup.mode,
                label,
                gated: rf.gated(),
                relax_targets_percent: rf.relax_targets_percent(),
                horizon_s: a.due - a.from,
            },
            ahead,
        ))
    }

    pub fn gated(&self) -> bool {
        self.0.gated()
    }

    pub fn mape(&self) -> Option<f64> {
        self.0.gate().mape()
    }

    pub fn loss_ratio(&self) -> Option<f64> {
        self.0.gate().loss_ratio()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ForecastMode, MetricSourceType, RelaxTargets};

    fn external(v: f64) -> Observation {
        Observation {
            source_type: MetricSourceType::External,
            name: "load".into(),
            pods: Default::default(),
            value: None,
            values: vec![(v * 1000.0) as i64],
            error: None,
        }
    }

    #[test]
    fn the_shipped_model_forecasts_after_its_warm_up() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/web-cpu.yaml");
        let spec = ForecastSpec {
            model: "../models/diurnal-5m.json".into(),
            horizon: Some("300s".into()),
            mode: ForecastMode::Max,
            max_mape_percent: None,
            gate_window: None,
            relax_targets_percent: None,
            relax_targets: None,
        };
        let mut fs = load(Some(&dir), Some(&spec)).unwrap().unwrap();
        let mut got = None;
        for k in 0..20 {
            got = fs.step(1_800_000_000 + k * 60, &[external(500.0)]);
        }
        let (f, ahead) = got.expect("a forecast after 15 steps");
        assert!(ahead > 0.0);
        assert!(f.gated, "no scores yet: the gate starts closed");
        assert!(f.label.contains("forecast gated off: MAPE"), "{}", f.label);
        assert_eq!(
            f.observations[0].values,
            vec![(ahead * 1000.0).round() as i64]
        );
        assert!(f.label.contains("diurnal-5m.json"), "{}", f.label);

        let wrong = ForecastSpec {
            horizon: Some("600s".into()),
            ..spec.clone()
        };
        let err = |s: &ForecastSpec| {
            load(Some(&dir), Some(s))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(&wrong).contains("300 s ahead"), "{}", err(&wrong));
        let missing = ForecastSpec {
            model: "nope.json".into(),
            ..spec
        };
        assert!(err(&missing).contains("nope.json"), "{}", err(&missing));
    }

    #[test]
    fn an_earned_relaxation_starts_at_nothing_and_a_fixed_one_at_its_figure() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/web-cpu.yaml");
        let spec = |relax: Option<RelaxTargets>, percent: Option<f64>| ForecastSpec {
            model: "../models/diurnal-5m.json".into(),
            horizon: None,
            mode: ForecastMode::Max,
            max_mape_percent: None,
            gate_window: None,
            relax_targets_percent: percent,
            relax_targets: relax,
        };
        let relax_after = |s: ForecastSpec, steps: i64| {
            let setup = PolicyModel::load(Some(&dir), Some(&s)).unwrap().unwrap();
            let ceiling = setup.relax_targets_percent;
            let mut rf = RunningForecast::new(setup);
            for k in 0..steps {
                rf.observe(1_800_000_000 + k * 60, 500.0);
            }
            (ceiling, rf.relax_targets_percent())
        };
        let relax = |s: ForecastSpec| relax_after(s, 20);
        assert_eq!(relax(spec(None, Some(12.0))), (12.0, 12.0));
        assert_eq!(
            relax(spec(Some(RelaxTargets::Earned), None)),
            (50.0, 0.0),
            "earned: at most 50 by default, nothing before a forecast is scored"
        );
        assert_eq!(relax(spec(Some(RelaxTargets::Earned), Some(20.0))).0, 20.0);
        // A level load: the upper bound (point plus margin) stays above the
        // peak that comes, and that room is earned, up to the ceiling.
        let (_, earned) = relax_after(spec(Some(RelaxTargets::Earned), Some(20.0)), 120);
        assert!(earned > 0.0 && earned <= 20.0, "{earned}");
    }
}
