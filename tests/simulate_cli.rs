//! `scalepilot simulate` end to end: the embedded default, JSON scorecards,
//! the decision record, the picture, and bad traces.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scalepilot-sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn simulate(dir: &PathBuf, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_scalepilot"))
        .arg("simulate")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn the_embedded_default_prints_the_scorecard_and_draws_it() {
    let dir = workdir("default");
    let out = simulate(&dir, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("trace flash-crowd: 1440 samples every 60 s"),
        "{stdout}"
    );
    for row in ["checkout ", "hpa ", "keda ", "oracle "] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "no {row:?} row in\n{stdout}"
        );
    }
    // Every column of the scorecard is explained under it.
    let header = stdout
        .lines()
        .find(|l| l.starts_with("autoscaler"))
        .unwrap();
    for column in header.split_whitespace().skip(1) {
        let named = column.split('-').next().unwrap();
        assert!(
            stdout.contains(&format!("{column}: "))
                || stdout.contains(&format!("{named}-mean/p95: ")),
            "column {column} not explained in\n{stdout}"
        );
    }
    let svg = std::fs::read_to_string(dir.join("simulate.svg")).unwrap();
    assert!(
        svg.contains("<svg")
            && svg.contains("oracle (knows the future)")
            && svg.contains("time (UTC)")
    );
}

