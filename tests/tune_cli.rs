//! `scalepilot tune` end to end: the tuned policy stays within the budget on
//! the history, validates, is the same on every run, and costs more when the
//! budget is tighter.

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
    let mut csv = String::from("ts,value\n");
    for i in 0..3 * 1440i64 {
        let t = 1_700_000_000 + i * 60;
        let day = (i as f64 / 1440.0 * std::f64::consts::TAU).sin();
        let burst = if i % 97 < 4 { 60.0 } else { 0.0 };
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
    let o = scalepilot(
        dir,
        &[
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
        ],
    );
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
