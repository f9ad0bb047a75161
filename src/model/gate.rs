//! The accuracy gate: the rolling error of the forecast against what actually
//! arrived. Each forecast of the peak over `(from, due]` is remembered until
//! `due`, the peak of the values seen in that span is kept, and at `due` two
//! scores join the window:
//! - the absolute percentage error of the point forecast, whose mean (MAPE)
//!   must stay under the policy's bound;
//! - the quantile loss of the upper forecast next to that of the no-change
//!   forecast's upper bound (the value at `from` plus its own learned margin:
//!   what a reactive autoscaler assumes), whose ratio must stay below 1: a
//!   forecast that does not beat "the load stays as it is" has nothing to add.
//!
//! The gate starts closed: trust is earned, once the scores span half the
//! window. It closes (fall back to reactive) when either score fails, and
//! opens again once the MAPE is below 80 % of the bound and the loss ratio
//! below 0.95.

use std::collections::VecDeque;

use super::forecaster::Ahead;
use super::margin::QUANTILE;

/// The fewest scored forecasts a relaxation is earned from: from fewer, the
/// `1 − QUANTILE` (tenth) quantile is only their minimum, a guess.
const MIN_COVERS: usize = 10;

#[derive(Clone, Debug)]
struct Pending {
    ahead: Ahead,
    /// The peak seen so far in `(from, due]`.
    peak: Option<f64>,
}

#[derive(Clone, Debug)]
struct Scored {
    at: i64,
    /// Absolute percentage error (none when the actual peak is zero).
    ape: Option<f64>,
    /// Quantile losses of the forecast's and the no-change upper bounds.
    loss: f64,
    no_change_loss: f64,
    /// The upper bound over the peak that came (none when that peak is not
    /// above zero): above 1, the bound left room to spare.
    cover: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct AccuracyGate {
    bound_percent: f64,
    window_s: i64,
    /// Forecasts waiting for their horizon to pass, in issue order.
    pending: VecDeque<Pending>,
    /// Scored forecasts, oldest first, and sums over them.
    scored: VecDeque<Scored>,
    ape_sum: f64,
    apes: usize,
    loss_sum: f64,
    no_change_loss_sum: f64,
    open: bool,
}

/// The quantile loss of `upper` as the `QUANTILE` quantile of `actual`.
fn quantile_loss(actual: f64, upper: f64) -> f64 {
    if actual > upper {
        QUANTILE * (actual - upper)
    } else {
        (1.0 - QUANTILE) * (upper - actual)
    }
}

impl AccuracyGate {
    pub fn new(bound_percent: f64, window_s: i64) -> Self {
        AccuracyGate {
            bound_percent,
            window_s,
            pending: VecDeque::new(),
            scored: VecDeque::new(),
            ape_sum: 0.0,
            apes: 0,
            loss_sum: 0.0,
            no_change_loss_sum: 0.0,
            open: false,
        }
    }

    /// A forecast to score once its horizon has passed.
    pub fn forecast(&mut self, ahead: &Ahead) {
        self.pending.push_back(Pending {
            ahead: *ahead,
            peak: None,
        });
    }

    /// The value seen at `t` (times must not go back): joins the peak of every
    /// forecast whose span holds `t`, and scores every forecast due by then.
    /// True when the window's scores changed.
    pub fn actual(&mut self, t: i64, value: f64) -> bool {
        let mut changed = false;
        for p in self
            .pending
            .iter_mut()
            .filter(|p| p.ahead.from < t && t <= p.ahead.due)
        {
            p.peak = Some(p.peak.map_or(value, |k| k.max(value)));
        }
        while self.pending.front().is_some_and(|p| p.ahead.due <= t) {
            let p = self.pending.pop_front().expect("front exists");
            let Some(peak) = p.peak else { continue };
            let a = p.ahead;
            let s = Scored {
                at: t,
                ape: (peak.abs() > 1e-9).then(|| 100.0 * ((a.point - peak) / peak).abs()),
                loss: quantile_loss(peak, a.upper),
                no_change_loss: quantile_loss(peak, a.last_upper),
                cover: (peak > 1e-9).then(|| a.upper / peak),
            };
            changed = true;
            self.add(&s, false);
            self.scored.push_back(s);
        }
        while self
            .scored
            .front()
            .is_some_and(|s| s.at <= t - self.window_s)
        {
            let s = self.scored.pop_front().expect("front exists");
            self.add(&s, true);
            changed = true;
        }
        let Some(mape) = self.mape() else {
            return changed;
        };
        let ratio = self.loss_ratio().unwrap_or(0.0);
        if self.open && (mape > self.bound_percent || ratio >= 1.0) {
            self.open = false;
        } else if !self.open
            && mape < 0.8 * self.bound_percent
            && ratio < 0.95
            && self
                .scored
                .front()
                .is_some_and(|s| s.at <= t - self.window_s / 2)
        {
            self.open = true;
        }
        changed
    }

