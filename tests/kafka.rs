//! Against a real Kafka-protocol broker (tansu, started by `.ci/run` through
//! `scripts/kafka.sh`), with an independent producer (confluent-kafka from
//! PyPI). Ignored by plain `cargo test`; `.ci/run` runs them with
//! `cargo test --test kafka -- --ignored` after starting the broker and setting
//! SCALEPILOT_TEST_BROKERS.

#[path = "support/broker.rs"]
mod broker;
use broker::{brokers, create_topic, root, unique};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const T0: i64 = 1_767_225_600_000;

/// Runs the independent producer; returns its summary line.
fn produce(topic: &str, args: &[&str]) -> Value {
    let mut all = vec![topic];
    all.extend_from_slice(args);
    run_producer("produce.py", &all)
}

/// Runs producer `script` (in tests/support) with the brokers and `args`;
/// returns its summary line.
fn run_producer(script: &str, args: &[&str]) -> Value {
    let python = root().join("target/py/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/kafka.sh ensure",
        python.display()
    );
    let out = Command::new(python)
        .arg(root().join("tests/support").join(script))
        .arg(brokers())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "producer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `n` samples over `targets` targets, `step_ms` apart (see tests/support/produce.py).
fn produce_samples(topic: &str, n: i64, targets: i64, step_ms: i64) -> Value {
    produce(
        topic,
        &[
            "samples",
            &n.to_string(),
            &targets.to_string(),
            &step_ms.to_string(),
        ],
    )
}

fn features_cmd(topic: &str, group: &str, extra: &[&str]) -> Command {
    features_reading(&["--topic", topic], group, extra)
}

/// `scalepilot features --once` reading `topics` (`--topic T` or `--otlp-topic T`).
fn features_reading(topics: &[&str], group: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scalepilot"));
    c.args(["features", "--brokers", &brokers()])
        .args(topics)
        .args(["--group", group, "--once"])
        .args([
            "--session-timeout",
            "6s",
            "--retain",
            "100000",
            "--timeout",
            "120s",
        ])
        .args(extra);
    c
}

/// Windows (by target, window start) and the counters line of one run.
fn run_features(
    topic: &str,
    group: &str,
    extra: &[&str],
) -> (BTreeMap<(String, i64), Value>, Value) {
    let out = features_cmd(topic, group, extra).output().unwrap();
    assert!(
        out.status.success(),
        "features failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&String::from_utf8_lossy(&out.stdout))
}

fn parse(text: &str) -> (BTreeMap<(String, i64), Value>, Value) {
    let mut windows = BTreeMap::new();
    let mut counters = Value::Null;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(c) = v.get("counters") {
            counters = c.clone();
        } else {
            windows.insert(
                (
                    v["target"].as_str().unwrap().to_string(),
                    v["windowStart"].as_i64().unwrap(),
                ),
                v,
            );
        }
    }
    (windows, counters)
}

/// The producer's samples, counted independently: (count, sum) per target and minute.
fn ground_truth(n: i64, targets: i64, step_ms: i64) -> BTreeMap<(String, i64), (u64, f64)> {
    let mut truth = BTreeMap::new();
    for i in 0..n {
        let ts = T0 + i * step_ms;
        let e = truth
            .entry((
                format!("shop/t{}", i % targets),
                ts.div_euclid(60_000) * 60_000,
            ))
            .or_insert((0, 0.0));
        e.0 += 1;
        e.1 += ((i * 7) % 11) as f64;
    }
    truth
}

fn assert_windows(
    windows: &BTreeMap<(String, i64), Value>,
    truth: &BTreeMap<(String, i64), (u64, f64)>,
) {
    assert_eq!(windows.len(), truth.len(), "every window, no more");
    for (key, (count, sum)) in truth {
        let w = windows
            .get(key)
            .unwrap_or_else(|| panic!("window {key:?} missing"));
        assert_eq!(w["count"].as_u64(), Some(*count), "{key:?}");
        assert!(
            (w["sum"].as_f64().unwrap() - sum).abs() < 1e-6,
            "{key:?}: {} vs {sum}",
            w["sum"]
        );
    }
}

#[test]
#[ignore = "needs the broker that .ci/run starts (scripts/kafka.sh)"]
fn windows_equal_independent_counts_across_three_partitions() {
    let topic = unique("sp-windows");
    create_topic(&topic, 3);
    let (n, targets, step) = (6_000, 12, 50);
    let sent = produce_samples(&topic, n, targets, step);
    let used = sent["perPartition"].as_object().unwrap().len();
    assert!(used >= 3, "keys spread over {used} partitions: {sent}");
    let (windows, counters) = run_features(&topic, &unique("g"), &[]);
    assert_windows(&windows, &ground_truth(n, targets, step));
    assert_eq!(counters["counted"].as_u64(), Some(n as u64));
    assert_eq!(
        counters["duplicates"].as_u64(),
        Some((n / 10) as u64),
        "every 10th sample was sent twice"
    );
    // A second run of the same group resumes from its commit and rebuilds only the open windows, identically.
    let (again, _) = run_features(&topic, &unique("g2"), &[]);
    assert_eq!(again, windows, "a fresh group reads the same windows");
}

#[test]
#[ignore = "needs the broker that .ci/run starts (scripts/kafka.sh)"]
fn malformed_messages_are_counted_and_consumption_continues() {
    let topic = unique("sp-garbage");
    create_topic(&topic, 1);
    let dlq = format!("{topic}-dlq");
    create_topic(&dlq, 1);
    produce(&topic, &["garbage"]);
    let (windows, c) = run_features(
        &topic,
        &unique("g"),
        &["--max-message-bytes", "100000", "--dead-letter-topic", &dlq],
    );
    let r = &c["rejected"];
    assert_eq!(r["parse"].as_u64(), Some(4), "{c}");
    assert_eq!(r["too_large"].as_u64(), Some(1), "{c}");
    assert_eq!(r["key"].as_u64(), Some(2), "{c}");
    assert_eq!(r["negative"].as_u64(), Some(1), "{c}");
    assert_eq!(r["empty_field"].as_u64(), Some(1), "{c}");
    assert_eq!(
        c["counted"].as_u64(),
        Some(10),
        "every good sample after the garbage was read: {c}"
    );
    assert_eq!(c["deadLettered"].as_u64(), Some(9), "{c}");
    let sum: f64 = windows.values().map(|w| w["sum"].as_f64().unwrap()).sum();
    assert_eq!(sum, 20.0);
}

#[test]
#[ignore = "needs the broker that .ci/run starts (scripts/kafka.sh)"]
fn kill_nine_at_random_moments_loses_nothing_and_counts_nothing_twice() {
    let topic = unique("sp-crash");
    create_topic(&topic, 3);
    let (n, targets, step) = (800_000, 10, 2);
    let sent = produce_samples(&topic, n, targets, step);
    eprintln!("produced {sent}");
    let group = unique("crash");
    let dir = std::env::temp_dir().join(unique("crash"));
    std::fs::create_dir_all(&dir).unwrap();
    let sink: PathBuf = dir.join("closed.jsonl");
    let sink_arg = sink.display().to_string();
    let consumed_before_kill = kill_nine_while_consuming(
        || features_cmd(&topic, &group, &["--emit-closed", &sink_arg]),
        &sink,
        5,
    );
    // The last run reads to the end; its held windows plus everything emitted on the way are the result.
    let out = run_to_end(|| features_cmd(&topic, &group, &["--emit-closed", &sink_arg]));
    let (mut windows, counters) = parse(&String::from_utf8_lossy(&out.stdout));
    let republished = merge_emitted(&mut windows, &sink, |v| {
        (
            v["target"].as_str().unwrap().to_string(),
            v["windowStart"].as_i64().unwrap(),
        )
    });
    let truth = ground_truth(n, targets, step);
    assert_windows(&windows, &truth);
    let total: u64 = windows.values().map(|w| w["count"].as_u64().unwrap()).sum();
    eprintln!(
        "crash test: {n} samples ({} messages incl. {} duplicates) over 3 partitions; 5 × kill -9 after (ms, windows emitted so far) {consumed_before_kill:?}; \
         {} windows, {total} samples counted, {republished} windows republished identically after replays; last run counters {counters}",
        sent["messages"],
        n / 10,
        truth.len()
    );
    assert_eq!(total, n as u64, "nothing lost, nothing counted twice");
}

#[test]
#[ignore = "needs the broker that .ci/run starts (scripts/kafka.sh)"]
fn two_consumers_split_partitions_and_one_takes_over_when_the_other_dies() {
    let topic = unique("sp-group");
    create_topic(&topic, 4);
    let (n, targets, step) = (200_000, 16, 5);
    produce_samples(&topic, n, targets, step);
    let group = unique("pair");
    let dir = std::env::temp_dir().join(unique("pair"));
    std::fs::create_dir_all(&dir).unwrap();
    let sink = dir.join("closed.jsonl");
    let sink_arg = sink.display().to_string();
    let spawn = |out: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_scalepilot"));
        c.args([
            "features",
            "--brokers",
            &brokers(),
            "--topic",
            &topic,
            "--group",
            &group,
        ])
        .args([
            "--session-timeout",
            "6s",
            "--retain",
            "100000",
            "--every",
            "1s",
            "--emit-closed",
            &sink_arg,
        ])
        .stdout(std::fs::File::create(dir.join(out)).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
    };
    let mut a = spawn("a.out");
    let mut b = spawn("b.out");
    // Wait until both hold partitions (their periodic counters say which).
    let held = |file: &str| -> Vec<String> {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| l.contains("\"counters\""))
            .unwrap_or("{}");
        let v: Value = serde_json::from_str(last).unwrap_or(Value::Null);
        v["counters"]["partitions"]
            .as_array()
            .map(|p| p.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while (held("a.out").is_empty() || held("b.out").is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (pa, pb) = (held("a.out"), held("b.out"));
    assert!(
        !pa.is_empty() && !pb.is_empty(),
        "both consumers hold partitions: {pa:?} {pb:?}"
    );
    assert!(
        pa.iter().all(|p| !pb.contains(p)),
        "no partition is held twice: {pa:?} {pb:?}"
    );
    // A dies; B must take over A's partitions and finish everything.
    a.kill().unwrap();
    a.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let truth = ground_truth(n, targets, step);
    let expected: u64 = n as u64;
    let mut done = false;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        if held("b.out").len() < 4 {
            continue;
        }
        // B's latest snapshot plus every published window.
        let text = std::fs::read_to_string(dir.join("b.out")).unwrap_or_default();
        let snapshot: String = text
            .lines()
            .rev()
            .skip_while(|l| !l.contains("\"counters\""))
            .skip(1)
            .take_while(|l| !l.contains("\"counters\""))
            .collect::<Vec<_>>()
            .join("\n");
        let (mut windows, _) = parse(&snapshot);
        for line in std::fs::read_to_string(&sink).unwrap_or_default().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            windows.insert(
                (
                    v["target"].as_str().unwrap().to_string(),
                    v["windowStart"].as_i64().unwrap(),
                ),
                v,
            );
        }
        let total: u64 = windows
            .values()
            .map(|w| w["count"].as_u64().unwrap_or(0))
            .sum();
        if total == expected && windows.len() == truth.len() {
            assert_windows(&windows, &truth);
            done = true;
            break;
        }
    }
    b.kill().unwrap();
    b.wait().unwrap();
    assert!(
        done,
        "B took over all 4 partitions and every window equals the ground truth (B held {:?})",
        held("b.out")
    );
}

/// Runs `consumer` `times` times, each killed with SIGKILL while it consumes:
/// once it published a new window to `sink`, after a pseudo-random extra wait
/// (0–800 ms, from the clock). Returns (ms run, windows emitted so far) at each
/// kill; fails if a run finished before it could be killed.
/// Runs `consumer` (a `features --once` command) to the end of every partition
/// and returns its output. A run that got no partition at all in its time (the
/// broker's group coordinator still waiting on a member killed just before)
/// committed nothing: it is run again, at most twice. Any other failure fails.
fn run_to_end(consumer: impl Fn() -> Command) -> std::process::Output {
    let mut out = consumer().output().unwrap();
    for _ in 0..2 {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !stderr.contains("(assigned: [])") {
            break;
        }
        eprintln!("final run got no partition, again: {stderr}");
        out = consumer().output().unwrap();
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn kill_nine_while_consuming(
    consumer: impl Fn() -> Command,
    sink: &std::path::Path,
    times: usize,
) -> Vec<(u128, usize)> {
    // Pseudo-random kill moments from the clock; each run is killed mid-way.
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut kills = 0;
    let mut failed_runs = 0;
    let mut consumed_before_kill = Vec::new();
    while kills < times {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let extra = Duration::from_millis((seed >> 33) % 800);
        let lines_before = std::fs::read_to_string(sink)
            .unwrap_or_default()
            .lines()
            .count();
        let mut child = consumer()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill while it consumes: once it published a new window, after a random extra wait.
        let started = Instant::now();
        let mut deadline = None;
        while deadline.is_none_or(|d| Instant::now() < d)
            && started.elapsed() < Duration::from_secs(60)
        {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if deadline.is_none()
                && std::fs::read_to_string(sink)
                    .unwrap_or_default()
                    .lines()
                    .count()
                    > lines_before
            {
                deadline = Some(Instant::now() + extra);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        match child.try_wait().unwrap() {
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                let emitted = std::fs::read_to_string(sink)
                    .unwrap_or_default()
                    .lines()
                    .count();
                consumed_before_kill.push((started.elapsed().as_millis(), emitted));
            }
            // A run that gave up (the broker's group coordinator can keep a
            // partition from a killed member for a while) committed nothing
            // new: run again, a bounded number of times.
            Some(status) if !status.success() && failed_runs < 3 => failed_runs += 1,
            Some(_) => break, // it finished before we could kill it: nothing left to test against
        }
    }
    assert_eq!(
        kills, times,
        "the consumer must still be running at every kill: {consumed_before_kill:?}"
    );
    consumed_before_kill
}

/// Windows by (target, metric, window start), and the counters line.
type MetricWindows = BTreeMap<(String, String, i64), Value>;

fn parse_by_metric(text: &str) -> (MetricWindows, Value) {
    let mut windows = BTreeMap::new();
    let mut counters = Value::Null;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(c) = v.get("counters") {
            counters = c.clone();
        } else {
            windows.insert(window_key(&v), v);
        }
    }
    (windows, counters)
}

/// Adds every window a crash test's runs published to `sink` to `windows`
/// (the last run's); a window published again after a replay must be
/// identical. Returns how many were republished.
fn merge_emitted<K: Ord + std::fmt::Debug>(
    windows: &mut BTreeMap<K, Value>,
    sink: &std::path::Path,
    key: impl Fn(&Value) -> K,
) -> usize {
    let mut republished = 0;
    for line in std::fs::read_to_string(sink).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let key = key(&v);
        if let Some(prev) = windows.get(&key) {
            assert_eq!(
                (&prev["count"], &prev["sum"]),
                (&v["count"], &v["sum"]),
                "a window republished after a replay must not change: {key:?}"
            );
            republished += 1;
        }
        windows.insert(key, v);
    }
    republished
}

fn window_key(v: &Value) -> (String, String, i64) {
    (
        v["target"].as_str().unwrap().to_string(),
        v["metric"].as_str().unwrap().to_string(),
        v["windowStart"].as_i64().unwrap(),
    )
}

fn run_features_on(topics: &[&str], group: &str) -> (MetricWindows, Value) {
    let out = features_reading(topics, group, &[]).output().unwrap();
    assert!(
        out.status.success(),
        "features failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_by_metric(&String::from_utf8_lossy(&out.stdout))
}

/// Every window the producer expects ("target|metric|start" -> [count, sum]), no more.
fn assert_expected(windows: &MetricWindows, expected: &Value, what: &str) {
    let expected = expected.as_object().unwrap();
    assert_eq!(
        windows.len(),
        expected.len(),
        "{what}: every window, no more"
    );
    for (key, cs) in expected {
        let mut parts = key.split('|');
        let k = (
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
            parts.next().unwrap().parse().unwrap(),
        );
        let w = windows
            .get(&k)
            .unwrap_or_else(|| panic!("{what}: window {k:?} missing"));
        assert_eq!(w["count"], cs[0], "{what}: {k:?}");
        assert!(
            (w["sum"].as_f64().unwrap() - cs[1].as_f64().unwrap()).abs() < 1e-6,
            "{what}: {k:?}: {} vs {}",
            w["sum"],
            cs[1]
        );
    }
}

/// Two runs' windows hold the same features (not `closed`: OTLP and JSON
/// messages are keyed differently, so their partitions' watermarks differ).
fn assert_same_features(a: &MetricWindows, b: &MetricWindows, what: &str) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}"
    );
    for (key, x) in a {
        let y = &b[key];
        for f in [
            "count", "sum", "rate", "mean", "min", "max", "ewma", "distinct",
        ] {
            same(&x[f], &y[f], &format!("{what}: {key:?} {f}"));
        }
        for q in ["p50", "p90", "p95", "p99"] {
            same(
                &x["quantiles"][q],
                &y["quantiles"][q],
                &format!("{what}: {key:?} {q}"),
            );
        }
    }
}

