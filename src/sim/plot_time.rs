//! The time axis of a run's picture: the window to draw (`--plot-from` /
//! `--plot-to`, a date or an offset from the trace's start) and tick marks
//! on round times (whole minutes, hours or days; midnight UTC for dates)
//! with labels that say no more than the span needs.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};

use crate::duration;

/// One end of the plotted window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotTime {
    /// Seconds after the trace's first sample.
    Offset(i64),
    /// A moment (needs a trace with absolute timestamps).
    At(i64),
}

/// A plot window end that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("expected an RFC 3339 time (2026-12-05T10:00:00Z), a date (2026-12-05) or an offset from the trace's start (36h, 2d), got {0:?}")]
pub struct PlotTimeError(String);

impl FromStr for PlotTime {
    type Err = PlotTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PlotTimeError(s.to_string());
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(PlotTime::At(t.timestamp()));
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            let t = d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc();
            return Ok(PlotTime::At(t.timestamp()));
        }
        let ms = duration::parse_ms(s).map_err(|_| bad())?;
        if ms < 0 || ms % 1000 != 0 {
            return Err(bad());
        }
        Ok(PlotTime::Offset(ms / 1000))
    }
}

/// A window that cannot be drawn.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("--plot-from/--plot-to: the trace has relative timestamps, so give an offset from its start (e.g. 36h), not a date")]
    NotAbsolute,
    #[error("--plot-from must be before --plot-to (the window is {from}..{to})")]
    Empty { from: String, to: String },
    #[error(
        "--plot-from/--plot-to: the window {from}..{to} is outside the trace ({start}..{end})"
    )]
    Outside {
        from: String,
        to: String,
        start: String,
        end: String,
    },
}

/// The plotted window `[from, to]` in trace time, within `[start, end]`.
pub fn window(
    from: Option<PlotTime>,
    to: Option<PlotTime>,
    start: i64,
    end: i64,
    absolute: bool,
) -> Result<(i64, i64), WindowError> {
    let resolve = |p: Option<PlotTime>, default: i64| match p {
        None => Ok(default),
        Some(PlotTime::Offset(s)) => Ok(start.saturating_add(s)),
        Some(PlotTime::At(t)) if absolute => Ok(t),
        Some(PlotTime::At(_)) => Err(WindowError::NotAbsolute),
    };
    let (f, t) = (resolve(from, start)?, resolve(to, end)?);
    let show = |x: i64| label(x, start, absolute, true);
    if f >= t {
        return Err(WindowError::Empty {
            from: show(f),
            to: show(t),
        });
    }
    if t <= start || f >= end {
        return Err(WindowError::Outside {
            from: show(f),
            to: show(t),
            start: show(start),
            end: show(end),
        });
    }
    Ok((f.max(start), t.min(end)))
}

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const STEPS: [i64; 16] = [
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    14 * DAY,
    28 * DAY,
];

/// Tick positions on `[from, to]`: the smallest round step giving at most
/// `most` ticks, at multiples of it (since the epoch for dates, so days
/// start at midnight UTC; since the trace's start otherwise).
pub fn ticks(from: i64, to: i64, start: i64, absolute: bool, most: i64) -> Vec<i64> {
    let span = (to - from).max(1);
    let most = most.max(2);
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s < most)
        .unwrap_or_else(|| (span / most / DAY + 1) * DAY);
    let origin = if absolute { 0 } else { start };
    let first = origin + (from - origin).div_euclid(step) * step;
    let first = if first < from { first + step } else { first };
    (0..)
        .map(|k| first + k * step)
        .take_while(|&t| t <= to)
        .collect()
}

