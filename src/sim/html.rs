//! `simulate --html`: one self-contained HTML file (data, script and style
//! inlined; it opens from disk with no server and fetches nothing) with the
//! load, every autoscaler's ready capacity and replicas, its scale actions and
//! under-provisioned intervals, forecasts and the gate's trust where a policy
//! has one, zoom and pan over the whole trace, the scorecard, and the
//! frontiers when the run swept targets.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::plot::{envelope, replay_colors};
use super::{Outcome, Scorecard, SweepOutcome, Trace};
use crate::error::{Error, Result};

const TEMPLATE: &str = include_str!("assets/report.html");
const SCRIPT: &str = include_str!("assets/report.js");
const STYLE: &str = include_str!("assets/report.css");

/// Load samples inlined at most; longer traces keep each bucket's maximum.
pub const MAX_LOAD_POINTS: usize = 200_000;

/// A policy's forecast at each change: (time, replicas it asked for, trusted by the gate).
pub type ForecastMarks = BTreeMap<String, Vec<(i64, i32, bool)>>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Series {
    t: Vec<i64>,
    v: Vec<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AutoscalerData<'a> {
    name: &'a str,
    color: String,
    /// Ready capacity at each change, in load units.
    capacity: &'a [(i64, f64)],
    /// Scale actions: (time, new replica count).
    actions: &'a [(i64, i32)],
    /// Under-provisioned intervals `[from, to)`.
    short: &'a [(i64, i64)],
    /// Forecast changes: (time, replicas asked for, trusted).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    forecast: &'a [(i64, i32, bool)],
}

/// What the page draws.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report<'a> {
    title: String,
    describe: &'a str,
    absolute_time: bool,
    capacity_per_replica: f64,
    load: Series,
    autoscalers: Vec<AutoscalerData<'a>>,
    scorecards: Vec<&'a Scorecard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sweep: Option<&'a SweepOutcome>,
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn load(trace: &Trace) -> Series {
    let points: Vec<(i64, f64)> = trace
        .ts
        .iter()
        .copied()
        .zip(trace.values.iter().copied())
        .collect();
    let (t, v) = envelope(&points, MAX_LOAD_POINTS).into_iter().unzip();
    Series { t, v }
}

/// A replay's report: every autoscaler over the trace.
pub fn replay_report<'a>(
    outcome: &'a Outcome,
    forecasts: &'a ForecastMarks,
    describe: &'a str,
) -> Report<'a> {
    let colors = replay_colors(outcome);
    Report {
        title: format!("scalepilot simulate: {}", outcome.trace.name),
        describe,
        absolute_time: outcome.trace.absolute_time,
        capacity_per_replica: outcome.world.capacity,
        load: load(&outcome.trace),
        autoscalers: outcome
            .replays
            .iter()
            .zip(colors)
            .map(|(r, c)| AutoscalerData {
                name: &r.score.name,
                color: hex(c),
                capacity: &r.capacity,
                actions: &r.actions,
                short: &r.short,
                forecast: forecasts.get(&r.score.name).map_or(&[], Vec::as_slice),
            })
            .collect(),
        scorecards: outcome.scorecards(),
        sweep: None,
    }
}

/// A sweep's report: the load and the frontiers.
pub fn sweep_report<'a>(trace: &Trace, sweep: &'a SweepOutcome, describe: &'a str) -> Report<'a> {
    Report {
        title: format!("scalepilot simulate --sweep: {}", trace.name),
        describe,
        absolute_time: trace.absolute_time,
        capacity_per_replica: sweep.capacity_per_replica,
        load: load(trace),
        autoscalers: Vec::new(),
        scorecards: Vec::new(),
        sweep: Some(sweep),
    }
}

/// The page for `report`, everything inlined.
pub fn render(report: &Report) -> Result<String> {
    let data = serde_json::to_string(report).map_err(|e| Error::Output(e.into()))?;
    // Inside <script>, only "</" can end the element early: escape it.
    let data = data.replace("</", "<\\/");
    Ok(TEMPLATE
        .replacen("/*STYLE*/", STYLE, 1)
        .replacen("{{TITLE}}", &escape(&report.title), 1)
        .replacen("/*DATA*/", &data, 1)
        .replacen("/*SCRIPT*/", SCRIPT, 1))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes the page to `path`.
pub fn write(path: &Path, report: &Report) -> Result<()> {
    let page = render(report)?;
    std::fs::write(path, page).map_err(|e| {
        Error::Output(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    })
}