fn same(x: &Value, y: &Value, what: &str) {
    match (x.as_f64(), y.as_f64()) {
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            "{what}: {a} vs {b}"
        ),
        _ => assert_eq!(x, y, "{what}"),
    }
}

#[test]
#[ignore = "needs the broker: run by .ci/run"]
fn otlp_proto_and_otlp_json_give_the_windows_of_the_same_json_samples() {
    let (proto, json, samples) = (
        unique("sp-otlp-proto"),
        unique("sp-otlp-json"),
        unique("sp-otlp-samples"),
    );
    for t in [&proto, &json, &samples] {
        create_topic(t, 3);
    }
    // 6 targets × 3 pods, a point a second for 4 minutes; every 7th message sent twice.
    let load = ["240", "6", "3", "1000", "7"];
    let args = |otlp: &str, json_topic: &str, encoding: &str, garbage: bool| {
        let mut a = vec![
            otlp.to_string(),
            json_topic.to_string(),
            encoding.to_string(),
        ];
        a.extend(load.iter().map(|s| s.to_string()));
        if garbage {
            a.push("garbage".into());
        }
        a
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run_producer("produce_otlp.py", &a)
    };
    let sent = run(args(&proto, &samples, "proto", true));
    let sent_json = run(args(&json, "-", "json", false));
    assert_eq!(
        sent["windows"], sent_json["windows"],
        "the same data both ways"
    );
    let used = sent["perPartition"].as_object().unwrap().len();
    assert!(
        used >= 2,
        "resources spread over {used} partitions: {}",
        sent["perPartition"]
    );

    let (from_samples, c_samples) = run_features_on(&["--topic", &samples], &unique("g"));
    assert_expected(&from_samples, &sent["windows"], "JSON samples");
    let (from_proto, c_proto) = run_features_on(&["--otlp-topic", &proto], &unique("g"));
    assert_expected(&from_proto, &sent["windows"], "otlp_proto");
    assert_same_features(&from_samples, &from_proto, "otlp_proto vs JSON samples");
    let (from_json, c_json) = run_features_on(&["--otlp-topic", &json], &unique("g"));
    assert_same_features(&from_samples, &from_json, "otlp_json vs JSON samples");
    eprintln!("counters: samples {c_samples}\n proto {c_proto}\n json {c_json}");
    assert_eq!(c_proto["counted"], sent["samples"], "{c_proto}");
    assert_eq!(c_json["counted"], sent["samples"], "{c_json}");
    let r = &c_proto["rejected"];
    assert_eq!(r["otlp_decode"].as_u64(), Some(1), "{c_proto}");
    assert_eq!(r["otlp_no_target"].as_u64(), Some(1), "{c_proto}");
    assert!(
        c_proto["duplicates"].as_u64().unwrap() > 0,
        "redelivered points were recognised: {c_proto}"
    );
    assert!(c_json["rejected"].get("otlp_decode").is_none(), "{c_json}");
}

