//! `scalepilot report FILE...`: read the decision records of a shadow run
//! (`run --dry-run --decisions FILE` beside a live HPA) and print, per target,
//! how scalepilot's decisions compare with the HPA's (`crate::report`). A
//! malformed line is an error naming its file, line and field; a last line
//! without its newline (a controller still writing) is skipped with a note.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Deserialize;

use crate::cli::OutputFormat;
use crate::error::{Error, Result};
use crate::report::{compare, TargetReport, Tick, RISE_WINDOW_MS};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    time: chrono::DateTime<chrono::Utc>,
    target: String,
    decision: LineDecision,
    #[serde(default)]
    hpa: Option<LineHpa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineDecision {
    desired_replicas: i32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineHpa {
    desired_replicas: i32,
}

/// Every target's ticks with both counts, and its count of ticks without an HPA.
type Collected = BTreeMap<String, (Vec<Tick>, usize)>;

fn collect(files: &[PathBuf], out: &mut Collected) -> Result<()> {
    use std::io::BufRead;
    for path in files {
        let read_err = |e| Error::Read {
            path: path.clone(),
            source: e,
        };
        // Line by line: a long shadow run's file is never held whole.
        let mut reader = std::io::BufReader::new(std::fs::File::open(path).map_err(read_err)?);
        let mut raw = String::new();
        for number in 1.. {
            raw.clear();
            if reader.read_line(&mut raw).map_err(read_err)? == 0 {
                break;
            }
            if raw.trim().is_empty() {
                continue;
            }
            let line: Line = match serde_json::from_str(&raw) {
                Ok(l) => l,
                // Without its newline, the line is the last one, maybe still being written.
                Err(_) if !raw.ends_with('\n') => {
                    eprintln!(
                        "{}:{number}: skipped: the last line is incomplete (still being written?)",
                        path.display()
                    );
                    continue;
                }
                Err(e) => {
                    return Err(Error::Input(format!(
                        "{}:{number}: not a decision record: {e}",
                        path.display()
                    )))
                }
            };
            let entry = out.entry(line.target).or_default();
            match line.hpa {
                Some(h) => entry.0.push(Tick {
                    t_ms: line.time.timestamp_millis(),
                    ours: line.decision.desired_replicas,
                    hpa: h.desired_replicas,
                }),
                None => entry.1 += 1,
            }
        }
    }
    Ok(())
}

pub fn run(files: &[PathBuf], output: OutputFormat) -> Result<()> {
    let mut collected = Collected::new();
    collect(files, &mut collected)?;
    let reports: Vec<TargetReport> = collected
        .iter()
        .filter(|(_, (ticks, _))| !ticks.is_empty())
        .map(|(target, (ticks, without))| compare(target, ticks, *without))
        .collect();
    if reports.is_empty() {
        return Err(Error::Input(format!(
            "{}: no decision record carries an HPA's decision ({} target(s) without one): record a shadow run with `scalepilot run --dry-run --decisions FILE` on targets an HPA scales",
            files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
            collected.len()
        )));
    }
    let text = match output {
        OutputFormat::Json => {
            let mut s = String::new();
            for r in &reports {
                s.push_str(&serde_json::to_string(r).map_err(|e| Error::Output(e.into()))?);
                s.push('\n');
            }
            s
        }
        OutputFormat::Text => reports.iter().map(to_text).collect::<Vec<_>>().join("\n"),
    };
    super::simulate::print_stdout(&text)
}

fn to_text(r: &TargetReport) -> String {
    let mut s = String::new();
    let span_min = (r.to_ms - r.from_ms) as f64 / 60_000.0;
    let from = chrono::DateTime::from_timestamp_millis(r.from_ms)
        .map(crate::records::format_time)
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "{}: {} ticks with the HPA beside, {span_min:.0} min from {from}{}",
        r.target,
        r.ticks,
        if r.ticks_without_hpa > 0 {
            format!(" ({} ticks without an HPA left out)", r.ticks_without_hpa)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "  desired counts differ on {:.1}% of ticks (scalepilot higher {:.1}%, lower {:.1}%); mean |difference| {:.2} replicas, largest {:+}",
        r.differ_percent,
        r.scalepilot_higher_percent,
        r.scalepilot_lower_percent,
        r.mean_abs_difference,
        r.largest_difference
    );
    let change = if r.hpa_replica_minutes > 0.0 {
        format!(
            " ({:+.1}%)",
            100.0 * (r.scalepilot_replica_minutes / r.hpa_replica_minutes - 1.0)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "  replica-minutes: scalepilot {:.1}, HPA {:.1}{change}{}",
        r.scalepilot_replica_minutes,
        r.hpa_replica_minutes,
        if r.gaps > 0 {
            format!("; {} gap(s) in the records left out", r.gaps)
        } else {
            String::new()
        }
    );
    let x = &r.rises;
    let lead = x.median_lead_s.map_or(String::new(), |l| {
        if l >= 0.0 {
            format!(", scalepilot {l:.0} s ahead (median)")
        } else {
            format!(", scalepilot {:.0} s behind (median)", -l)
        }
    });
    let _ = writeln!(
        s,
        "  HPA rises: {}: scalepilot first {}, same tick {}, HPA first {}, HPA alone {}{lead}; scalepilot rose alone {} time(s) (the HPA did not follow within {} min)",
        x.hpa_rises,
        x.scalepilot_first,
        x.same_tick,
        x.hpa_first,
        x.hpa_only,
        x.scalepilot_only,
        RISE_WINDOW_MS / 60_000
    );
    s
}
