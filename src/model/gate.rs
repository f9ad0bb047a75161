//! The accuracy gate: the rolling error of the forecast against what actually
//! arrived. Each forecast is remembered until its target time; when the value
//! at that time is seen, its absolute percentage error joins the window. While
//! the window's MAPE exceeds the bound the gate is closed (fall back to
//! reactive); it opens again once the MAPE is below 80 % of the bound.

use std::collections::VecDeque;

#[derive(Clone, Debug)]
pub struct AccuracyGate {
    bound_percent: f64,
    window_s: i64,
    /// Forecasts waiting for their target time: (due, value).
    pending: VecDeque<(i64, f64)>,
    /// Scored forecasts: (time, absolute percentage error).
    errors: VecDeque<(i64, f64)>,
    sum: f64,
    open: bool,
}

impl AccuracyGate {
    pub fn new(bound_percent: f64, window_s: i64) -> Self {
        AccuracyGate {
            bound_percent,
            window_s,
            pending: VecDeque::new(),
            errors: VecDeque::new(),
            sum: 0.0,
            open: true,
        }
    }

    /// A forecast of the value at `due`.
    pub fn forecast(&mut self, due: i64, value: f64) {
        self.pending.push_back((due, value));
    }

    /// The value seen at `t`: scores every forecast due by then.
    pub fn actual(&mut self, t: i64, value: f64) {
        while let Some(&(due, f)) = self.pending.front() {
            if due > t {
                break;
            }
            self.pending.pop_front();
            if value.abs() > 1e-9 {
                let ape = 100.0 * ((f - value) / value).abs();
                self.errors.push_back((t, ape));
                self.sum += ape;
            }
        }
        while let Some(&(at, ape)) = self.errors.front() {
            if at > t - self.window_s {
                break;
            }
            self.errors.pop_front();
            self.sum -= ape;
        }
        if let Some(m) = self.mape() {
            if self.open && m > self.bound_percent {
                self.open = false;
            } else if !self.open && m < 0.8 * self.bound_percent {
                self.open = true;
            }
        }
    }

    /// MAPE over the window, once anything was scored.
    pub fn mape(&self) -> Option<f64> {
        (!self.errors.is_empty()).then(|| self.sum.max(0.0) / self.errors.len() as f64)
    }

    /// True while the forecast may be used.
    pub fn is_open(&self) -> bool {
        self.open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_on_bad_forecasts_and_reopens_when_they_recover() {
        let mut g = AccuracyGate::new(30.0, 600);
        for t in (0..600).step_by(60) {
            g.forecast(t + 60, 100.0);
            g.actual(t, 100.0);
        }
        assert!(g.is_open());
        assert_eq!(g.mape(), Some(0.0));
        // The load triples; the forecasts stay at 100: 67 % error.
        for t in (600..900).step_by(60) {
            g.forecast(t + 60, 100.0);
            g.actual(t, 300.0);
        }
        assert!(!g.is_open(), "mape {:?}", g.mape());
        // Accurate again: the bad ones leave the 10-minute window.
        for t in (900..1800).step_by(60) {
            g.forecast(t + 60, 300.0);
            g.actual(t, 300.0);
        }
        assert!(g.is_open(), "mape {:?}", g.mape());
        assert!(g.mape().unwrap() < 1e-9);
    }
}
