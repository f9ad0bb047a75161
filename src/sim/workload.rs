//! Synthetic workloads the project generates itself: seeded and deterministic,
//! one day of one-minute samples starting 2026-01-01T00:00:00Z by default, at
//! most [`MAX_SPAN_S`] (400 days) long, like any trace.

use std::f64::consts::TAU;
use std::fmt;
use std::str::FromStr;

use super::trace::{Trace, MAX_SAMPLES, MAX_SPAN_S};
use crate::error::{Error, Result};

/// The built-in workload shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// A daily cycle: quiet at night, a broad peak in the afternoon.
    Diurnal,
    /// The daily cycle with a sudden 4× surge that decays over ~20 minutes.
    FlashCrowd,
    /// Flat, then a step to 3×, then back.
    Step,
    /// A steady climb from 10 % to 100 % over the day.
    Ramp,
    /// Hourly ramps that collapse at the top of each hour.
    Sawtooth,
    /// A flat mean buried in heavy noise.
    Noisy,
}

impl Workload {
    pub const ALL: [Workload; 6] = [
        Workload::Diurnal,
        Workload::FlashCrowd,
        Workload::Step,
        Workload::Ramp,
        Workload::Sawtooth,
        Workload::Noisy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Diurnal => "diurnal",
            Workload::FlashCrowd => "flash-crowd",
            Workload::Step => "step",
            Workload::Ramp => "ramp",
            Workload::Sawtooth => "sawtooth",
            Workload::Noisy => "noisy",
        }
    }

    /// Generates the workload: `duration_s` seconds of `interval_s` samples.
    ///
    /// # Panics
    ///
    /// Past the bounds [`Workload::try_generate`] reports as errors.
    pub fn generate(self, seed: u64, duration_s: i64, interval_s: i64) -> Trace {
        self.try_generate(seed, duration_s, interval_s)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Generates the workload: `duration_s` seconds of `interval_s` samples;
    /// an error, before anything is allocated, for an interval outside 1 s to
    /// 1 d, fewer than two samples, more than [`MAX_SPAN_S`] or more than
    /// [`MAX_SAMPLES`] samples.
    pub fn try_generate(self, seed: u64, duration_s: i64, interval_s: i64) -> Result<Trace> {
        if !(1..=86_400).contains(&interval_s) {
            return Err(Error::Input(format!(
                "workload {self}: interval {interval_s} s: must be 1 s to 1 d"
            )));
        }
        if !(2 * interval_s..=MAX_SPAN_S).contains(&duration_s) {
            return Err(Error::Input(format!(
                "workload {self}: duration {duration_s} s: must be from two samples ({} s) to {} days",
                2 * interval_s,
                MAX_SPAN_S / 86_400
            )));
        }
        if (duration_s / interval_s) as usize > MAX_SAMPLES {
            return Err(Error::Input(format!(
                "workload {self}: {duration_s} s of {interval_s} s samples is more than {MAX_SAMPLES} samples"
            )));
        }
        Ok(self.samples(seed, duration_s, interval_s))
    }

    fn samples(self, seed: u64, duration_s: i64, interval_s: i64) -> Trace {
        const START: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
        let mut rng = SplitMix64(seed ^ (self as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let n = (duration_s / interval_s).max(2);
        let surge_at = duration_s as f64 * (0.45 + 0.2 * rng.unit());
        let mut ts = Vec::with_capacity(n as usize);
        let mut values = Vec::with_capacity(n as usize);
        for i in 0..n {
            let t = i * interval_s;
            let day = (t % 86_400) as f64 / 86_400.0;
            // Low at 04:00, high at 16:00.
            let daily = 0.55 - 0.45 * (TAU * (day - 1.0 / 6.0)).cos();
            let noise = 1.0 + 0.05 * rng.normal();
            let frac = t as f64 / duration_s as f64;
            let v = match self {
                Workload::Diurnal => 1000.0 * daily * noise,
                Workload::FlashCrowd => {
                    let since = t as f64 - surge_at;
                    let surge = if since >= 0.0 {
                        3.0 * (-since / 1200.0).exp()
                    } else {
                        0.0
                    };
                    1000.0 * daily * (1.0 + surge) * noise
                }
                Workload::Step => {
                    let high = (0.4..0.7).contains(&frac);
                    (if high { 1500.0 } else { 500.0 }) * noise
                }
                Workload::Ramp => (100.0 + 900.0 * frac) * noise,
                Workload::Sawtooth => (200.0 + 800.0 * ((t % 3600) as f64 / 3600.0)) * noise,
                Workload::Noisy => 600.0 * (1.0 + 0.35 * rng.normal()),
            };
            ts.push(START + t);
            values.push(v.max(0.0));
        }
        Trace::new(self.name().to_string(), ts, values)
            .expect("a checked workload is a valid trace")
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A workload name that is none of [`Workload::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown workload {0:?}; one of {names}", names = Workload::ALL.map(|w| w.name()).join(", "))]
pub struct UnknownWorkload(pub String);

impl FromStr for Workload {
    type Err = UnknownWorkload;
    fn from_str(s: &str) -> Result<Self, UnknownWorkload> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| UnknownWorkload(s.to_string()))
    }
}

/// SplitMix64: a tiny, well-known seeded generator; enough for synthetic noise.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Approximately standard normal (sum of 4 uniforms, rescaled), bounded to ±3.5.
    fn normal(&mut self) -> f64 {
        let s: f64 = (0..4).map(|_| self.unit()).sum();
        (s - 2.0) * (3.0f64).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_are_deterministic_and_seeded() {
        for w in Workload::ALL {
            let a = w.generate(7, 86_400, 60);
            let b = w.generate(7, 86_400, 60);
            let c = w.generate(8, 86_400, 60);
            assert_eq!(a, b, "{w}");
            assert_ne!(a.values, c.values, "{w}");
            assert_eq!(a.ts.len(), 1440);
            assert!(a.values.iter().all(|v| *v >= 0.0 && v.is_finite()));
            assert_eq!(w.name().parse::<Workload>().unwrap(), w);
        }
    }

    #[test]
    fn absurd_durations_are_errors_not_allocations() {
        for (duration_s, interval_s) in [
            (99_999_999_999, 60),
            (401 * 86_400, 60),
            (i64::MAX, 60),
            (119, 60),
            (0, 60),
            (-5, 60),
            (86_400, 0),
            (86_400, -1),
            (400 * 86_400, 1),
        ] {
            let e = Workload::Diurnal
                .try_generate(1, duration_s, interval_s)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("workload diurnal: "),
                "{duration_s}/{interval_s}: {e}"
            );
        }
        let t = Workload::Step.try_generate(1, 400 * 86_400, 60).unwrap();
        assert_eq!(t.ts.len(), 576_000);
        assert_eq!(Workload::Ramp.try_generate(1, 120, 60).unwrap().ts.len(), 2);
    }

    #[test]
    fn flash_crowd_has_a_surge() {
        let t = Workload::FlashCrowd.generate(1, 86_400, 60);
        let d = Workload::Diurnal.generate(1, 86_400, 60);
        let max = |t: &Trace| t.values.iter().cloned().fold(0.0, f64::max);
        assert!(max(&t) > 2.0 * max(&d), "{} vs {}", max(&t), max(&d));
    }
}