#[test]
#[ignore = "needs the broker: run by .ci/run"]
fn otlp_kill_nine_at_random_moments_counts_every_point_once() {
    let topic = unique("sp-otlp-crash");
    create_topic(&topic, 3);
    // 12 targets × 2 pods, a point every 20 ms for 5 minutes (180 000 messages,
    // every third OTLP/JSON), every 10th message sent twice.
    let sent = run_producer(
        "produce_otlp.py",
        &[&topic, "-", "mixed", "15000", "12", "2", "20", "10"],
    );
    eprintln!(
        "produced {} OTLP messages, {} points",
        sent["messages"], sent["points"]
    );
    let group = unique("otlp-crash");
    let dir = std::env::temp_dir().join(unique("otlp-crash"));
    std::fs::create_dir_all(&dir).unwrap();
    let sink = dir.join("closed.jsonl");
    let sink_arg = sink.display().to_string();
    let consumer = || {
        features_reading(
            &["--otlp-topic", &topic],
            &group,
            &["--emit-closed", &sink_arg],
        )
    };
    let kills = kill_nine_while_consuming(consumer, &sink, 5);
    // The last run reads to the end; its windows plus everything published on
    // the way are the result.
    let out = run_to_end(consumer);
    let (mut windows, counters) = parse_by_metric(&String::from_utf8_lossy(&out.stdout));
    let republished = merge_emitted(&mut windows, &sink, window_key);
    assert_expected(&windows, &sent["windows"], "after 5 × kill -9");
    eprintln!(
        "OTLP crash test: {} messages; 5 × kill -9 after (ms, windows published so far) {kills:?}; \
         {} windows equal the producer's, {republished} republished identically; last run counters {counters}",
        sent["messages"],
        windows.len()
    );
}

/// No broker at the address (runs in plain `cargo test`): `features` says what
/// it waits for and gives up at `--timeout` instead of librdkafka's 60 s.
#[test]
fn features_gives_up_on_an_unreachable_broker_at_its_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_scalepilot"))
        .args(["features", "--once", "--timeout", "2s", "--brokers"])
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("connecting to 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("no broker answered within 2 s"), "{err}");
}