/// A tick's label: dates as `Dec 05`, `Dec 05 06:00` or `06:00` (UTC, as
/// much as the span needs); offsets as `2d 06:00` or `06:00`.
pub fn label(t: i64, start: i64, absolute: bool, long_span: bool) -> String {
    if absolute {
        let Some(d) = DateTime::<Utc>::from_timestamp(t, 0) else {
            return t.to_string();
        };
        let midnight = t.rem_euclid(DAY) == 0;
        let fmt = match (long_span, midnight) {
            (true, true) => "%b %d",
            (true, false) => "%b %d %H:%M",
            (false, _) => "%H:%M",
        };
        return d.format(fmt).to_string();
    }
    let s = t - start;
    let (d, h, m) = (
        s.div_euclid(DAY),
        s.rem_euclid(DAY) / HOUR,
        s.rem_euclid(HOUR) / MINUTE,
    );
    match (long_span, h == 0 && m == 0) {
        (true, true) => format!("{d}d"),
        (true, false) => format!("{d}d {h:02}:{m:02}"),
        (false, _) => format!("{}:{m:02}", d * 24 + h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEC5: i64 = 1_796_428_800; // 2026-12-05T00:00:00Z

    #[test]
    fn window_ends_parse_as_dates_or_offsets() {
        assert_eq!(
            "36h".parse::<PlotTime>().unwrap(),
            PlotTime::Offset(36 * HOUR)
        );
        assert_eq!(
            "2026-12-05".parse::<PlotTime>().unwrap(),
            PlotTime::At(DEC5)
        );
        assert_eq!(
            "2026-12-05T06:00:00+00:00".parse::<PlotTime>().unwrap(),
            PlotTime::At(DEC5 + 6 * HOUR)
        );
        for bad in ["yesterday", "1500ms", "-5s", "2026-13-01"] {
            assert!(bad.parse::<PlotTime>().is_err(), "{bad}");
        }
    }

    #[test]
    fn windows_are_resolved_clamped_and_refused() {
        let (s, e) = (DEC5, DEC5 + 3 * DAY);
        assert_eq!(window(None, None, s, e, true).unwrap(), (s, e));
        let from = Some(PlotTime::Offset(DAY));
        let to = Some(PlotTime::At(DEC5 + 2 * DAY));
        assert_eq!(
            window(from, to, s, e, true).unwrap(),
            (s + DAY, s + 2 * DAY)
        );
        let far = Some(PlotTime::Offset(30 * DAY));
        assert_eq!(window(from, far, s, e, true).unwrap(), (s + DAY, e));
        assert!(matches!(
            window(to, from, s, e, true),
            Err(WindowError::Empty { .. })
        ));
        assert!(matches!(
            window(far, None, s, e, true),
            Err(WindowError::Empty { .. })
        ));
        let later = Some(PlotTime::Offset(40 * DAY));
        assert!(matches!(
            window(far, later, s, e, true),
            Err(WindowError::Outside { .. })
        ));
        assert!(matches!(
            window(to, None, 0, DAY, false),
            Err(WindowError::NotAbsolute)
        ));
    }

    #[test]
    fn ticks_fall_on_round_times_and_labels_say_what_the_span_needs() {
        // Three days of dates, at most 6 ticks: every 12 hours from midnight UTC.
        let t = ticks(DEC5 + 5 * HOUR, DEC5 + 3 * DAY + HOUR, DEC5, true, 6);
        assert_eq!(
            t,
            [DEC5 + DAY, DEC5 + 2 * DAY, DEC5 + 3 * DAY]
                .iter()
                .flat_map(|&d| [d - 12 * HOUR, d])
                .collect::<Vec<_>>()
        );
        assert_eq!(label(t[1], DEC5, true, true), "Dec 06");
        assert_eq!(label(t[0], DEC5, true, true), "Dec 05 12:00");
        // Two hours relative to a start at 17 s past the minute: ticks at
        // 15-minute offsets from the start.
        let t = ticks(17, 17 + 2 * HOUR, 17, false, 12);
        assert_eq!(t.len(), 9);
        assert!(t.iter().all(|x| (x - 17) % (15 * MINUTE) == 0));
        assert_eq!(label(17 + 90 * MINUTE, 17, false, false), "1:30");
        assert_eq!(label(17 + DAY + 6 * HOUR, 17, false, true), "1d 06:00");
        // Never more than asked, whatever the span.
        for span in [59, HOUR, 5 * DAY, 400 * DAY] {
            let n = ticks(0, span, 0, true, 10).len();
            assert!((1..=10).contains(&n), "{span}: {n}");
        }
    }
}
