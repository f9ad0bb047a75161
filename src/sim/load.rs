//! The load at any instant of a trace: linear interpolation between samples
//! (or holding each sample until the next), read with a forward cursor so a
//! replay in time order costs O(1) per step.

use super::trace::Trace;

/// How the load moves between two samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Interpolation {
    /// Straight line from one sample to the next.
    Linear,
    /// Each sample holds until the next.
    Step,
}

/// A forward-only reader of a trace's load.
pub struct LoadCursor<'a> {
    trace: &'a Trace,
    mode: Interpolation,
    /// Index of the sample at or before the last time read.
    i: usize,
}

impl<'a> LoadCursor<'a> {
    pub fn new(trace: &'a Trace, mode: Interpolation) -> Self {
        LoadCursor { trace, mode, i: 0 }
    }

    /// The load at `t` (seconds); times must not decrease between calls.
    /// Before the first sample the first value holds; after the last, the last.
    pub fn at(&mut self, t: i64) -> f64 {
        let ts = &self.trace.ts;
        let vs = &self.trace.values;
        while self.i + 1 < ts.len() && ts[self.i + 1] <= t {
            self.i += 1;
        }
        let i = self.i;
        if t <= ts[0] {
            return vs[0];
        }
        if i + 1 >= ts.len() || self.mode == Interpolation::Step {
            return vs[i];
        }
        let (t0, t1) = (ts[i], ts[i + 1]);
        let f = (t - t0) as f64 / (t1 - t0) as f64;
        vs[i] + (vs[i + 1] - vs[i]) * f
    }
}

/// The peak of the load over whole seconds in `(from, to]`: under either
/// interpolation the load between samples lies between its ends, so the peak
/// is at `from + 1`, at `to`, or at a sample in between.
pub fn peak_in(trace: &Trace, mode: Interpolation, from: i64, to: i64) -> f64 {
    let first = from + 1;
    if to < first {
        return f64::NAN;
    }
    let lo = trace.ts.partition_point(|&x| x < first);
    let hi = trace.ts.partition_point(|&x| x <= to);
    trace.values[lo..hi.max(lo)].iter().copied().fold(
        load_at(trace, mode, first).max(load_at(trace, mode, to)),
        f64::max,
    )
}

/// The load at `t` without a cursor (binary search), for random access.
pub fn load_at(trace: &Trace, mode: Interpolation, t: i64) -> f64 {
    let i = trace.ts.partition_point(|&x| x <= t).saturating_sub(1);
    let mut c = LoadCursor { trace, mode, i };
    c.at(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace() -> Trace {
        Trace::new("t".into(), vec![0, 10, 20], vec![0.0, 100.0, 50.0]).unwrap()
    }

    #[test]
    fn linear_and_step_interpolation() {
        let t = trace();
        let mut lin = LoadCursor::new(&t, Interpolation::Linear);
        assert_eq!(lin.at(-5), 0.0);
        assert_eq!(lin.at(5), 50.0);
        assert_eq!(lin.at(10), 100.0);
        assert_eq!(lin.at(15), 75.0);
        assert_eq!(lin.at(25), 50.0);
        let mut step = LoadCursor::new(&t, Interpolation::Step);
        assert_eq!(step.at(5), 0.0);
        assert_eq!(step.at(19), 100.0);
        assert_eq!(load_at(&t, Interpolation::Linear, 15), 75.0);
    }

    #[test]
    fn peak_over_a_span_matches_every_second_of_it() {
        let t = trace();
        for mode in [Interpolation::Linear, Interpolation::Step] {
            for (from, to) in [(-5, 3), (0, 10), (2, 9), (9, 19), (12, 18), (15, 40)] {
                let brute = (from + 1..=to)
                    .map(|s| load_at(&t, mode, s))
                    .fold(f64::MIN, f64::max);
                assert_eq!(
                    peak_in(&t, mode, from, to),
                    brute,
                    "{mode:?} ({from}, {to}]"
                );
            }
        }
    }
}
