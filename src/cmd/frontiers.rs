//! `scalepilot simulate --sweep FROM:TO:STEP`: every autoscaler replayed at
//! each target; prints the frontiers (replica-hours against under-provisioned
//! time) and every policy read at the HPA's point, as text or JSON, and draws
//! them with `--plot`.

use std::io::IsTerminal;

use crate::cli::SimulateArgs;
use crate::error::{Error, Result};
use crate::sim::{self, NamedPolicy, SimConfig, Sweep, SweepOutcome, Trace};

pub fn run(
    args: &SimulateArgs,
    sweep: &Sweep,
    trace: &Trace,
    policies: &[NamedPolicy],
    cfg: &SimConfig,
    describe: &str,
) -> Result<()> {
    let targets = sweep.targets();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(targets.len() as u64 + 1);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} sweeping targets [{bar:30}] {pos}/{len}, last {msg}, {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let outcome = sim::sweep(trace, policies, cfg, &targets, |t| {
        if let Some(b) = &bar {
            b.inc(1);
            b.set_message(format!("{t} %"));
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(path) = &args.plot {
        sim::plot_frontiers(&outcome, &trace.name, path)?;
    }
    if let Some(path) = &args.html {
        sim::html::write(path, &sim::html::sweep_report(trace, &outcome, describe))?;
    }
    let out = if args.json {
        let json = serde_json::json!({
            "trace": describe,
            "sweep": outcome,
        });
        let mut s = serde_json::to_string_pretty(&json).map_err(|e| Error::Output(e.into()))?;
        s.push('\n');
        s
    } else {
        let mut s = format!("{describe}\n{}", text(&outcome));
        if let Some(path) = &args.plot {
            s.push_str(&format!("picture: {}\n", path.display()));
        }
        if let Some(path) = &args.html {
            s.push_str(&format!("report: {}\n", path.display()));
        }
        s
    };
    super::simulate::print_stdout(&out)
}

/// The frontiers as a table (one row per autoscaler, one column per target)
/// and the readings at the HPA's point.
pub fn text(s: &SweepOutcome) -> String {
    let mut out = format!(
        "frontiers: replica-hours / under-provisioned time (%) at each target (% of one replica's {} units)\n",
        s.capacity_per_replica
    );
    out.push_str(&format!("{:<16}", "autoscaler"));
    for t in &s.targets {
        out.push_str(&format!(" {:>15}", format!("{t} %")));
    }
    out.push('\n');
    for f in &s.frontiers {
        out.push_str(&format!("{:<16}", f.name));
        for t in &s.targets {
            let cell = f.at(*t).map_or("-".to_string(), |p| {
                format!("{:.0} / {:.2}", p.replica_hours, p.under_provisioned_pct)
            });
            out.push_str(&format!(" {cell:>15}"));
        }
        out.push('\n');
    }
    if let Some(o) = s.oracle_replica_hours {
        out.push_str(&format!("{:<16} {o:.0} replica-h, never short\n", "oracle"));
    }
    let Some(r) = &s.reference else {
        out.push_str("(no HPA baseline: nothing to read the frontiers at)\n");
        return out;
    };
    out.push_str(&format!(
        "\nread at the HPA's point (target {} %: {:.0} replica-h, short {:.2} % of the time):\n",
        r.target, r.replica_hours, r.under_provisioned_pct
    ));
    out.push_str(&format!(
        "{:<16} {:>24} {:>26} {:>22}\n",
        "autoscaler", "τU at the HPA's cost", "cost at the HPA's τU", "HPA→oracle gap closed"
    ));
    let rel = |v: f64, base: f64| {
        if base > 0.0 {
            format!(" ({:+.0} %)", (v - base) / base * 100.0)
        } else {
            String::new()
        }
    };
    for c in &s.comparisons {
        let under = c
            .under_at_reference_cost
            .map_or("none that cheap".into(), |u| {
                format!("{u:.2}{}", rel(u, r.under_provisioned_pct))
            });
        let cost = c
            .cost_at_reference_under
            .map_or("never that rarely short".into(), |v| {
                format!("{v:.0}{}", rel(v, r.replica_hours))
            });
        let gap = c
            .oracle_gap_closed_pct
            .map_or("-".into(), |g| format!("{g:.0} %"));
        out.push_str(&format!(
            "{:<16} {under:>24} {cost:>26} {gap:>22}\n",
            c.name
        ));
    }
    out
}
