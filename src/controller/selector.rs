//! The label selector string a `/scale` subresource reports
//! (`status.selector`, e.g. `app=web,tier in (a,b),!canary`), read into
//! kube's own [`Selector`] so that matching is kube's. kube builds selectors
//! from `LabelSelector` objects but does not parse the string form, which is
//! all a custom resource's `/scale` gives; the grammar is Kubernetes'
//! `labels.Parse` without the numeric `>`/`<` (never valid on pods).

use std::collections::BTreeSet;

use kube::core::{Expression, Selector};

/// Why a selector string was not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("label selector {selector:?}: {reason}")]
pub struct SelectorError {
    pub selector: String,
    pub reason: String,
}

/// Parses a selector string. An empty string is the empty selector (which
/// selects everything; the caller decides whether that is acceptable).
pub fn parse(text: &str) -> Result<Selector, SelectorError> {
    let fail = |reason: String| SelectorError {
        selector: text.to_string(),
        reason,
    };
    let mut exprs = Vec::new();
    for part in split_top(text).map_err(fail)? {
        exprs.push(requirement(part).map_err(fail)?);
    }
    Ok(exprs.into_iter().collect())
}

/// Splits on the commas that are outside parentheses.
fn split_top(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0u32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' if depth == 0 => depth = 1,
            '(' => return Err("nested parentheses".into()),
            ')' if depth == 1 => depth = 0,
            ')' => return Err("a ')' without its '('".into()),
            ',' if depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("a '(' without its ')'".into());
    }
    let last = text[start..].trim();
    if !(last.is_empty() && out.is_empty()) {
        out.push(last);
    }
    match out.iter().any(|p| p.is_empty()) {
        true => Err("an empty requirement (two commas, or a comma at an end)".into()),
        false => Ok(out),
    }
}

fn requirement(part: &str) -> Result<Expression, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Expression::DoesNotExist(key_of(key)?));
    }
    for (op, make) in [
        (
            "!=",
            Expression::NotEqual as fn(String, String) -> Expression,
        ),
        ("==", Expression::Equal),
        ("=", Expression::Equal),
    ] {
        if let Some((k, v)) = part.split_once(op) {
            return Ok(make(key_of(k)?, value_of(v)?));
        }
    }
    if part.contains(['>', '<']) {
        return Err(format!("{part:?}: numeric comparisons do not select pods"));
    }
    let mut words = part.splitn(2, char::is_whitespace);
    let key = key_of(words.next().unwrap_or_default())?;
    let Some(rest) = words.next().map(str::trim) else {
        return Ok(Expression::Exists(key));
    };
    let (op, set) = rest
        .split_once(|c: char| c == '(' || c.is_whitespace())
        .map(|(op, s)| (op.trim(), s.trim_start_matches('(')))
        .ok_or_else(|| format!("{part:?}: expected `in (...)` or `notin (...)`"))?;
    let set = set
        .strip_suffix(')')
        .ok_or_else(|| format!("{part:?}: the value set must end with ')'"))?;
    let values = set
        .split(',')
        .map(value_of)
        .collect::<Result<BTreeSet<_>, _>>()?;
    match op {
        "in" => Ok(Expression::In(key, values)),
        "notin" => Ok(Expression::NotIn(key, values)),
        other => Err(format!(
            "{part:?}: unknown operator {other:?} (expected =, ==, !=, in, notin)"
        )),
    }
}

fn key_of(k: &str) -> Result<String, String> {
    let k = k.trim();
    let ok = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    match ok {
        true => Ok(k.to_string()),
        false => Err(format!("{k:?} is not a label key")),
    }
}

fn value_of(v: &str) -> Result<String, String> {
    let v = v.trim();
    let ok = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    match ok {
        true => Ok(v.to_string()),
        false => Err(format!("{v:?} is not a label value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::SelectorExt;
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator_selects_as_kubernetes_does() {
        let s = parse("app=web, tier in (a, b),env!=prod,!canary,track, zone notin (x)").unwrap();
        let pod = labels(&[("app", "web"), ("tier", "b"), ("track", "1")]);
        assert!(s.matches(&pod));
        for (k, v) in [("canary", "1"), ("env", "prod"), ("zone", "x")] {
            let mut p = pod.clone();
            p.insert(k.into(), v.into());
            assert!(!s.matches(&p), "{k}={v} must not be selected");
        }
        for missing in ["app", "tier", "track"] {
            let mut p = pod.clone();
            p.remove(missing);
            assert!(!s.matches(&p), "without {missing}");
        }
        assert!(parse("app==web")
            .unwrap()
            .matches(&labels(&[("app", "web")])));
        assert!(parse("").unwrap().selects_all());
        // The round trip through kube's rendering.
        let text = parse("a=1,b in (x,y),!c").unwrap().to_string();
        assert_eq!(parse(&text).unwrap().to_string(), text);
    }

    #[test]
    fn malformed_selectors_are_errors_that_say_why() {
        for (bad, why) in [
            ("a=1,,b=2", "empty requirement"),
            ("a=1,", "empty requirement"),
            ("a in (x", "without its ')'"),
            ("a in x)", "without its '('"),
            ("a in ((x))", "nested"),
            ("a like (x)", "unknown operator"),
            ("a>3", "numeric"),
            ("a b=c", "not a label key"),
            ("a=b c", "not a label value"),
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }
}