/// `--changes-only` keeps exactly the decisions that change the count, and
/// `--decisions-history` puts each one's history back.
#[test]
fn changes_only_and_history_on_request() {
    let dir = workdir("changes");
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/checkout-stream.yaml");
    let base = ["--workload", "step", "--duration", "2h", "--policy", policy];
    let read = |name: &str| -> Vec<Value> {
        std::fs::read_to_string(dir.join(name))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = simulate(&dir, &[&base[..], &["--decisions", "all.jsonl"]].concat());
    assert!(
        all.status.success(),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    let changes = simulate(
        &dir,
        &[
            &base[..],
            &[
                "--decisions",
                "ch.jsonl",
                "--changes-only",
                "--decisions-history",
            ],
        ]
        .concat(),
    );
    assert!(
        changes.status.success(),
        "{}",
        String::from_utf8_lossy(&changes.stderr)
    );
    let (all, ch) = (read("all.jsonl"), read("ch.jsonl"));
    let changed: Vec<&Value> = all
        .iter()
        .filter(|l| l["desiredReplicas"] != l["currentReplicas"])
        .collect();
    assert!(!changed.is_empty() && changed.len() < all.len() / 4);
    assert_eq!(ch.len(), changed.len());
    for (c, a) in ch.iter().zip(&changed) {
        assert_eq!(
            (&c["time"], &c["autoscaler"]),
            (&a["time"], &a["autoscaler"])
        );
        assert!(c["history"]["recommendations"].is_array(), "{c}");
    }
}

#[test]
fn json_scorecards_decision_record_and_png() {
    let dir = workdir("json");
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/checkout-stream.yaml");
    let out = simulate(
        &dir,
        &[
            "--workload",
            "step",
            "--duration",
            "6h",
            "--policy",
            policy,
            "--json",
            "--decisions",
            "d.jsonl",
            "--plot",
            "run.png",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cards = v["scorecards"].as_array().unwrap();
    let names: Vec<&str> = cards.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["checkout", "hpa", "keda", "oracle"]);
    // The settings say how to get this scorecard again.
    let set = &v["settings"];
    assert_eq!(set["workload"], "step", "{set}");
    assert_eq!(set["durationSeconds"], 6 * 3600, "{set}");
    assert!(set["seed"].as_u64().is_some(), "{set}");
    assert_eq!(set["policies"][0], policy, "{set}");
    assert_eq!(set["podStartupSeconds"], 30, "{set}");
    assert_eq!(set["capacity"], "auto:20", "{set}");
    let oracle = cards[3]["replicaHours"].as_f64().unwrap();
    for c in cards {
        assert!(c["replicaHours"].as_f64().unwrap() >= oracle - 1e-9);
        assert!(c["costVsOracle"].as_f64().unwrap() >= 1.0 - 1e-9);
    }
    let record = std::fs::read_to_string(dir.join("d.jsonl")).unwrap();
    let lines: Vec<Value> = record
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // 6 h of 5 s ticks for the policy, 15 s syncs for the HPA and KEDA.
    let count = |who: &str| lines.iter().filter(|l| l["autoscaler"] == who).count();
    assert_eq!(count("checkout"), 6 * 720);
    assert_eq!(count("hpa"), 6 * 240);
    let first = &lines[0];
    assert!(
        first["desiredReplicas"].is_i64()
            && first["time"]
                .as_str()
                .unwrap()
                .starts_with("2026-01-01T00:00:00")
    );
    assert!(
        !first["steps"][0]["message"].as_str().unwrap().is_empty(),
        "a record explains every step"
    );
    assert!(first["time"].as_str().unwrap().ends_with('Z'), "{first}");
    assert!(
        lines.iter().all(|l| l.get("history").is_none()),
        "the history is left out unless asked for"
    );
    let png = std::fs::read(dir.join("run.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn bad_traces_are_rejected_with_file_and_line() {
    let dir = workdir("bad");
    std::fs::write(dir.join("t.csv"), "ts,value\n0,5\n60,7\n30,1\n").unwrap();
    let out = simulate(&dir, &["--trace", "t.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("t.csv:4: ts: 30 is not after the previous 60"),
        "{err}"
    );
}

/// Runs `simulate` with a deadline: refusing must be quick, never a long run.
fn simulate_within(dir: &PathBuf, args: &[&str], secs: u64) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalepilot"))
        .arg("simulate")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("simulate {args:?} still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn absurd_flags_are_refused_not_run() {
    let dir = workdir("flags");
    for args in [
        &["--tick", "0"][..],
        &["--capacity-per-replica", "0"],
        &["--capacity-per-replica", "NaN"],
        &["--capacity-per-replica", "inf"],
        &["--hpa-target", "0"],
        &["--hpa-target=-80"],
        &["--pod-startup", "99999999999s"],
        &["--metric-delay", "99999999999s"],
        &["--duration", "99999999999s"],
        &["--from-fraction", "1.5"],
    ] {
        let out = simulate_within(&dir, args, 20);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("invalid value"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_fraction_that_leaves_nothing_to_replay_is_an_error() {
    let dir = workdir("fraction");
    std::fs::write(dir.join("t.csv"), "ts,value\n0,5\n60,7\n120,6\n").unwrap();
    for f in ["0.99", "0.7"] {
        let out = simulate_within(&dir, &["--trace", "t.csv", "--from-fraction", f], 20);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{f}: {err}");
        assert!(
            err.contains(&format!("--from-fraction {f}: leaves"))
                && err.contains("at least 2 are needed"),
            "{f}: {err}"
        );
    }
}

#[test]
fn traces_past_their_bounds_are_refused_quickly_with_file_and_line() {
    let dir = workdir("bounds");
    let year = 365 * 86_400i64;
    for (text, expected) in [
        (
            "ts,value\n-9223372036854775808,1\n9223372036854775807,1\n".to_string(),
            "t.csv:2: ts: -9223372036854775808 is out of range",
        ),
        (
            format!("ts,value\n0,1\n1,1\n2,1\n{year},1\n"),
            "t.csv:5: the gap of",
        ),
        (
            format!("ts,value\n0,1\n1,1\n{},1\n", 100 * year),
            "t.csv:4: the trace spans",
        ),
    ] {
        std::fs::write(dir.join("t.csv"), &text).unwrap();
        let out = simulate_within(&dir, &["--trace", "t.csv"], 20);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in {err}");
    }
}

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    let dir = workdir("pipe");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalepilot"))
        .args([
            "simulate",
            "--workload",
            "step",
            "--duration",
            "2h",
            "--json",
        ])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -c 0`: the reader goes away before anything is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// A policy on the load at `per_replica` units per replica (capacity auto: 100).
fn load_policy(per_replica: &str) -> String {
    format!(
        "apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {{name: reactive, namespace: sim}}
spec:
  target: {{apiVersion: apps/v1, kind: Deployment, name: reactive}}
  minReplicas: 1
  maxReplicas: 100
  metrics:
    - type: External
      external: {{metric: {{name: load}}, target: {{type: AverageValue, averageValue: \"{per_replica}\"}}}}
"
    )
}

fn run_json(dir: &PathBuf, args: &[&str]) -> Value {
    let out = simulate(dir, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_sweep_replays_each_target_as_a_plain_run_would_and_reads_the_frontiers_at_the_hpa() {
    let dir = workdir("sweep");
    std::fs::write(dir.join("p.yaml"), load_policy("50")).unwrap();
    let common = [
        "--workload",
        "diurnal",
        "--duration",
        "1d",
        "--policy",
        "p.yaml",
    ];
    let mut args = common.to_vec();
    args.extend(["--sweep", "60:90:15", "--json", "--plot", "f.svg"]);
    let v = run_json(&dir, &args);
    let s = &v["sweep"];
    assert_eq!(
        s["targets"],
        serde_json::json!([60, 75, 80, 90]),
        "--hpa-target 80 is always swept"
    );
    let frontier = |name: &str| -> Vec<Value> {
        s["frontiers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no {name} frontier in {s}"))["points"]
            .as_array()
            .unwrap()
            .clone()
    };
    let (reactive, hpa) = (frontier("reactive"), frontier("hpa"));
    assert_eq!(reactive.len(), 4);
    // The policy swept to 75 % is the policy written at 75 units per replica.
    std::fs::write(dir.join("p.yaml"), load_policy("75")).unwrap();
    let mut plain = common.to_vec();
    plain.extend(["--json", "--hpa-target", "75"]);
    let p = run_json(&dir, &plain);
    let card = |name: &str| {
        p["scorecards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    for (swept, name) in [(&reactive[1], "reactive"), (&hpa[1], "hpa")] {
        assert_eq!(swept["target"], 75);
        assert_eq!(swept["replicaHours"], card(name)["replicaHours"], "{name}");
        assert_eq!(
            swept["underProvisionedPct"],
            card(name)["underProvisionedPct"],
            "{name}"
        );
    }
    // Cost falls as the target rises, for every autoscaler.
    for f in [&reactive, &hpa] {
        let costs: Vec<f64> = f
            .iter()
            .map(|p| p["replicaHours"].as_f64().unwrap())
            .collect();
        assert!(costs.windows(2).all(|w| w[1] < w[0]), "{costs:?}");
    }
    // The reference is the HPA at 80 %; the oracle ran once.
    assert_eq!(s["reference"], hpa[2]);
    assert_eq!(s["oracleReplicaHours"], card("oracle")["replicaHours"]);
    let c = s["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "reactive")
        .unwrap();
    let hpa_cost = hpa[2]["replicaHours"].as_f64().unwrap();
    let hpa_under = hpa[2]["underProvisionedPct"].as_f64().unwrap();
    let best_under = reactive
        .iter()
        .filter(|p| p["replicaHours"].as_f64().unwrap() <= hpa_cost)
        .map(|p| p["underProvisionedPct"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(
        c["underAtReferenceCost"].as_f64(),
        Some(best_under).filter(|u| u.is_finite())
    );
    let best_cost = reactive
        .iter()
        .filter(|p| p["underProvisionedPct"].as_f64().unwrap() <= hpa_under)
        .map(|p| p["replicaHours"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(
        c["costAtReferenceUnder"].as_f64(),
        Some(best_cost).filter(|c| c.is_finite())
    );
    let svg = std::fs::read_to_string(dir.join("f.svg")).unwrap();
    assert!(svg.contains("HPA at 80 % (the reference)") && svg.contains("replica-hours (cost)"));
    // Text output names the reading; a sweep and a decision record do not mix.
    let text = simulate(
        &dir,
        &[
            "--workload",
            "step",
            "--duration",
            "6h",
            "--policy",
            "p.yaml",
            "--sweep",
            "70:80:10",
        ],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("read at the HPA's point (target 80 %"),
        "{text}"
    );
    let both = simulate(&dir, &["--sweep", "70:80:10", "--decisions", "d.jsonl"]);
    assert!(!both.status.success());
    let bad = simulate(&dir, &["--sweep", "90:60:5"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("FROM ≤ TO"));
}

/// `scalepilot report` on hand-written records: a line still being written
/// (no newline yet) is skipped with a note; a malformed complete line is an
/// error naming file and line.
#[test]
fn report_skips_an_unfinished_last_line_and_names_a_bad_one() {
    let dir = workdir("report");
    let rec = |s: u32, ours: i32, hpa: i32| {
        format!(
            "{{\"time\":\"2026-01-01T00:{:02}:{:02}Z\",\"target\":\"shop/web\",\"decision\":{{\"desiredReplicas\":{ours}}},\"hpa\":{{\"desiredReplicas\":{hpa}}}}}\n",
            s / 60,
            s % 60
        )
    };
    let report = |file: &str| {
        Command::new(env!("CARGO_BIN_EXE_scalepilot"))
            .args(["report", "--output", "json", file])
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let good = [rec(0, 2, 2), rec(15, 4, 2), rec(30, 4, 4)].concat();
    std::fs::write(
        dir.join("a.jsonl"),
        format!("{good}{{\"time\":\"2026-01-01T00:00:4"),
    )
    .unwrap();
    let out = report("a.jsonl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ticks"], 3, "{v}");
    assert_eq!(v["rises"]["scalepilotFirst"], 1, "{v}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("a.jsonl:4: skipped"));
    std::fs::write(
        dir.join("b.jsonl"),
        format!("{}{{\"time\": 1}}\n{good}", rec(0, 2, 2)),
    )
    .unwrap();
    let out = report("b.jsonl");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("b.jsonl:2: not a decision record"), "{err}");
}

/// `--plot-from/--plot-to` draw a window: its ticks on round times, each
/// autoscaler in its fixed colour, the under-provisioned share of the window
/// per lane; a window that is empty or outside the trace is refused.
#[test]
fn plots_a_window_with_fixed_colours_and_short_lanes() {
    let dir = workdir("plot-window");
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/checkout-stream.yaml");
    let base = ["--workload", "step", "--duration", "6h", "--policy", policy];
    let svg = |name: &str, window: &[&str]| {
        let mut args = base.to_vec();
        args.extend(["--plot", name]);
        args.extend(window);
        let out = simulate(&dir, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(dir.join(name)).unwrap()
    };
    let whole = svg("whole.svg", &[]);
    let part = svg(
        "part.svg",
        &["--plot-from", "2h", "--to", "2026-01-01T03:00:00Z"],
    );
    let text = |s: &str| {
        s.split("<text")
            .skip(1)
            .filter_map(|t| {
                Some(
                    t.split_once('>')?
                        .1
                        .split_once("</text>")?
                        .0
                        .trim()
                        .to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let (whole_text, part_text) = (text(&whole), text(&part));
    for tick in ["02:00", "03:00"] {
        assert!(
            part_text.iter().any(|t| t == tick),
            "{tick} in {part_text:?}"
        );
    }
    assert!(!part_text.iter().any(|t| t == "05:00"), "{part_text:?}");
    assert!(
        part_text.iter().any(|t| t == "02:10"),
        "10-minute ticks in a 1 h window"
    );
    assert!(whole_text.iter().any(|t| t == "05:00"), "{whole_text:?}");
    // The HPA is red and KEDA orange in both.
    for s in [&whole, &part] {
        assert!(s.contains("#D62728") && s.contains("#FF7F0E"));
    }
    // The step rises at about 02:24: the HPA is short in the window, and a
    // larger share of it than of the whole run.
    let short = |texts: &[String]| -> f64 {
        let t = texts.iter().find(|t| t.starts_with("hpa: short")).unwrap();
        t.trim_start_matches("hpa: short ")
            .trim_end_matches(" %")
            .parse()
            .unwrap()
    };
    let (w, p) = (short(&whole_text), short(&part_text));
    assert!(w > 0.0 && p > 2.0 * w, "whole {w} %, window {p} %");

    for (window, says) in [
        (["--plot-from", "5h", "--plot-to", "2h"], "before --plot-to"),
        (
            ["--plot-from", "7h", "--plot-to", "8h"],
            "outside the trace",
        ),
        (["--plot-from", "soon", "--plot-to", "8h"], "RFC 3339"),
    ] {
        let mut args = base.to_vec();
        args.extend(["--plot", "bad.svg"]);
        args.extend(window);
        let out = simulate(&dir, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{window:?}: {err}"
        );
    }
}