    /// The `1 − QUANTILE` quantile (the lower one) of the window's upper
    /// bound over the peak that came: in nine of ten forecasts the bound was
    /// at least this many times the peak.
    /// None until the window holds at least [`MIN_COVERS`] such scores.
    pub fn cover(&self) -> Option<f64> {
        let mut covers: Vec<f64> = self.scored.iter().filter_map(|s| s.cover).collect();
        if covers.len() < MIN_COVERS {
            return None;
        }
        let k = ((1.0 - QUANTILE) * (covers.len() - 1) as f64).floor() as usize;
        let (_, q, _) = covers.select_nth_unstable_by(k, f64::total_cmp);
        Some(*q)
    }

    /// The relaxation the window's forecasts earned, percent (to 0.1), at
    /// most `max`: targets raised by what the upper bound had to spare over
    /// the peak in nine of ten forecasts leave the target's headroom whole
    /// against those peaks. Nothing when the bound fell short more often.
    pub fn earned_relax_percent(&self, max: f64) -> f64 {
        let Some(cover) = self.cover() else {
            return 0.0;
        };
        let pct = ((cover - 1.0) * 100.0).clamp(0.0, max.max(0.0));
        (pct * 10.0).floor() / 10.0
    }

    /// Where an earned relaxation comes from, for the reasons.
    pub fn describe_earned(&self) -> String {
        match self.cover() {
            Some(c) => format!(
                "relaxation earned: the upper bound was at least {c:.2}× the peak that came in {:.0}% of the last {} s's forecasts",
                QUANTILE * 100.0,
                self.window_s
            ),
            None => format!(
                "relaxation earned: none (fewer than {MIN_COVERS} forecasts scored in the last {} s)",
                self.window_s
            ),
        }
    }

    /// Adds `s` to the window's sums, or takes it out.
    fn add(&mut self, s: &Scored, out: bool) {
        let sign = if out { -1.0 } else { 1.0 };
        if let Some(ape) = s.ape {
            self.ape_sum += sign * ape;
            if out {
                self.apes -= 1;
            } else {
                self.apes += 1;
            }
        }
        self.loss_sum += sign * s.loss;
        self.no_change_loss_sum += sign * s.no_change_loss;
    }

    /// MAPE over the window, once anything was scored.
    pub fn mape(&self) -> Option<f64> {
        (self.apes > 0).then(|| self.ape_sum.max(0.0) / self.apes as f64)
    }

    /// The forecast's quantile loss over the no-change forecast's, over the
    /// window (below 1: the forecast's upper bound beats no-change's).
    pub fn loss_ratio(&self) -> Option<f64> {
        (self.no_change_loss_sum > 1e-12).then(|| self.loss_sum.max(0.0) / self.no_change_loss_sum)
    }

    /// The gate's state in words, for the reasons.
    pub fn describe(&self) -> String {
        format!(
            "MAPE {:.0}% (bound {:.0}%), quantile loss {:.2}× no-change's, over the last {} s",
            self.mape().unwrap_or(0.0),
            self.bound_percent,
            self.loss_ratio().unwrap_or(0.0),
            self.window_s
        )
    }

