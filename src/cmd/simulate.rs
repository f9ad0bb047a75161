//! `scalepilot simulate`: replay a trace or a synthetic workload through the
//! policies and the baselines; print the scorecard, draw the picture, record
//! every decision. A reader that closes standard output early (`| head`) ends
//! the output quietly, with success.

use std::fs::File;
use std::io::{BufWriter, ErrorKind, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::DateTime;
use serde::Serialize;

use crate::cli::SimulateArgs;
use crate::decide::Decision;
use crate::error::{Error, Result};
use crate::policy::{load_paths, LoadReport, ScalingPolicy};
use crate::sim::{self, NamedPolicy, Outcome, SimConfig, Trace, Workload};

/// The example policy the embedded default replays.
const DEFAULT_POLICY: &str = include_str!("../../policies/checkout-stream.yaml");

/// One line of `--decisions`: which autoscaler, when, and the decision.
#[derive(Serialize)]
struct DecisionLine<'a> {
    autoscaler: &'a str,
    time: String,
    #[serde(flatten)]
    decision: &'a Decision,
}

pub fn run(args: &SimulateArgs) -> Result<()> {
    let embedded = args.trace.is_none() && args.workload.is_none() && args.policy.is_empty();
    let mut policies = load_policies(&args.policy)?;
    let trace = match (&args.trace, args.workload) {
        (Some(path), _) => Trace::from_csv_file(path)?,
        (None, w) => w
            .unwrap_or(Workload::FlashCrowd)
            .try_generate(args.seed, args.duration.0, 60)
            .map_err(|e| Error::Input(format!("--duration {}s: {e}", args.duration.0)))?,
    };
    // Replay only the part after `--from-fraction`; the part before is the
    // past the models see (and what they were trained on).
    let (trace, past) = match args.from_fraction {
        Some(f) if f > 0.0 && f < 1.0 => {
            let n = trace.values.len();
            let cut = ((n as f64) * f) as usize;
            if n.saturating_sub(cut) < 2 {
                return Err(Error::Input(format!(
                    "--from-fraction {f}: leaves {} of the trace's {n} samples to replay; at least 2 are needed",
                    n.saturating_sub(cut)
                )));
            }
            let past: Vec<(i64, f64)> = trace.ts[..cut]
                .iter()
                .copied()
                .zip(trace.values[..cut].iter().copied())
                .collect();
            (trace.tail(cut)?, past)
        }
        Some(f) => {
            return Err(Error::Input(format!(
                "--from-fraction {f}: must be between 0 and 1"
            )))
        }
        None => (trace, Vec::new()),
    };
    let past = std::sync::Arc::new(past);
    for p in &mut policies {
        if let Some(f) = p.forecast.as_mut() {
            f.warmup = past.clone();
        }
    }
    let cfg = SimConfig {
        baselines: args.baseline.clone(),
        explain: args.decisions.is_some(),
        perfect_forecast: args.perfect_forecast,
        ..args.world.sim_config(args.hpa_target)
    };
    cfg.check()?;
    let describe = describe_trace(&trace);
    if let Some(sweep) = &args.sweep {
        return super::frontiers::run(args, sweep, &trace, &policies, &cfg, &describe);
    }
    let mut record = match &args.decisions {
        Some(p) => Some(BufWriter::new(File::create(p).map_err(|e| {
            Error::Read {
                path: p.clone(),
                source: e,
            }
        })?)),
        None => None,
    };
    let mut record_err = None;
    let records = args.records.options();
    let progress = progress_bar(&trace, policies.len() + args.baseline.len());
    let mut last_autoscaler = String::new();
    // Each policy's forecast where it changes, for --html.
    let mut forecasts = sim::html::ForecastMarks::new();
    let outcome = sim::run(trace, &policies, &cfg, |name, t, d| {
        if args.html.is_some() {
            note_forecast(&mut forecasts, name, t, d);
        }
        if name != last_autoscaler {
            if let Some(p) = &progress {
                p.inc(1);
                p.set_message(name.to_string());
            }
            last_autoscaler = name.to_string();
        }
        if let Some(w) = record.as_mut().filter(|_| records.keeps(d)) {
            let line = DecisionLine {
                autoscaler: name,
                time: DateTime::from_timestamp(t, 0)
                    .map_or_else(|| t.to_string(), crate::records::format_time),
                decision: d,
            };
            let res = records
                .line(&line)
                .map_err(std::io::Error::from)
                .and_then(|l| writeln!(w, "{l}"));
            if let Err(e) = res {
                record_err.get_or_insert(e);
            }
        }
    })?;
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    if let Some(e) = record_err {
        return Err(Error::Output(e));
    }
    if let Some(mut w) = record {
        w.flush().map_err(Error::Output)?;
    }
    let plot_path = args
        .plot
        .clone()
        .or_else(|| embedded.then(|| PathBuf::from("simulate.svg")));
    if let Some(path) = &plot_path {
        sim::plot(&outcome, path, args.plot_from, args.plot_to)?;
    }
    if let Some(path) = &args.html {
        sim::html::write(
            path,
            &sim::html::replay_report(&outcome, &forecasts, &describe),
        )?;
    }
    let mut out = String::new();
    if args.json {
        let json = serde_json::json!({
            "trace": describe,
            "capacityPerReplica": outcome.world.capacity,
            "settings": settings(args),
            "scorecards": outcome.scorecards(),
        });
        out = serde_json::to_string_pretty(&json).map_err(|e| Error::Output(e.into()))?;
        out.push('\n');
    } else {
        out.push_str(&format!("{describe}\n"));
        out.push_str(&table(&outcome));
        out.push_str(LEGEND);
        if let Some(path) = &plot_path {
            out.push_str(&format!("picture: {}\n", path.display()));
        }
        if let Some(path) = &args.decisions {
            out.push_str(&format!("decisions: {}\n", path.display()));
        }
        if let Some(path) = &args.html {
            out.push_str(&format!("report: {}\n", path.display()));
        }
    }
    print_stdout(&out)
}

