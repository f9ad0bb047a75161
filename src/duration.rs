//! Durations as people write them in policies and flags: `500ms`, `30s`,
//! `5m`, `2h`, `1d`, or a bare number of seconds. A leaf: imports nothing from
//! the crate.

/// Parses a duration into milliseconds.
///
/// ```
/// assert_eq!(scalepilot::duration::parse_ms("1m"), Ok(60_000));
/// assert_eq!(scalepilot::duration::parse_ms("250ms"), Ok(250));
/// assert!(scalepilot::duration::parse_ms("5 parsecs").is_err());
/// ```
pub fn parse_ms(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("expected a duration like 30s, 5m, 2h or 1d, got {text:?}"))?;
    let k = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "unknown duration unit {unit:?} in {text:?}: use ms, s, m, h or d"
            ))
        }
    };
    n.checked_mul(k)
        .ok_or_else(|| format!("duration {text:?} is too long"))
}
