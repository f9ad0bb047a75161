//! Load traces: CSV `ts,value` files (Unix seconds, fractions rounded; a `timestamp` or `time` header too; strictly ascending,
//! non-negative values), checked line by line, and the gaps in them found and
//! filled by holding the last value.
//!
//! A trace is bounded so that a replay ends and fits in memory: times from
//! 1970 to the year 9999 ([`MAX_TS`]), at most [`MAX_SPAN_S`] (400 days) from
//! the first sample to the last, and at most [`MAX_SAMPLES`] samples once its
//! gaps are filled. A trace past a bound is an error naming the file, the line
//! and the bound, never a silent wrap or a replay that runs for hours.

use std::path::Path;

use crate::error::{Error, Result};

/// The latest time a trace may hold: 9999-12-31T23:59:59Z, in Unix seconds
/// (the earliest is 0; a trace in relative time starts there).
pub const MAX_TS: i64 = 253_402_300_799;
/// The longest a trace may span, first sample to last: 400 days.
pub const MAX_SPAN_S: i64 = 400 * 86_400;
/// The most samples a trace may hold once its gaps are filled (16 bytes each).
pub const MAX_SAMPLES: usize = 10_000_000;

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
        let mut lines = Vec::new();
        let mut seen_line = false;
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
            let first = !seen_line;
            seen_line = true;
            if first && a.parse::<f64>().is_err() {
                // A header: `ts,value`, or `timestamp`/`time` and any value
                // column name, as Prometheus and Grafana exports write them.
                let time_column = ["ts", "timestamp", "time"]
                    .iter()
                    .any(|h| a.trim_matches('"').eq_ignore_ascii_case(h));
                if !time_column || b.parse::<f64>().is_ok() {
                    return Err(err(
                        line_no,
                        format!("header must be `ts,value` (or `timestamp`/`time` and a value column), got {line:?}"),
                    ));
                }
                continue;
            }
            let t = seconds(a).map_err(|why| err(line_no, format!("ts: {why}: {a:?}")))?;
            let v: f64 = b
                .parse()
                .map_err(|_| err(line_no, format!("value: not a number: {b:?}")))?;
            if !v.is_finite() {
                return Err(err(line_no, format!("value: not finite: {b:?}")));
            }
            if v < 0.0 {
                return Err(err(line_no, format!("value: negative load {v}")));
            }
            if !(0..=MAX_TS).contains(&t) {
                return Err(err(
                    line_no,
                    format!(
                        "ts: {t} is out of range: Unix seconds from 0 to {MAX_TS} (9999-12-31)"
                    ),
                ));
            }
            if let Some(&prev) = ts.last() {
                if t <= prev {
                    return Err(err(line_no, format!("ts: {t} is not after the previous {prev}: samples must be strictly ascending")));
                }
            }
            if let Some(&first) = ts.first() {
                if t - first > MAX_SPAN_S {
                    return Err(err(line_no, too_long(t - first)));
                }
            }
            ts.push(t);
            values.push(v);
            lines.push(line_no);
        }
        if ts.len() < 2 {
            return Err(Error::Input(format!(
                "{source}: a trace needs at least two samples, found {}",
                ts.len()
            )));
        }
        if let Err((i, msg)) = check_filled(&ts) {
            return Err(err(lines[i], msg));
        }
        Trace::new(name, ts, values)
    }

    /// Builds a trace from samples, filling gaps; the samples must hold the
    /// bounds of a trace (see the module docs), else the error names `name`.
    pub fn new(name: String, ts: Vec<i64>, values: Vec<f64>) -> Result<Trace> {
        let bad = |msg: String| Err(Error::Input(format!("{name}: {msg}")));
        if ts.len() != values.len() {
            return bad(format!("{} times for {} values", ts.len(), values.len()));
        }
        if ts.len() < 2 {
            return bad(format!(
                "a trace needs at least two samples, found {}",
                ts.len()
            ));
        }
        if let Some(t) = ts.iter().find(|t| !(0..=MAX_TS).contains(*t)) {
            return bad(format!(
                "ts: {t} is out of range: Unix seconds from 0 to {MAX_TS}"
            ));
        }
        if let Some(w) = ts.windows(2).find(|w| w[1] <= w[0]) {
            return bad(format!("ts: {} is not after the previous {}", w[1], w[0]));
        }
        if let Some(v) = values.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return bad(format!("value: {v} is not a finite, non-negative load"));
        }
        if ts[ts.len() - 1] - ts[0] > MAX_SPAN_S {
            return bad(too_long(ts[ts.len() - 1] - ts[0]));
        }
        if let Err((i, msg)) = check_filled(&ts) {
            return bad(format!("sample {}: {msg}", i + 1));
        }
        Ok(Trace::filled(name, ts, values))
    }

    /// The trace of checked samples with their gaps filled.
    fn filled(name: String, ts: Vec<i64>, values: Vec<f64>) -> Trace {
        let interval_s = interval(&ts);
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

    /// The trace from sample `from` on (the replay after `--from-fraction`).
    pub fn tail(&self, from: usize) -> Result<Trace> {
        let from = from.min(self.ts.len());
        Trace::new(
            self.name.clone(),
            self.ts[from..].to_vec(),
            self.values[from..].to_vec(),
        )
    }

    /// The trace before and from `fraction` of its samples (`--from-fraction`,
    /// `tune --fraction`); each part needs two samples at least.
    pub fn split(&self, fraction: f64) -> Result<(Trace, Trace)> {
        let n = self.values.len();
        let cut = ((n as f64) * fraction) as usize;
        if !(fraction > 0.0 && fraction < 1.0) || cut < 2 || n - cut < 2 {
            return Err(Error::Input(format!(
                "{}: a split at {fraction} of {n} samples leaves {} before and {} after; \
                 each part needs at least 2",
                self.name,
                cut.min(n),
                n.saturating_sub(cut)
            )));
        }
        let head = Trace::new(
            self.name.clone(),
            self.ts[..cut].to_vec(),
            self.values[..cut].to_vec(),
        )?;
        Ok((head, self.tail(cut)?))
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

/// Unix seconds, whole or with a fraction (Prometheus exports `1700000000.123`),
/// rounded to the second the simulator steps in.
fn seconds(text: &str) -> std::result::Result<i64, &'static str> {
    if let Ok(t) = text.parse::<i64>() {
        return Ok(t);
    }
    let f: f64 = text.parse().map_err(|_| "not a number of seconds")?;
    if !f.is_finite() || !(0.0..=MAX_TS as f64).contains(&f.round()) {
        return Err("out of range: Unix seconds from 0 to 253402300799 (9999-12-31)");
    }
    Ok(f.round() as i64)
}

/// The interval of strictly ascending times: the median step, at least 1 s.
fn interval(ts: &[i64]) -> i64 {
    let mut steps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    steps.sort_unstable();
    steps.get(steps.len() / 2).copied().unwrap_or(1).max(1)
}

fn too_long(span_s: i64) -> String {
    format!(
        "the trace spans {:.1} days; at most {} days can be replayed",
        span_s as f64 / 86_400.0,
        MAX_SPAN_S / 86_400
    )
}

/// Checks that filling the gaps of strictly ascending, bounded `ts` keeps the
/// trace within [`MAX_SAMPLES`]; else the index of the sample after the gap
/// that goes past it, and why.
fn check_filled(ts: &[i64]) -> std::result::Result<(), (usize, String)> {
    let interval_s = interval(ts);
    let mut total = ts.len();
    if total > MAX_SAMPLES {
        return Err((
            MAX_SAMPLES,
            format!("more than {MAX_SAMPLES} samples: too many to replay"),
        ));
    }
    for i in 1..ts.len() {
        let gap = ts[i] - ts[i - 1];
        if gap * 2 > interval_s * 3 {
            // Fills at prev + k·interval for every k with prev + k·interval < t.
            total += ((gap - 1) / interval_s) as usize;
            if total > MAX_SAMPLES {
                return Err((
                    i,
                    format!(
                        "the gap of {gap} s before this sample, filled every {interval_s} s (the trace's interval), \
                         makes more than {MAX_SAMPLES} samples: too many to replay"
                    ),
                ));
            }
        }
    }
    Ok(())
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
    fn prometheus_style_exports_parse() {
        let t = parse("timestamp,rate\n1700000000.2,1\n1700000015.4,2\n1700000029.9,3\n").unwrap();
        assert_eq!(t.ts, [1_700_000_000, 1_700_000_015, 1_700_000_030]);
        let t = parse("\"Time\",\"value\"\n0,1\n60,2\n").unwrap();
        assert_eq!(t.values, [1.0, 2.0]);
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
            ("ts,value\nx,1\n", "t.csv:2: ts: not a number of seconds"),
            ("ts,value\n0;1\n", "t.csv:2: expected `ts,value`"),
            ("when,value\n0,1\n", "t.csv:1: header must be"),
            ("ts,5\n0,1\n", "t.csv:1: header must be"),
            (
                "ts,value\n0.2,1\n0.4,2\n",
                "t.csv:3: ts: 0 is not after the previous 0",
            ),
            ("ts,value\n0,1\n60,NaN\n", "t.csv:3: value: not finite"),
        ];
        for (text, expected) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn traces_past_their_bounds_are_errors_naming_file_and_line() {
        let year: i64 = 365 * 86_400;
        let cases = [
            // Times near the i64 limits replayed as a negative span.
            (
                "ts,value\n-9223372036854775808,1\n0,1\n".to_string(),
                "t.csv:2: ts: -9223372036854775808 is out of range",
            ),
            (
                "ts,value\n0,1\n9223372036854775807,1\n".to_string(),
                "t.csv:3: ts: 9223372036854775807 is out of range",
            ),
            (
                format!("ts,value\n0,1\n{},1\n", MAX_TS + 1),
                "t.csv:3: ts: 253402300800 is out of range",
            ),
            // 100 years: past the span.
            (
                format!("ts,value\n0,1\n1,1\n{},1\n", 100 * year),
                "t.csv:4: the trace spans 36500.0 days; at most 400 days",
            ),
            // A one-year gap in a one-second trace: 31 M samples to fill.
            (
                format!("ts,value\n0,1\n1,1\n2,1\n{},1\n", year),
                "t.csv:5: the gap of 31535998 s before this sample, filled every 1 s",
            ),
        ];
        for (text, expected) in cases {
            let started = std::time::Instant::now();
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{text:?}: {e}");
            assert!(
                started.elapsed().as_secs() < 5,
                "{text:?}: refused, but slowly"
            );
        }
        // Within the bounds: a 300-day gap in a 5-minute trace fills and replays.
        let t = parse(&format!("0,1\n300,1\n600,1\n{},2\n", 300 * 86_400)).unwrap();
        assert_eq!(t.ts.len(), 86_400 + 1);
    }

    #[test]
    fn new_checks_what_it_is_given() {
        let new =
            |ts: Vec<i64>, v: Vec<f64>| Trace::new("w".into(), ts, v).map_err(|e| e.to_string());
        assert_eq!(
            new(vec![5], vec![1.0]).unwrap_err(),
            "w: a trace needs at least two samples, found 1"
        );
        assert!(new(vec![], vec![]).is_err());
        assert!(new(vec![0, 0], vec![1.0, 1.0])
            .unwrap_err()
            .contains("not after"));
        assert!(new(vec![0, 1], vec![1.0, f64::NAN])
            .unwrap_err()
            .contains("value"));
        assert!(new(vec![i64::MIN, 0], vec![1.0, 1.0])
            .unwrap_err()
            .contains("out of range"));
        assert!(new(vec![0, 1, 2, 31_536_000], vec![1.0; 4])
            .unwrap_err()
            .starts_with("w: sample 4: the gap"));
        let t = new(vec![0, 60, 120], vec![1.0, 2.0, 3.0]).unwrap();
        assert!(t.tail(3).is_err() && t.tail(2).is_err());
        assert_eq!(t.tail(1).unwrap().ts, [60, 120]);
    }

    #[test]
    fn quantiles() {
        let t = parse("0,1\n1,2\n2,3\n3,4\n4,5\n").unwrap();
        assert_eq!(t.quantile(0.5), 3.0);
        assert_eq!(t.quantile(1.0), 5.0);
    }
}