/// Notes a decision's forecast step when it differs from the last noted:
/// the replicas the forecast asked for and whether the gate trusted it.
fn note_forecast(marks: &mut sim::html::ForecastMarks, name: &str, t: i64, d: &Decision) {
    let Some(step) = d.steps.iter().find(|s| s.step == "forecast") else {
        return;
    };
    let trusted = !matches!(step.reason, "ForecastGated" | "ForecastInvalid");
    let list = marks.entry(name.to_string()).or_default();
    if list
        .last()
        .is_none_or(|&(_, n, tr)| n != step.replicas || tr != trusted)
    {
        list.push((t, step.replicas, trusted));
    }
}

/// Writes `text` to standard output. A reader that went away (`| head`
/// closed the pipe) is no failure: the output just ends there.
pub fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(Error::Output(e)),
        _ => Ok(()),
    }
}

pub(super) fn load_policies(paths: &[PathBuf]) -> Result<Vec<NamedPolicy>> {
    let report = if paths.is_empty() {
        let mut report = LoadReport::default();
        crate::policy::load_text(
            Path::new("policies/checkout-stream.yaml (embedded)"),
            DEFAULT_POLICY,
            &mut report,
        );
        report
    } else {
        load_paths(paths)
    };
    if !report.problems.is_empty() {
        return Err(Error::Policy(
            report.problems.iter().map(ToString::to_string).collect(),
        ));
    }
    if report.policies.is_empty() {
        return Err(Error::Input("--policy: no policy found".into()));
    }
    report
        .policies
        .into_iter()
        .map(|p| {
            let forecast = forecast_setup(&p.file, &p.policy.spec)?;
            let ScalingPolicy { metadata, spec, .. } = p.policy;
            Ok(NamedPolicy {
                name: metadata.name,
                spec,
                forecast,
            })
        })
        .collect()
}

/// Loads a policy's model (relative to the policy file) and checks it fits the policy.
fn forecast_setup(
    file: &Path,
    spec: &crate::policy::PolicySpec,
) -> Result<Option<sim::ForecastSetup>> {
    let loaded = crate::model::PolicyModel::load(Some(file), spec.forecast.as_ref())
        .map_err(|e| Error::Input(format!("{}: {e}", file.display())))?;
    if let Some((m, why)) = loaded.as_ref().and_then(|m| Some((m, m.never_acts()?))) {
        eprintln!(
            "{}: {}: {why}; the policy replays as a reactive one",
            file.display(),
            m.label
        );
    }
    Ok(loaded.map(|m| sim::ForecastSetup {
        model: m,
        scale: 1.0,
        warmup: std::sync::Arc::new(Vec::new()),
        perfect: false,
    }))
}