    /// True while the forecast may be used.
    pub fn is_open(&self) -> bool {
        self.open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A forecast made at `from` of the peak over the next 60 s, its upper
    /// bound `margin` times the point; the no-change forecast `last`, its
    /// upper bound `last_margin` times that.
    fn ahead(from: i64, point: f64, margin: f64, last: f64, last_margin: f64) -> Ahead {
        Ahead {
            from,
            due: from + 60,
            last,
            last_upper: last * last_margin,
            point,
            upper: point * margin,
        }
    }

    #[test]
    fn closes_on_bad_forecasts_and_reopens_when_they_recover() {
        let mut g = AccuracyGate::new(30.0, 600);
        // A level load, forecast exactly, while no change is off by the noise.
        let noisy = |t: i64| if (t / 60) % 2 == 0 { 100.0 } else { 110.0 };
        for t in (0..600).step_by(60) {
            g.forecast(&ahead(t, noisy(t + 60), 1.02, noisy(t), 1.1));
            g.actual(t + 60, noisy(t + 60));
        }
        assert!(g.is_open());
        assert_eq!(g.mape(), Some(0.0));
        // The load triples; the forecasts stay at 100: 67 % error.
        for t in (600..900).step_by(60) {
            g.forecast(&ahead(t, 100.0, 1.02, 100.0, 1.1));
            g.actual(t + 60, 300.0);
        }
        assert!(!g.is_open(), "mape {:?}", g.mape());
        // Accurate again: the bad ones leave the 10-minute window.
        for t in (900..1800).step_by(60) {
            g.forecast(&ahead(t, noisy(t + 60), 1.02, noisy(t), 1.1));
            g.actual(t + 60, noisy(t + 60));
        }
        assert!(g.is_open(), "mape {:?}", g.mape());
        assert!(g.mape().unwrap() < 1e-9);
    }

    #[test]
    fn starts_closed_until_the_scores_span_half_the_window() {
        let mut g = AccuracyGate::new(30.0, 600);
        assert!(!g.is_open());
        for t in (0..240).step_by(60) {
            g.forecast(&ahead(t, 100.0, 1.02, 90.0, 1.1));
            g.actual(t + 60, 100.0);
        }
        assert_eq!(g.mape(), Some(0.0));
        assert!(
            !g.is_open(),
            "good scores from 60 s to 240 s: not yet half of 600 s"
        );
        g.forecast(&ahead(240, 100.0, 1.02, 90.0, 1.1));
        g.actual(360, 100.0);
        assert!(g.is_open(), "scores span 300 s");
    }

    #[test]
    fn scores_the_forecast_against_the_peak_of_its_span() {
        let mut g = AccuracyGate::new(30.0, 3600);
        g.forecast(&Ahead {
            due: 300,
            ..ahead(0, 200.0, 1.0, 200.0, 1.0)
        });
        // The values inside (0, 300]: the peak is 200, though the last is 100.
        for (t, v) in [(0, 999.0), (100, 150.0), (200, 200.0), (300, 100.0)] {
            g.actual(t, v);
        }
        assert_eq!(g.mape(), Some(0.0), "the value at 0 is not in the span");
        g.forecast(&Ahead {
            due: 600,
            ..ahead(300, 100.0, 1.0, 100.0, 1.0)
        });
        g.actual(450, 400.0);
        g.actual(600, 50.0);
        assert_eq!(g.mape(), Some(37.5), "(0 + 75) / 2");
        assert!(!g.is_open());
    }

    #[test]
    fn closes_while_the_forecast_does_not_beat_no_change() {
        // A noisy level load: the forecast is always 10 % high and its upper
        // bound 10 % above that, while no change with a 5 % margin covers
        // the noise: a MAPE far under the bound, but no skill over what a
        // reactive autoscaler assumes.
        let mut g = AccuracyGate::new(30.0, 3600);
        let value = |t: i64| if (t / 60) % 2 == 0 { 100.0 } else { 105.0 };
        for t in (0..3600).step_by(60) {
            g.forecast(&ahead(t, 115.0, 1.1, value(t), 1.05));
            g.actual(t + 60, value(t + 60));
        }
        assert!(g.mape().unwrap() < 15.0);
        assert!(g.loss_ratio().unwrap() >= 1.0, "{:?}", g.loss_ratio());
        assert!(!g.is_open());
        // A forecast that tracks the alternation beats no change: open again
        // once the bad ones have left the window.
        for t in (3600..7500).step_by(60) {
            g.forecast(&ahead(t, value(t + 60), 1.02, value(t), 1.05));
            g.actual(t + 60, value(t + 60));
        }
        assert!(g.loss_ratio().unwrap() < 0.95, "{:?}", g.loss_ratio());
        assert!(g.is_open());
    }

    #[test]
    fn earns_what_the_upper_bound_had_to_spare_in_nine_of_ten_forecasts() {
        // Fifty forecasts of a level 100 whose upper bound is 0.95× the peak
        // in 4 (every 13th) and 1.3× in the other 46: in nine of ten the
        // bound was at least 1.3× the peak.
        let run = |short_every: i64, max: f64| {
            let mut g = AccuracyGate::new(30.0, 3600);
            assert_eq!(g.earned_relax_percent(max), 0.0, "nothing scored yet");
            for t in (0..3000).step_by(60) {
                let margin = if (t / 60) % short_every == 0 {
                    0.95
                } else {
                    1.3
                };
                g.forecast(&ahead(t, 100.0, margin, 100.0, 1.1));
                assert!(g.actual(t + 60, 100.0), "each step scores one forecast");
            }
            g
        };
        let g = run(13, 50.0);
        assert_eq!(g.earned_relax_percent(50.0), 30.0);
        assert_eq!(g.earned_relax_percent(12.0), 12.0, "at most the ceiling");
        assert!(
            g.describe_earned().contains("1.30×"),
            "{}",
            g.describe_earned()
        );
        // Short in one of five: the fifth-lowest of fifty fell short, so nothing is earned.
        assert_eq!(run(5, 50.0).earned_relax_percent(50.0), 0.0);
        // Nine scores are too few to earn anything.
        let mut few = AccuracyGate::new(30.0, 3600);
        for t in (0..540).step_by(60) {
            few.forecast(&ahead(t, 100.0, 1.3, 100.0, 1.1));
            few.actual(t + 60, 100.0);
        }
        assert_eq!(few.earned_relax_percent(50.0), 0.0);
        few.forecast(&ahead(540, 100.0, 1.3, 100.0, 1.1));
        few.actual(600, 100.0);
        assert_eq!(few.earned_relax_percent(50.0), 30.0, "ten are enough");
        // Old scores leave the window with the rest.
        let mut g = run(13, 50.0);
        for t in (3000..7000).step_by(60) {
            g.forecast(&ahead(t, 100.0, 0.9, 100.0, 1.1));
            g.actual(t + 60, 100.0);
        }
        assert_eq!(g.earned_relax_percent(50.0), 0.0);
    }
}
