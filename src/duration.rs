//! Durations as people write them in policies and flags: `500ms`, `30s`,
//! `5m`, `1.5h`, `1h 30m`, `1d` (read by `humantime`), or a bare number of
//! seconds; and the one rule that ties
//! two of them together, the windows a sample falls in for a window and its
//! slide. A leaf: imports nothing from the crate.

/// A duration that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("expected a duration like 30s, 5m, 2h or 1d, got {0:?}")]
    NotADuration(String),
    #[error("unknown duration unit {unit:?} in {text:?}: use ms, s, m, h or d")]
    UnknownUnit { unit: String, text: String },
    #[error("duration {0:?} is finer than a millisecond")]
    FinerThanMs(String),
    #[error("duration {0:?} is too long")]
    TooLong(String),
}

/// Parses a duration into milliseconds: a bare number is seconds; anything
/// else is read by `humantime` (`500ms`, `30s`, `5m`, `1.5h`, `1h 30m`, `2d`),
/// and must be whole milliseconds.
///
/// ```
/// assert_eq!(scalepilot::duration::parse_ms("1m"), Ok(60_000));
/// assert_eq!(scalepilot::duration::parse_ms("1h30m"), Ok(5_400_000));
/// assert_eq!(scalepilot::duration::parse_ms("250ms"), Ok(250));
/// assert!(scalepilot::duration::parse_ms("5 parsecs").is_err());
/// ```
pub fn parse_ms(text: &str) -> Result<i64, DurationError> {
    let t = text.trim();
    let too_long = || DurationError::TooLong(text.to_string());
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = t.parse().map_err(|_| too_long())?;
        return n.checked_mul(1000).ok_or_else(too_long);
    }
    let d = humantime::parse_duration(t).map_err(|e| match e {
        humantime::DurationError::UnknownUnit { unit, .. } => DurationError::UnknownUnit {
            unit,
            text: text.to_string(),
        },
        humantime::DurationError::NumberOverflow => too_long(),
        _ => DurationError::NotADuration(text.to_string()),
    })?;
    if d.subsec_nanos() % 1_000_000 != 0 {
        return Err(DurationError::FinerThanMs(text.to_string()));
    }
    i64::try_from(d.as_millis()).map_err(|_| too_long())
}

/// The most windows one sample may fall in: a window of `w` sliding every `s`
/// holds each sample in `w / s` windows, and every one of them is updated per
/// sample and kept in memory (a quantile sketch, a distinct-count sketch and
/// the sums: about 2.5 KB) per series. 120 allows a 60 s window sliding every
/// second, 10 min every 5 s, 1 h every 30 s or 1 d every 12 min, at about
/// 300 KB per series; `window: 1d, slide: 1s` (86 400 windows, 16 ms and
/// 218 MB per series) is refused.
pub const MAX_WINDOWS_PER_SAMPLE: i64 = 120;

/// A window and slide that put one sample in too many windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "a {window_ms} ms window sliding every {slide_ms} ms puts each sample in {windows} windows; \
     at most {MAX_WINDOWS_PER_SAMPLE} are allowed: slide by at least 1/{MAX_WINDOWS_PER_SAMPLE} of the window"
)]
pub struct TooManyWindows {
    pub window_ms: i64,
    pub slide_ms: i64,
    /// Unbounded when the slide is zero or negative.
    pub windows: WindowCount,
}

/// A stream's window and slide that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error(transparent)]
    TooMany(#[from] TooManyWindows),
}

/// How many windows hold one sample, for [`TooManyWindows`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowCount(pub Option<i64>);

impl std::fmt::Display for WindowCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("unboundedly many"),
        }
    }
}

/// The windows one sample falls in for a `window_ms` window sliding every
/// `slide_ms` (the window rounded up to whole slides), or an error past
/// [`MAX_WINDOWS_PER_SAMPLE`].
///
/// ```
/// use scalepilot::duration::windows_per_sample;
/// assert_eq!(windows_per_sample(60_000, 5_000), Ok(12));
/// assert!(windows_per_sample(86_400_000, 1_000).is_err());
/// ```
pub fn windows_per_sample(window_ms: i64, slide_ms: i64) -> Result<i64, TooManyWindows> {
    let n = (slide_ms > 0).then(|| {
        let whole = window_ms.div_euclid(slide_ms);
        whole + i64::from(window_ms.rem_euclid(slide_ms) != 0)
    });
    match n {
        Some(n) if n <= MAX_WINDOWS_PER_SAMPLE => Ok(n.max(1)),
        _ => Err(TooManyWindows {
            window_ms,
            slide_ms,
            windows: WindowCount(n),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            parse_ms("5x").unwrap_err().to_string(),
            "unknown duration unit \"x\" in \"5x\": use ms, s, m, h or d"
        );
        assert!(matches!(
            parse_ms("-5s"),
            Err(DurationError::NotADuration(_))
        ));
        assert!(matches!(
            parse_ms("99999999999999999d"),
            Err(DurationError::TooLong(_))
        ));
        assert!(matches!(
            parse_ms("99999999999999999999"),
            Err(DurationError::TooLong(_))
        ));
        assert!(matches!(
            parse_ms("1500us"),
            Err(DurationError::FinerThanMs(_))
        ));
        for bad in ["", "s", "5 parsecs", "1h-5m"] {
            assert!(parse_ms(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_ms(" 90 "), Ok(90_000));
        assert_eq!(parse_ms("1.5h"), Ok(5_400_000));
        assert_eq!(parse_ms("1h 30m"), Ok(5_400_000));
        assert_eq!(parse_ms("2000us"), Ok(2));
    }

    #[test]
    fn windows_per_sample_is_bounded() {
        assert_eq!(windows_per_sample(60_000, 60_000), Ok(1));
        assert_eq!(windows_per_sample(60_000, 500), Ok(120));
        assert_eq!(windows_per_sample(3_600_000, 30_000), Ok(120));
        let e = windows_per_sample(86_400_000, 1_000).unwrap_err();
        assert_eq!(e.windows, WindowCount(Some(86_400)));
        assert!(e.to_string().contains("86400 windows"), "{e}");
        assert!(windows_per_sample(3_600_000, 29_999).is_err());
        assert!(windows_per_sample(60_000, 0).is_err());
        assert!(windows_per_sample(60_000, -5).is_err());
    }
}
