//! `scalepilot tune` end to end: the tuned policy stays within the budget on
//! the history (in every stretch a period long), validates, is the same on every run,
//! and costs more when the budget is tighter.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scalepilot-tune-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn scalepilot(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_scalepilot"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Three days of a daily cycle with short bursts, one sample a minute.
fn write_trace(dir: &Path) {
    write_trace_with(dir, |_| true);
}

/// Three days of a daily cycle, one sample a minute, with short bursts in the
/// minutes `bursty` selects.
fn write_trace_with(dir: &Path, bursty: impl Fn(i64) -> bool) {
    let mut csv = String::from("ts,value\n");
    for i in 0..3 * 1440i64 {
        let t = 1_700_000_000 + i * 60;
        let day = (i as f64 / 1440.0 * std::f64::consts::TAU).sin();
        let burst = if i % 97 < 4 && bursty(i) { 60.0 } else { 0.0 };
        csv.push_str(&format!("{t},{:.1}\n", 200.0 + 120.0 * day + burst));
    }
    std::fs::write(dir.join("trace.csv"), csv).unwrap();
}

const BASE: &str = "apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {name: web, namespace: shop}
spec:
  target: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 100
  metrics:
    - type: External
      external: {metric: {name: load}, target: {type: AverageValue, averageValue: \"85\"}}
      stream: {window: 60s, aggregate: mean}
";

fn tune(dir: &Path, budget: &str, out: &str) -> Value {
    tune_with(dir, budget, out, &[])
}

fn tune_with(dir: &Path, budget: &str, out: &str, more: &[&str]) -> Value {
    let mut args = vec![
        "tune",
        "--trace",
        "trace.csv",
        "--fraction",
        "0.6",
        "--budget",
        budget,
        "--policy",
        "base.yaml",
        "--out",
        out,
        "--json",
    ];
    args.extend(more);
    let o = scalepilot(dir, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn the_tuned_policy_keeps_the_budget_validates_and_is_deterministic() {
    let dir = workdir("budget");
    write_trace(&dir);
    std::fs::write(dir.join("base.yaml"), BASE).unwrap();
    let loose = tune(&dir, "2%", "loose.yaml");
    let tight = tune(&dir, "0.1%", "tight.yaml");
    for (v, budget) in [(&loose, 2.0), (&tight, 0.1)] {
        assert_eq!(v["withinBudget"], true, "{v}");
        let t = &v["history"]["tuned"];
        assert!(t["underProvisionedPct"].as_f64().unwrap() <= budget, "{v}");
        assert!(t["worstPeriodPct"].as_f64().unwrap() <= budget, "{v}");
        assert!(
            t["worstPeriodPct"].as_f64().unwrap() >= t["underProvisionedPct"].as_f64().unwrap(),
            "no period is better than the average of all: {v}"
        );
        let base = &v["history"]["base"];
        if base["underProvisionedPct"].as_f64().unwrap() <= budget {
            assert!(
                t["replicaHours"].as_f64().unwrap() <= base["replicaHours"].as_f64().unwrap(),
                "never costlier than a base that already kept the budget: {v}"
            );
        }
        let names: Vec<&str> = v["heldOut"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["web", "web-tuned", "hpa", "oracle"]);
    }
    let cost = |v: &Value| v["history"]["tuned"]["replicaHours"].as_f64().unwrap();
    assert!(
        cost(&tight) > cost(&loose),
        "a tighter budget costs more: {} vs {}",
        cost(&tight),
        cost(&loose)
    );
    for f in ["loose.yaml", "tight.yaml"] {
        let v = scalepilot(&dir, &["validate", f]);
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    }
    let again = tune(&dir, "2%", "again.yaml");
    assert_eq!(again["steps"], loose["steps"]);
    let body = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(
        body("again.yaml"),
        body("loose.yaml"),
        "the same inputs give the same policy"
    );
}

#[test]
fn the_budget_holds_in_each_period_not_only_on_average() {
    // Bursts only in the last third of the history (minutes 1728..2592 of
    // the 2592 it holds): averaged over the whole history a third of the
    // bursts' shortfall disappears; judged per period, it does not.
    let dir = workdir("periods");
    write_trace_with(&dir, |i| (1728..2592).contains(&i));
    std::fs::write(dir.join("base.yaml"), BASE).unwrap();
    let whole = tune_with(&dir, "1%", "whole.yaml", &["--periods", "1"]);
    let thirds = tune_with(&dir, "1%", "thirds.yaml", &["--periods", "3"]);
    let h = |v: &Value, k: &str| v["history"]["tuned"][k].as_f64().unwrap();
    assert_eq!(thirds["withinBudget"], true, "{thirds}");
    assert!(h(&thirds, "worstPeriodPct") <= 1.0, "{thirds}");
    assert!(h(&whole, "underProvisionedPct") <= 1.0, "{whole}");
    assert!(
        h(&thirds, "underProvisionedPct") < h(&whole, "underProvisionedPct"),
        "per period, the tuned policy is short less often over the whole: {} vs {}",
        h(&thirds, "underProvisionedPct"),
        h(&whole, "underProvisionedPct")
    );
    assert!(
        h(&thirds, "replicaHours") > h(&whole, "replicaHours"),
        "and pays for it: {} vs {}",
        h(&thirds, "replicaHours"),
        h(&whole, "replicaHours")
    );
}

#[test]
fn a_burst_across_a_period_boundary_counts_whole() {
    // Bursts only in minutes 700..1030 of the history's 2592: across the
    // boundary between its first and second thirds (864), yet within one
    // stretch a third long. All the shortfall lies in that stretch, so its
    // share there is three times the share over the whole history; fixed
    // thirds would split it and see less.
    let dir = workdir("straddle");
    write_trace_with(&dir, |i| (700..1030).contains(&i));
    std::fs::write(dir.join("base.yaml"), BASE).unwrap();
    let v = tune(&dir, "1%", "tuned.yaml");
    for which in ["base", "tuned"] {
        let t = &v["history"][which];
        let (worst, whole) = (
            t["worstPeriodPct"].as_f64().unwrap(),
            t["underProvisionedPct"].as_f64().unwrap(),
        );
        assert!(whole > 0.0, "{which}: short somewhere: {v}");
        assert!(
            (worst - 3.0 * whole).abs() < 1e-6 * worst,
            "{which}: worst stretch {worst} vs 3 × {whole}"
        );
    }
}

#[test]
fn bad_tune_inputs_are_refused_with_the_reason() {
    let dir = workdir("bad");
    write_trace(&dir);
    std::fs::write(dir.join("base.yaml"), BASE).unwrap();
    for (args, why) in [
        (vec!["--budget", "150%"], "percentage from 0 to 100"),
        (
            vec!["--budget", "1%", "--fraction", "1.5"],
            "between 0 and 1",
        ),
        (vec!["--budget", "1%", "--periods", "0"], "not in 1..=100"),
        (
            vec!["--budget", "1%", "--periods", "100", "--fraction", "0.04"],
            "--periods 100 needs at least 2 samples of history per period",
        ),
    ] {
        let mut all = vec![
            "tune",
            "--trace",
            "trace.csv",
            "--policy",
            "base.yaml",
            "--out",
            "o.yaml",
        ];
        all.extend(args);
        let o = scalepilot(&dir, &all);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{err}");
    }
    std::fs::write(
        dir.join("two.yaml"),
        format!("{BASE}---\n{}", BASE.replace("name: web", "name: api")),
    )
    .unwrap();
    let o = scalepilot(
        &dir,
        &[
            "tune",
            "--trace",
            "trace.csv",
            "--budget",
            "1",
            "--policy",
            "two.yaml",
            "--out",
            "o.yaml",
        ],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("one policy; found 2"));
}