fn describe_trace(t: &Trace) -> String {
    let span_h = (t.end() - t.start()) as f64 / 3600.0;
    let when = if t.absolute_time {
        DateTime::from_timestamp(t.start(), 0).map_or_else(String::new, |d| {
            format!(" from {}", d.format("%Y-%m-%d %H:%M UTC"))
        })
    } else {
        " (relative time)".into()
    };
    let gaps = if t.filled > 0 {
        format!(
            "; {} missing samples filled by holding the last value",
            t.filled
        )
    } else {
        String::new()
    };
    format!(
        "trace {}: {} samples every {} s over {:.1} h{when}{gaps}",
        t.name,
        t.ts.len(),
        t.interval_s,
        span_h
    )
}

pub(super) fn progress_bar(trace: &Trace, autoscalers: usize) -> Option<indicatif::ProgressBar> {
    let steps = (trace.end() - trace.start()) as usize * autoscalers;
    if !std::io::stderr().is_terminal() || steps < 5_000_000 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(autoscalers as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} replaying {msg} [{bar:30}] {pos}/{len} autoscalers, {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// The scorecard as a text table.
/// What the scorecard's columns mean, printed under it.
pub const LEGEND: &str = "\
replica-h: replica-hours run; ×oracle: that over the oracle's; under-%t: % of time the load \
exceeded ready capacity; unserved%: % of the load not served; util-mean/p95: utilization of \
ready replicas; actions: scale actions; flaps: reversals within 5 min; reaction: time until \
ready capacity covered the largest load rise; trusted: % of time a forecast was trusted\n";

/// The run's settings, so that a `--json` scorecard says how to get it again.
fn settings(args: &SimulateArgs) -> serde_json::Value {
    let w = &args.world;
    serde_json::json!({
        "trace": args.trace,
        "workload": args.trace.is_none().then(|| {
            args.workload.unwrap_or(Workload::FlashCrowd).name()
        }),
        "seed": args.trace.is_none().then_some(args.seed),
        "durationSeconds": args.trace.is_none().then_some(args.duration.0),
        "policies": args.policy,
        "baselines": args.baseline.iter().map(value_name).collect::<Vec<_>>(),
        "hpaTarget": args.hpa_target,
        "capacity": match w.capacity {
            sim::Capacity::Auto(n) => format!("auto:{n}"),
            other => format!("{other:?}"),
        },
        "capacityPerReplica": w.capacity_per_replica,
        "podStartupSeconds": w.pod_startup.0,
        "metricDelaySeconds": w.metric_delay.0,
        "tickSeconds": w.tick.0,
        "interpolation": value_name(&w.interpolate),
        "fromFraction": args.from_fraction,
        "perfectForecast": args.perfect_forecast,
    })
}

/// A command-line value as it is typed.
fn value_name(v: &impl clap::ValueEnum) -> Option<String> {
    v.to_possible_value().map(|p| p.get_name().to_string())
}

pub fn table(outcome: &Outcome) -> String {
    let mut out = format!(
        "{:<14} {:>11} {:>8} {:>10} {:>9} {:>9} {:>8} {:>8} {:>6} {:>9} {:>8}\n",
        "autoscaler",
        "replica-h",
        "×oracle",
        "under-%t",
        "unserved%",
        "util-mean",
        "util-p95",
        "actions",
        "flaps",
        "reaction",
        "trusted"
    );
    for s in outcome.scorecards() {
        let ratio = s
            .cost_vs_oracle
            .map_or("-".to_string(), |r| format!("{r:.2}"));
        let reaction = s
            .reaction_s
            .map_or("never".to_string(), |r| format!("{r} s"));
        let trusted = s
            .forecast_trusted_pct
            .map_or("-".to_string(), |p| format!("{p:.1}%"));
        out.push_str(&format!(
            "{:<14} {:>11.1} {:>8} {:>10.2} {:>9.3} {:>8.1}% {:>7.1}% {:>8} {:>6} {:>9} {:>8}\n",
            s.name,
            s.replica_hours,
            ratio,
            s.under_provisioned_pct,
            s.unserved_pct,
            s.mean_utilization_pct,
            s.p95_utilization_pct,
            s.scale_actions,
            s.flaps,
            reaction,
            trusted
        ));
    }
    out
}
