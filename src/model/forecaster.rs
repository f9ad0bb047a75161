//! A model at work: keeps the series it forecasts from (sampled on the model's
//! step from the values it is shown, never ahead of them) and the EWMA, and
//! forecasts the peak of the load over the next horizon.

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

    /// The forecast made at the latest step.
    pub fn forecast(&mut self) -> Option<Ahead> {
        let spec = &self.model.features;
        let x = self.values.make_contiguous();
        let i = x.len().checked_sub(1)?;
        let row = spec.row(x, i, self.t0, self.ewma?)?;
        let from = self.t0 + i as i64 * spec.step_s;
        Some(Ahead {
            from,
            due: from + spec.horizon_steps as i64 * spec.step_s,
            last: x[i],
            last_upper: (x[i] + self.model.no_change_margin.of(&row)).max(0.0),
            point: self.model.point(&row),
            upper: self.model.predict(&row),
        })
    }
}

/// A forecast of the peak load in `(from, due]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ahead {
    /// The step the forecast was made at.
    pub from: i64,
    /// The end of the horizon.
    pub due: i64,
    /// The value at `from` (the no-change forecast).
    pub last: f64,
    /// The no-change forecast's upper bound.
    pub last_upper: f64,
    /// The expected peak (what the accuracy gate scores).
    pub point: f64,
    /// The expected peak plus the margin (what the decision sizes for).
    pub upper: f64,
}
