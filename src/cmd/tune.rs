//! `scalepilot tune`: choose a policy's knobs on the history before
//! `--fraction` (the cheapest within `--budget` of under-provisioned time),
//! write the tuned policy, and replay the rest of the trace with the base
//! policy, the tuned one, the HPA and the oracle to show what it would have done.

use std::io::IsTerminal;
use std::path::Path;

use serde::Serialize;

use crate::cli::TuneArgs;
use crate::error::{Error, Result};
use crate::policy::{load_text, LoadReport, ObjectMeta, PolicySpec, ScalingPolicy};
use crate::sim::{self, Baseline, Capacity, NamedPolicy, SimConfig, Trace, Tuned};

/// Cost and under-provisioning of one autoscaler on one part of the trace.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    name: String,
    replica_hours: f64,
    under_provisioned_pct: f64,
}

pub fn run(args: &TuneArgs) -> Result<()> {
    let mut policies = super::simulate::load_policies(std::slice::from_ref(&args.policy))?;
    if policies.len() != 1 {
        return Err(Error::Input(format!(
            "{}: tune starts from one policy; found {}",
            args.policy.display(),
            policies.len()
        )));
    }
    let base = policies.remove(0);
    let trace = Trace::from_csv_file(&args.trace)?;
    let (history, rest) = trace.split(args.fraction)?;
    if history.ts.len() < 2 * args.periods as usize {
        return Err(Error::Input(format!(
            "{}: --periods {} needs at least 2 samples of history per period; the history has {}",
            args.trace.display(),
            args.periods,
            history.ts.len()
        )));
    }
    // One replica's capacity is fixed from the history alone (auto:N sizes it
    // on the history's 99th percentile) so that a target means the same on
    // both parts and nothing is learned from the part held out.
    let capacity = match (args.world.capacity_per_replica, args.world.capacity) {
        (Some(c), _) | (None, Capacity::PerReplica(c)) => Capacity::PerReplica(c),
        (None, Capacity::Rescaled(k)) => Capacity::Rescaled(k),
        (None, Capacity::Auto(n)) => {
            let p99 = history.quantile(0.99);
            if p99 <= 0.0 {
                return Err(Error::Input(format!(
                    "{}: the history's 99th percentile is 0, so capacity auto:{n} is undefined; give --capacity-per-replica",
                    args.trace.display()
                )));
            }
            Capacity::Rescaled(f64::from(n) * sim::AUTO_UNITS_PER_REPLICA / p99)
        }
    };
    let cfg = SimConfig {
        capacity,
        ..args.world.sim_config(args.hpa_target)
    };
    cfg.check()?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(sim::max_replays(&base) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} tuning [{bar:30}] {pos}/{len} replays at most, {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let tuned = sim::tune(&history, &base, &cfg, args.budget, args.periods, || {
        if let Some(b) = &bar {
            b.inc(1);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let tuned_policy = NamedPolicy {
        name: format!("{}-tuned", base.name),
        spec: tuned.spec.clone(),
        forecast: base.forecast.clone(),
    };
    // The held-out part, with the history as the models' past.
    let past: Vec<(i64, f64)> = history
        .ts
        .iter()
        .copied()
        .zip(history.values.iter().copied())
        .collect();
    let past = std::sync::Arc::new(past);
    let mut both = vec![base.clone(), tuned_policy];
    for p in &mut both {
        if let Some(f) = p.forecast.as_mut() {
            f.warmup = past.clone();
        }
    }
    let check = SimConfig {
        baselines: vec![Baseline::Hpa, Baseline::Oracle],
        ..cfg.clone()
    };
    let held_out = sim::run(rest, &both, &check, |_, _, _| {})?;
    let held_out: Vec<Row> = held_out
        .scorecards()
        .iter()
        .map(|c| Row {
            name: c.name.clone(),
            replica_hours: c.replica_hours,
            under_provisioned_pct: c.under_provisioned_pct,
        })
        .collect();
    let yaml = tuned_yaml(args, &base, &tuned, &capacity)?;
    std::fs::write(&args.out, yaml).map_err(Error::Output)?;
    let out = if args.json {
        let v = serde_json::json!({
            "trace": args.trace.display().to_string(),
            "fraction": args.fraction,
            "budgetPct": args.budget,
            "periods": args.periods,
            "capacity": describe(&capacity),
            "withinBudget": tuned.within_budget,
            "replays": tuned.replays,
            "steps": tuned.steps,
            "history": {"base": tuned.base, "tuned": tuned.best},
            "heldOut": held_out,
            "out": args.out.display().to_string(),
        });
        let mut s = serde_json::to_string_pretty(&v).map_err(|e| Error::Output(e.into()))?;
        s.push('\n');
        s
    } else {
        text(args, &base.name, &tuned, &held_out, &capacity)
    };
    super::simulate::print_stdout(&out)
}

/// The tuned policy as YAML, checked by the same loader `validate` uses.
fn tuned_yaml(
    args: &TuneArgs,
    base: &NamedPolicy,
    tuned: &Tuned,
    capacity: &Capacity,
) -> Result<String> {
    let mut spec: PolicySpec = tuned.spec.clone();
    // A model path relative to the base policy stays right next to the output.
    if let Some(f) = spec.forecast.as_mut() {
        let model = Path::new(&f.model);
        let from = args.policy.parent().unwrap_or(Path::new(""));
        let to = args.out.parent().unwrap_or(Path::new(""));
        if model.is_relative() && from != to {
            f.model = std::path::absolute(from.join(model))
                .map_err(Error::Output)?
                .display()
                .to_string();
        }
    }
    let doc = ScalingPolicy {
        api_version: "scalepilot.io/v1alpha1".into(),
        kind: "ScalingPolicy".into(),
        metadata: ObjectMeta {
            name: base.name.clone(),
            ..base_metadata(args)?
        },
        spec,
    };
    let body =
        serde_saphyr::to_string(&doc).map_err(|e| Error::Input(format!("tuned policy: {e}")))?;
    let text = format!(
        "# Tuned by `scalepilot tune` from {} on the first {:.0} % of {}\n\
         # ({}): {:.1} replica-h, under-provisioned\n\
         # {:.3} % of the time ({:.3} % in its worst stretch of one {}-th of it) against a budget of {} % ({}).\n\
         # Base policy: {:.1} replica-h, {:.3} %.\n{body}",
        args.policy.display(),
        args.fraction * 100.0,
        args.trace.display(),
        describe(capacity),
        tuned.best.replica_hours,
        tuned.best.under_provisioned_pct,
        tuned.best.worst_period_pct,
        args.periods,
        args.budget,
        if tuned.within_budget { "within it" } else { "NOT within it: the least often short found" },
        tuned.base.replica_hours,
        tuned.base.under_provisioned_pct,
    );
    let mut report = LoadReport::default();
    load_text(&args.out, &text, &mut report);
    if let Some(p) = report.problems.first() {
        return Err(Error::Input(format!(
            "the tuned policy does not validate: {p}"
        )));
    }
    Ok(text)
}

/// What one replica serves, in words.
fn describe(capacity: &Capacity) -> String {
    match capacity {
        Capacity::Rescaled(k) => format!(
            "the trace ×{k:.6} so one replica serves 100 units, sized on the history's 99th percentile"
        ),
        other => format!("one replica serves {} units", other.per_replica()),
    }
}

/// The base policy's metadata (namespace, labels), read again from its file.
fn base_metadata(args: &TuneArgs) -> Result<ObjectMeta> {
    let report = crate::policy::load_paths(std::slice::from_ref(&args.policy));
    Ok(report
        .policies
        .into_iter()
        .next()
        .map(|p| p.policy.metadata)
        .unwrap_or_default())
}

fn text(
    args: &TuneArgs,
    base: &str,
    tuned: &Tuned,
    held_out: &[Row],
    capacity: &Capacity,
) -> String {
    let mut out = format!(
        "trace {}: tuned on the first {:.0} %, checked on the rest; {}\n",
        args.trace.display(),
        args.fraction * 100.0,
        describe(capacity)
    );
    out.push_str(&format!(
        "budget: under-provisioned at most {} % of the time in every stretch of one {}-th of the history; {} replays\n",
        args.budget, args.periods, tuned.replays
    ));
    if tuned.steps.is_empty() {
        out.push_str("no change to the base policy did better\n");
    }
    for s in &tuned.steps {
        out.push_str(&format!(
            "  {} = {} → {:.1} replica-h, {:.3} % ({:.3} % in the worst stretch)\n",
            s.knob,
            s.value,
            s.score.replica_hours,
            s.score.under_provisioned_pct,
            s.score.worst_period_pct
        ));
    }
    if !tuned.within_budget {
        out.push_str("no variant tried stays within the budget: this is the least often short\n");
    }
    out.push_str(&format!(
        "\n{:<22} {:>26} {:>26}\n",
        "autoscaler", "history: replica-h / τU %", "held out: replica-h / τU %"
    ));
    let history = |name: &str| -> String {
        let s = if name == base {
            Some(tuned.base)
        } else if name.ends_with("-tuned") {
            Some(tuned.best)
        } else {
            None
        };
        s.map_or("-".into(), |s| {
            format!("{:.1} / {:.3}", s.replica_hours, s.under_provisioned_pct)
        })
    };
    for r in held_out {
        out.push_str(&format!(
            "{:<22} {:>26} {:>26}\n",
            r.name,
            history(&r.name),
            format!("{:.1} / {:.3}", r.replica_hours, r.under_provisioned_pct)
        ));
    }
    out.push_str(&format!("wrote {}\n", args.out.display()));
    out
}
