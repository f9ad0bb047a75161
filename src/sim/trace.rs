//! Load traces: CSV `ts,value` files (integer seconds, strictly ascending,
//! non-negative values), checked line by line, and the gaps in them found and
//! filled by holding the last value.

use std::path::Path;

use crate::error::{Error, Result};

/// A load trace: samples at integer seconds, strictly ascending.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub name: String,
    pub ts: Vec<i64>,
    pub values: Vec<f64>,
    /// The trace's interval: the median step between samples, in seconds.
    pub interval_s: i64,
    /// How many samples were added to fill gaps (steps above 1.5 × interval).
    pub filled: usize,
    /// `ts` is absolute Unix time (rather than seconds since the trace began).
    pub absolute_time: bool,
}

impl Trace {
    /// Reads and checks a CSV trace. Errors name the file, line and reason.
    pub fn from_csv_file(path: &Path) -> Result<Trace> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
            path: path.to_path_buf(),
            source: e,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "trace".into());
        Trace::from_csv(&text, &path.display().to_string(), name)
    }

    /// Parses CSV text; `source` names it in errors.
    pub fn from_csv(text: &str, source: &str, name: String) -> Result<Trace> {
        let err = |line: usize, msg: String| Error::Input(format!("{source}:{line}: {msg}"));
        let mut ts = Vec::new();
        let mut values = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (a, b) = line
                .split_once(',')
                .ok_or_else(|| err(line_no, format!("expected `ts,value`, got {line:?}")))?;
            let (a, b) = (a.trim(), b.trim());
            if ts.is_empty() && values.is_empty() && a == "ts" {
                if b != "value" {
                    return Err(err(
                        line_no,
                        format!("header must be `ts,value`, got {line:?}"),
                    ));
                }
                continue;
            }
            let t: i64 = a.parse().map_err(|_| {
                err(
                    line_no,
                    format!("ts: not an integer number of seconds: {a:?}"),
                )
            })?;
            let v: f64 = b
                .parse()
                .map_err(|_| err(line_no, format!("value: not a number: {b:?}")))?;
            if !v.is_finite() {
                return Err(err(line_no, format!("value: not finite: {b:?}")));
            }
            if v < 0.0 {
                return Err(err(line_no, format!("value: negative load {v}")));
            }
            if let Some(&prev) = ts.last() {
                if t <= prev {
                    return Err(err(line_no, format!("ts: {t} is not after the previous {prev}: samples must be strictly ascending")));
                }
            }
            ts.push(t);
            values.push(v);
        }
        if ts.len() < 2 {
            return Err(Error::Input(format!(
                "{source}: a trace needs at least two samples, found {}",
                ts.len()
            )));
        }
        Ok(Trace::new(name, ts, values))
    }

    /// Builds a trace from checked samples, filling gaps.
    pub fn new(name: String, ts: Vec<i64>, values: Vec<f64>) -> Trace {
        let mut steps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        steps.sort_unstable();
        let interval_s = steps[steps.len() / 2].max(1);
        let absolute_time = ts[0] > 365 * 86_400;
        let mut trace = Trace {
            name,
            ts: Vec::with_capacity(ts.len()),
            values: Vec::with_capacity(values.len()),
            interval_s,
            filled: 0,
            absolute_time,
        };
        for (i, (&t, &v)) in ts.iter().zip(&values).enumerate() {
            if i > 0 {
                let (prev_t, prev_v) = (ts[i - 1], values[i - 1]);
                if (t - prev_t) * 2 > interval_s * 3 {
                    let mut fill = prev_t + interval_s;
                    while fill < t {
                        trace.ts.push(fill);
                        trace.values.push(prev_v);
                        trace.filled += 1;
                        fill += interval_s;
                    }
                }
            }
            trace.ts.push(t);
            trace.values.push(v);
        }
        trace
    }

    pub fn start(&self) -> i64 {
        self.ts[0]
    }

    /// The end of the last sample's interval.
    pub fn end(&self) -> i64 {
        self.ts[self.ts.len() - 1] + self.interval_s
    }

    /// The `q` quantile (0..=1) of the values.
    pub fn quantile(&self, q: f64) -> f64 {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        let idx = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        v[idx]
    }

    /// Multiplies every value by `k`.
    pub fn scaled(mut self, k: f64) -> Trace {
        for v in &mut self.values {
            *v *= k;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Trace> {
        Trace::from_csv(text, "t.csv", "t".into())
    }

    #[test]
    fn parses_header_and_samples() {
        let t = parse("ts,value\n0,1\n60,2.5\n120,3\n").unwrap();
        assert_eq!(t.ts, [0, 60, 120]);
        assert_eq!(t.values, [1.0, 2.5, 3.0]);
        assert_eq!(t.interval_s, 60);
        assert_eq!(t.end(), 180);
        assert!(!t.absolute_time);
    }

    #[test]
    fn fills_gaps_by_holding_the_last_value() {
        let t = parse("ts,value\n0,1\n60,2\n120,3\n300,4\n360,5\n").unwrap();
        assert_eq!(t.filled, 2);
        assert_eq!(t.ts, [0, 60, 120, 180, 240, 300, 360]);
        assert_eq!(t.values, [1.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn rejects_bad_traces_with_line_and_reason() {
        let cases = [
            (
                "ts,value\n0,1\n0,2\n",
                "t.csv:3: ts: 0 is not after the previous 0",
            ),
            ("ts,value\n0,1\n60,abc\n", "t.csv:3: value: not a number"),
            ("ts,value\n0,1\n60,-2\n", "t.csv:3: value: negative load"),
            (
                "ts,value\n",
                "t.csv: a trace needs at least two samples, found 0",
            ),
            ("ts,value\nx,1\n", "t.csv:2: ts: not an integer"),
            ("ts,value\n0;1\n", "t.csv:2: expected `ts,value`"),
            ("ts,load\n0,1\n", "t.csv:1: header must be"),
            ("ts,value\n0,1\n60,NaN\n", "t.csv:3: value: not finite"),
        ];
        for (text, expected) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn quantiles() {
        let t = parse("0,1\n1,2\n2,3\n3,4\n4,5\n").unwrap();
        assert_eq!(t.quantile(0.5), 3.0);
        assert_eq!(t.quantile(1.0), 5.0);
    }
}
