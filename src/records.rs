//! Decision records, the JSON lines `run --decisions` and `simulate
//! --decisions` write: which decisions are kept (`--changes-only`) and what a
//! line carries. A decision's stabilization and rate-limit history is most of
//! its size (kilobytes once a window fills) and repeats from line to line, so
//! it is left out unless asked for (`--decisions-history`). Times are RFC 3339
//! in UTC with a `Z`.

use serde::Serialize;
use serde_json::Value;

use crate::decide::{Decision, Time};

/// How records are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordOptions {
    /// Keep only decisions whose desired count differs from the current one.
    pub changes_only: bool,
    /// Keep each decision's history.
    pub history: bool,
}

impl RecordOptions {
    /// Whether decision `d` is recorded.
    pub fn keeps(&self, d: &Decision) -> bool {
        !self.changes_only || d.desired_replicas != d.current_replicas
    }

    /// One record as a line (no newline). `history` keys are dropped at the top
    /// level and under `decision` unless the history is asked for.
    pub fn line<T: Serialize>(&self, record: &T) -> serde_json::Result<String> {
        if self.history {
            return serde_json::to_string(record);
        }
        let mut v = serde_json::to_value(record)?;
        if let Value::Object(top) = &mut v {
            top.remove("history");
            if let Some(Value::Object(d)) = top.get_mut("decision") {
                d.remove("history");
            }
        }
        serde_json::to_string(&v)
    }
}

/// A record's time: RFC 3339, UTC, `Z`, milliseconds only when there are any.
pub fn format_time(t: Time) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Serde helper for a record's [`Time`] field in the records' format.
pub fn serialize_time<S: serde::Serializer>(t: &Time, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::History;

    fn decision(current: i32, desired: i32) -> Decision {
        let mut h = History::default();
        h.record_initial(4, Time::default());
        Decision {
            desired_replicas: desired,
            current_replicas: current,
            proposals: vec![],
            steps: vec![],
            conditions: vec![],
            rescale_reason: None,
            history: h,
            error: None,
        }
    }

    #[derive(Serialize)]
    struct Line<'a> {
        autoscaler: &'a str,
        #[serde(serialize_with = "serialize_time")]
        time: Time,
        decision: &'a Decision,
    }

    #[test]
    fn history_is_left_out_unless_asked_and_changes_only_keeps_changes() {
        let d = decision(3, 5);
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let rec = Line {
            autoscaler: "p",
            time: t,
            decision: &d,
        };
        let plain = RecordOptions::default().line(&rec).unwrap();
        assert!(!plain.contains("history"), "{plain}");
        assert!(
            plain.contains("\"time\":\"2023-11-14T22:13:20Z\""),
            "{plain}"
        );
        let full = RecordOptions {
            history: true,
            ..RecordOptions::default()
        }
        .line(&rec)
        .unwrap();
        assert!(full.contains("\"history\""), "{full}");
        let changes = RecordOptions {
            changes_only: true,
            ..RecordOptions::default()
        };
        assert!(changes.keeps(&d));
        assert!(!changes.keeps(&decision(4, 4)));
        assert!(RecordOptions::default().keeps(&decision(4, 4)));
    }
}
