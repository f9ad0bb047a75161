//! A model at work: keeps the series it forecasts from (sampled on the model's
//! step from the values it is shown, never ahead of them) and the EWMA, and
//! forecasts the value one horizon ahead.

use std::collections::VecDeque;
use std::sync::Arc;

use super::features::EWMA_ALPHA;
use super::file::ModelFile;

/// Steps of history kept: a week and a day, for the seasonal features.
fn keep(step_s: i64) -> usize {
    ((8 * 86_400) / step_s.max(1)) as usize + 32
}

pub struct Forecaster {
    pub model: Arc<ModelFile>,
    /// The series from `t0` on, one value per step.
    values: VecDeque<f64>,
    t0: i64,
    ewma: Option<f64>,
    /// The latest value seen, and at what time.
    last: Option<(i64, f64)>,
}

impl Forecaster {
    pub fn new(model: Arc<ModelFile>) -> Self {
        Forecaster {
            model,
            values: VecDeque::new(),
            t0: 0,
            ewma: None,
            last: None,
        }
    }

    /// The value at `t` (times must not go back).
    pub fn observe(&mut self, t: i64, value: f64) {
        let step = self.model.features.step_s.max(1);
        if self.values.is_empty() {
            self.t0 = t.div_euclid(step) * step;
        }
        // Close every step boundary passed since the last value: a step holds
        // the last value seen before its boundary.
        loop {
            let boundary = self.t0 + self.values.len() as i64 * step;
            if boundary > t {
                break;
            }
            let v = match self.last {
                Some((_, v)) if boundary < t => v,
                _ => value,
            };
            self.values.push_back(v);
            self.ewma = Some(
                self.ewma
                    .map_or(v, |e| EWMA_ALPHA * v + (1.0 - EWMA_ALPHA) * e),
            );
            if self.values.len() > keep(step) {
                self.values.pop_front();
                self.t0 += step;
            }
        }
        self.last = Some((t, value));
    }

    /// The forecast of the value one horizon after the latest step, and when that is.
    pub fn forecast(&mut self) -> Option<(i64, f64)> {
        let spec = &self.model.features;
        let x = self.values.make_contiguous();
        let i = x.len().checked_sub(1)?;
        let row = spec.row(x, i, self.t0, self.ewma?)?;
        let due = self.t0 + (i + spec.horizon_steps) as i64 * spec.step_s;
        Some((due, self.model.predict(&row)))
    }
}
