//! The broker is the one that dies: a tansu of the test's own (started with
//! `scripts/kafka.sh` on a free port, its data in a temporary folder) is
//! `kill -9`ed while `scalepilot features` consumes, then started again on
//! the same data. Every window must equal the independent count exactly:
//! nothing lost, nothing counted twice. Ignored by plain `cargo test` (it
//! needs tansu built by `scripts/kafka.sh ensure`); `.ci/run` runs it.

#[path = "support/broker.rs"]
mod broker;
use broker::{root, unique};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const T0: i64 = 1_767_225_600_000;

/// A broker of this test's own.
struct Broker {
    dir: PathBuf,
    port: u16,
}

impl Broker {
    fn start(dir: &Path, port: u16) -> Broker {
        let ok = Command::new(root().join("scripts/kafka.sh"))
            .args(["start", &dir.display().to_string(), &port.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "starting tansu on {port}");
        Broker {
            dir: dir.to_path_buf(),
            port,
        }
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash: no shutdown of its own.
    fn kill9(&self) {
        let pid = std::fs::read_to_string(self.dir.join("broker.pid")).unwrap();
        let ok = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -9 {pid}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(self.address()).is_ok() {
            assert!(Instant::now() < deadline, "the broker still listens");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/kafka.sh"))
            .args(["stop", &self.dir.display().to_string()])
            .status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn features(brokers: &str, topic: &str, group: &str, sink: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scalepilot"));
    c.args(["features", "--brokers", brokers, "--topic", topic])
        .args(["--group", group, "--once", "--session-timeout", "6s"])
        .args(["--retain", "100000", "--timeout", "120s"])
        .arg("--emit-closed")
        .arg(sink);
    c
}

/// The windows of one run's output, by (target, window start).
fn windows_of(text: &str) -> BTreeMap<(String, i64), Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("counters").is_none())
        .map(|v| {
            let key = (
                v["target"].as_str().unwrap().to_string(),
                v["windowStart"].as_i64().unwrap(),
            );
            (key, v)
        })
        .collect()
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
#[ignore = "needs tansu (scripts/kafka.sh ensure): run by .ci/run"]
fn a_broker_killed_and_restarted_mid_stream_loses_and_doubles_nothing() {
    let dir = std::env::temp_dir().join(unique("broker-restart"));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let mut broker = Broker::start(&dir, port);
    let brokers = broker.address();
    let topic = unique("sp-restart");
    let ok = Command::new(root().join("scripts/kafka.sh"))
        .args(["topic", &port.to_string(), &topic, "3"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let (n, targets, step) = (300_000i64, 10i64, 2i64);
    let python = root().join("target/py/bin/python");
    let out = Command::new(&python)
        .arg(root().join("tests/support/produce.py"))
        .args([&brokers, &topic, "samples"])
        .args([n.to_string(), targets.to_string(), step.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let group = unique("restart");
    let sink = dir.join("closed.jsonl");
    let lines = || {
        std::fs::read_to_string(&sink)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let mut consumer = features(&brokers, &topic, &group, &sink)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill the broker once the consumer has published windows (and so
    // written checkpoints), while it is still consuming.
    let started = Instant::now();
    while lines() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no window published"
        );
        assert!(
            consumer.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let emitted_at_kill = lines();
    broker.kill9();
    std::thread::sleep(Duration::from_secs(2));
    drop(broker);
    broker = Broker::start(&dir, port);
    // The consumer either rides the outage out or fails on it; then a new
    // run resumes from the checkpoints until one reads to the end.
    let mut outputs = Vec::new();
    let mut runs = 0;
    let mut first = Some(consumer);
    loop {
        let status = match first.take() {
            Some(mut c) => wait_exit(&mut c, Duration::from_secs(150)).unwrap_or_else(|| {
                let _ = c.kill();
                c.wait().unwrap()
            }),
            None => {
                let out = features(&brokers, &topic, &group, &sink).output().unwrap();
                outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
                out.status
            }
        };
        runs += 1;
        if status.success() && !outputs.is_empty() {
            break;
        }
        assert!(runs < 5, "no run read to the end after the restart");
    }
    let mut windows = windows_of(outputs.last().unwrap());
    let mut republished = 0;
    for line in std::fs::read_to_string(&sink).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let key = (
            v["target"].as_str().unwrap().to_string(),
            v["windowStart"].as_i64().unwrap(),
        );
        if let Some(prev) = windows.get(&key) {
            assert_eq!(
                (&prev["count"], &prev["sum"]),
                (&v["count"], &v["sum"]),
                "a window published again after the restart changed: {key:?}"
            );
            republished += 1;
        }
        windows.insert(key, v);
    }
    let mut truth: BTreeMap<(String, i64), (u64, f64)> = BTreeMap::new();
    for i in 0..n {
        let ts = T0 + i * step;
        let e = truth
            .entry((
                format!("shop/t{}", i % targets),
                ts.div_euclid(60_000) * 60_000,
            ))
            .or_insert((0, 0.0));
        e.0 += 1;
        e.1 += ((i * 7) % 11) as f64;
    }
    assert_eq!(windows.len(), truth.len(), "every window, no more");
    for (key, (count, sum)) in &truth {
        let w = &windows[key];
        assert_eq!(w["count"].as_u64(), Some(*count), "{key:?}");
        assert!((w["sum"].as_f64().unwrap() - sum).abs() < 1e-6, "{key:?}");
    }
    let total: u64 = windows.values().map(|w| w["count"].as_u64().unwrap()).sum();
    assert_eq!(total, n as u64, "nothing lost, nothing counted twice");
    eprintln!(
        "broker restart: {n} samples; broker kill -9 after {emitted_at_kill} windows published; \
         {runs} consumer runs; {} windows exact; {republished} republished identically",
        truth.len()
    );
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}
