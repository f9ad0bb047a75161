//! The driver of `scripts/bench-scale.sh` (not a test: it asserts nothing and
//! prints what it measured). The test API server with N Deployments (and
//! their pods) and N policies; samples produced into the broker
//! (`SCALEPILOT_TEST_BROKERS`) keyed by target with Kafka's default
//! partitioner; `scalepilot run --sharding partitions` (the binary given) as
//! one replica, then three; one of the three killed. Prints human lines and,
//! last, one JSON line (see the README, "Scaling out").

#[path = "../tests/support/apiserver.rs"]
mod apiserver;
#[path = "../tests/support/broker.rs"]
mod broker;
#[path = "../tests/support/process.rs"]
mod process;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use scalepilot::controller::shards::{lease_name, partition_of};
use serde_json::{json, Value};

const NS: &str = "bench";

struct Opts {
    binary: PathBuf,
    targets: usize,
    partitions: u32,
    samples_per_s: u64,
    measure: Duration,
}

fn opts() -> Opts {
    let mut o = Opts {
        binary: PathBuf::from("target/release/scalepilot"),
        targets: 10_000,
        partitions: 12,
        samples_per_s: 100_000,
        measure: Duration::from_secs(60),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let v = pair.get(1).map(String::as_str).unwrap_or_default();
        match pair[0].as_str() {
            "--binary" => o.binary = v.into(),
            "--targets" => o.targets = v.parse().expect("--targets N"),
            "--partitions" => o.partitions = v.parse().expect("--partitions N"),
            "--samples-per-second" => o.samples_per_s = v.parse().expect("--samples-per-second N"),
            "--measure-seconds" => {
                o.measure = Duration::from_secs(v.parse().expect("--measure-seconds S"))
            }
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

fn now_ms() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    d.as_millis() as i64
}

/// Request rate of target `i` (per second) in a phase: 5 to 95.
fn rate(i: usize, phase: u64) -> u64 {
    5 + ((i as u64 * 7 + phase * 13) % 91)
}

/// Produces every target's samples: each second one message per target with
/// `per_target` samples spaced over the second (ids unique), until `stop`.
fn produce(
    topic: String,
    names: Vec<String>,
    per_target: u64,
    phase: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker::brokers())
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let mut second = 0u64;
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let t0 = now_ms();
        let p = phase.load(Ordering::Relaxed);
        for (i, name) in names.iter().enumerate() {
            let key = format!("{NS}/{name}");
            let each = rate(i, p) as f64 / per_target as f64;
            let samples: Vec<Value> = (0..per_target)
                .map(|j| {
                    json!({"id": format!("{second}.{j}"), "ts": t0 + (j * 1000 / per_target) as i64,
                                "target": key, "metric": "http_requests", "value": each})
                })
                .collect();
            let payload = Value::Array(samples).to_string();
            while let Err((e, _)) =
                producer.send(BaseRecord::to(&topic).key(&key).payload(&payload))
            {
                let _ = e;
                producer.poll(Duration::from_millis(10));
            }
            producer.poll(Duration::ZERO);
        }
        sent.fetch_add(per_target * names.len() as u64, Ordering::Relaxed);
        second += 1;
        let next = start + Duration::from_secs(second);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let _ = producer.flush(Duration::from_secs(10));
}

/// A `scalepilot run` process (killed when dropped).
struct Replica {
    name: String,
    c: process::Controller,
}

impl Replica {
    /// A replica sharding by partition, or (`group` None) an idle one: no
    /// broker, no sharding.
    fn spawn(
        o: &Opts,
        dir: &Path,
        name: &str,
        policies: &Path,
        group: Option<&str>,
        topic: &str,
    ) -> Replica {
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new(&o.binary);
        cmd.args(["--log", "scalepilot=info", "run", "--policies"])
            .arg(policies);
        if let Some(group) = group {
            cmd.args([
                "--brokers",
                &broker::brokers(),
                "--topic",
                topic,
                "--group",
                group,
            ])
            .args([
                "--checkpoint-topic",
                &format!("{topic}.cp"),
                "--sharding",
                "partitions",
            ]);
        }
        let child = cmd
            .args(["--identity", name, "--lease-namespace", "scalepilot"])
            .args([
                "--lease-duration",
                "6s",
                "--renew-deadline",
                "4s",
                "--retry-period",
                "1s",
            ])
            .args([
                "--session-timeout",
                "6s",
                "--listen",
                "127.0.0.1:0",
                "--no-dashboard",
            ])
            .env("KUBECONFIG", dir.join("kubeconfig"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Replica {
            name: name.into(),
            c: process::Controller { child, log },
        }
    }

    fn metrics(&self) -> String {
        process::http_get(self.c.port(), "/metrics")
    }

    fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.c.child.id()))
            .unwrap_or_default();
        let kb: f64 = status
            .lines()
            .find_map(|l| {
                l.strip_prefix("VmRSS:")?
                    .trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0);
        kb / 1024.0
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.c.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.c.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.c.child.kill();
        let _ = self.c.child.wait();
    }
}

/// The sum of a metric's samples whose line starts with `prefix`.
fn sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Cumulative histogram buckets (upper bound → count) of a metric, summed
/// over `texts`.
fn buckets(texts: &[String], name: &str) -> BTreeMap<u64, f64> {
    let mut out = BTreeMap::new();
    for t in texts {
        for l in t
            .lines()
            .filter(|l| l.starts_with(&format!("{name}_bucket{{")))
        {
            let le = l
                .split("le=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("+Inf");
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap_or(f64::INFINITY)
            };
            let n: f64 = l
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            *out.entry(bound.to_bits()).or_insert(0.0) += n;
        }
    }
    out
}

/// The q-quantile (ms) of the observations between two bucket snapshots,
/// interpolated within its bucket as Prometheus' histogram_quantile does.
fn quantile_ms(before: &BTreeMap<u64, f64>, after: &BTreeMap<u64, f64>, q: f64) -> Option<f64> {
    let mut rows: Vec<(f64, f64)> = after
        .iter()
        .map(|(b, n)| {
            (
                f64::from_bits(*b),
                n - before.get(b).copied().unwrap_or(0.0),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = rows.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for (upper, n) in rows {
        if n >= rank {
            if upper.is_infinite() {
                return Some(lower * 1000.0);
            }
            let within = if n > below {
                (rank - below) / (n - below)
            } else {
                1.0
            };
            return Some((lower + (upper - lower) * within) * 1000.0);
        }
        (lower, below) = (upper, n);
    }
    None
}

/// What a set of replicas did over `span`.
struct Measured {
    decisions_per_s: f64,
    samples_per_s: f64,
    lag_p50_ms: Option<f64>,
    lag_p99_ms: Option<f64>,
    rss_max_mb: f64,
    /// The replicas' requests to the API server, and the `/scale` reads among them.
    api_per_s: f64,
    scale_reads_per_s: f64,
}

fn measure(server: &apiserver::TestApiServer, replicas: &[&Replica], span: Duration) -> Measured {
    let scrape = || replicas.iter().map(|r| r.metrics()).collect::<Vec<_>>();
    let before = scrape();
    let (logged, _) = server.count_requests(0, |_| false);
    let started = Instant::now();
    let mut rss_max: f64 = 0.0;
    while started.elapsed() < span {
        for r in replicas {
            rss_max = rss_max.max(r.rss_mb());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let after = scrape();
    let secs = started.elapsed().as_secs_f64();
    let ours = |r: &apiserver::Request| r.user_agent.starts_with("scalepilot/");
    let (_, api) = server.count_requests(logged, ours);
    let (_, scale_reads) = server.count_requests(logged, |r| {
        ours(r) && r.method == "GET" && r.path.ends_with("/scale")
    });
    let total = |texts: &[String], prefix: &str| texts.iter().map(|t| sum(t, prefix)).sum::<f64>();
    let delta = |prefix: &str| total(&after, prefix) - total(&before, prefix);
    let lag = |q| {
        quantile_ms(
            &buckets(&before, "scalepilot_tick_lag_seconds"),
            &buckets(&after, "scalepilot_tick_lag_seconds"),
            q,
        )
    };
    Measured {
        decisions_per_s: delta("scalepilot_decisions_total{") / secs,
        samples_per_s: delta("scalepilot_ingest_samples_total{outcome=\"counted\"}") / secs,
        lag_p50_ms: lag(0.5),
        lag_p99_ms: lag(0.99),
        rss_max_mb: rss_max,
        api_per_s: api as f64 / secs,
        scale_reads_per_s: scale_reads as f64 / secs,
    }
}

/// Waits until the first writes are done and the writes have calmed down
/// (under one per hundred targets a second over 2 s), at most `within`: the
/// windows fill a while after start, then every target whose count is off
/// is written at once, and ticks queue for slots behind those writes. That
/// storm is a start-up transient; what is measured after it is the steady
/// state. With `first`, calm only counts once anything was written (before
/// the windows fill nothing is). Returns how long it took, or None if the
/// writes never calmed.
fn settle(
    replicas: &[&Replica],
    targets: usize,
    first: bool,
    within: Duration,
) -> Option<Duration> {
    let writes = || -> f64 {
        replicas
            .iter()
            .map(|r| sum(&r.metrics(), "scalepilot_scale_writes_total{"))
            .sum()
    };
    let started = Instant::now();
    let calm = targets as f64 / 100.0 * 2.0;
    let mut last = writes();
    while started.elapsed() < within {
        std::thread::sleep(Duration::from_secs(2));
        let now = writes();
        if (now > 0.0 || !first) && now - last < calm {
            return Some(started.elapsed());
        }
        last = now;
    }
    None
}

fn shards_held(replicas: &[&Replica]) -> f64 {
    replicas
        .iter()
        .map(|r| sum(&r.metrics(), "scalepilot_shards_held "))
        .sum()
}

fn wait_shards(replicas: &[&Replica], want: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if shards_held(replicas) >= f64::from(want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// `/scale` writes by a replica that did not hold the target's shard Lease
/// at that point of the request log (by the last successful Lease write).
fn double_writes(requests: &[apiserver::Request], partitions: u32) -> usize {
    let lease_of = |name: &str| {
        let shard = partition_of(&format!("{NS}/{name}"), partitions)?;
        Some(lease_name("scalepilot-leader", shard))
    };
    apiserver::unfenced_writes(requests, lease_of).0.len()
}

/// Whether every shard of `shards` has moved, in the requests given (those
/// after the kill): a Lease write naming a holder other than `dead`, then a
/// `/scale` read by that holder of a target of the shard (its first tick
/// there: a target just gained has no `/scale` read cached).
fn moved_and_ticking(
    requests: &[apiserver::Request],
    shards: &BTreeSet<i32>,
    partitions: u32,
    dead: &str,
) -> (bool, bool) {
    let mut holder: BTreeMap<i32, String> = BTreeMap::new();
    let mut ticking = BTreeSet::new();
    for r in requests.iter().filter(|r| r.status < 300) {
        if r.is_write() && r.path.contains("/leases") {
            let body: Value = serde_json::from_str(&r.body).unwrap_or_default();
            let who = body["spec"]["holderIdentity"].as_str().unwrap_or_default();
            let shard = shards
                .iter()
                .find(|s| body["metadata"]["name"] == lease_name("scalepilot-leader", **s));
            if let Some(s) = shard.filter(|_| !who.is_empty() && who != dead) {
                holder.insert(*s, who.to_string());
            }
        } else if r.method == "GET" && !r.is_watch() {
            let name = r
                .path
                .strip_suffix("/scale")
                .and_then(|p| p.rsplit('/').next());
            let shard = name.and_then(|n| partition_of(&format!("{NS}/{n}"), partitions));
            if let Some(s) = shard.filter(|s| holder.get(s) == Some(&r.identity())) {
                ticking.insert(s);
            }
        }
    }
    let moved = shards.iter().all(|s| holder.contains_key(s));
    (moved, shards.is_subset(&ticking))
}

fn main() {
    let o = opts();
    let dir = std::env::temp_dir().join(broker::unique("bench-scale"));
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let server = apiserver::TestApiServer::start();
    server.ensure_namespace("scalepilot");
    server.write_kubeconfig(&dir.join("kubeconfig"));
    let names: Vec<String> = (0..o.targets).map(|i| format!("t{i}")).collect();
    let t = Instant::now();
    for chunk in names.chunks(1000).enumerate() {
        let (c, chunk) = chunk;
        let mut yaml = String::new();
        for n in chunk {
            server.put(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": n, "namespace": NS},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": n}},
                         "template": {"metadata": {"labels": {"app": n}},
                                      "spec": {"containers": [{"name": "app", "image": "web:1"}]}}}}));
            yaml.push_str(&format!("---\napiVersion: scalepilot.io/v1alpha1\nkind: ScalingPolicy\nmetadata: {{name: {n}, namespace: {NS}}}\nspec:\n  target: {{apiVersion: apps/v1, kind: Deployment, name: {n}}}\n  minReplicas: 1\n  maxReplicas: 20\n  tickSeconds: 1\n  metrics:\n    - type: External\n      external:\n        metric: {{name: http_requests}}\n        target: {{type: AverageValue, averageValue: \"10\"}}\n      stream: {{window: 5s, aggregate: rate}}\n  behavior:\n    scaleDown: {{stabilizationWindowSeconds: 0}}\n"));
        }
        std::fs::write(dir.join(format!("policies/p{c}.yaml")), yaml).unwrap();
    }
    let pods = server.list("v1", "Pod", Some(NS)).len();
    println!(
        "{} Deployments ({pods} pods) and policies in {:.1} s",
        o.targets,
        t.elapsed().as_secs_f64()
    );

    let topic = broker::unique("bench");
    broker::create_topic(&topic, o.partitions);
    let per_target = (o.samples_per_s / o.targets as u64).max(1);
    let (phase, stop, sent) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let producer = {
        let (topic, names, phase, stop, sent) = (
            topic.clone(),
            names.clone(),
            phase.clone(),
            stop.clone(),
            sent.clone(),
        );
        std::thread::spawn(move || produce(topic, names, per_target, phase, stop, sent))
    };

    // Idle: no policy at all.
    let idle = Replica::spawn(&o, &dir, "idle", &dir.join("empty"), None, &topic);
    idle.c.port();
    std::thread::sleep(Duration::from_secs(10));
    let rss_idle = idle.rss_mb();
    idle.stop();
    println!("idle replica (no policies, no broker): RSS {rss_idle:.1} MB");

    let policies = dir.join("policies");
    let group = broker::unique("bench");
    let one = Replica::spawn(&o, &dir, "r1", &policies, Some(&group), &topic);
    assert!(
        wait_shards(&[&one], o.partitions, Duration::from_secs(120)),
        "r1 never held every shard"
    );
    std::thread::sleep(Duration::from_secs(15)); // windows fill, first writes
    match settle(&[&one], o.targets, true, Duration::from_secs(120)) {
        Some(t) => println!(
            "1 replica: first writes done, writes calm after {:.0} s more",
            t.as_secs_f64()
        ),
        None => println!("1 replica: writes never calmed within 120 s; measuring anyway"),
    }
    let solo = measure(&server, &[&one], o.measure);
    println!(
        "1 replica: {:.0} decisions/s, {:.0} samples/s ingested, tick lag p50 {:?} ms p99 {:?} ms, RSS max {:.1} MB, {:.0} API requests/s ({:.0} /scale reads)",
        solo.decisions_per_s, solo.samples_per_s, solo.lag_p50_ms, solo.lag_p99_ms, solo.rss_max_mb,
        solo.api_per_s, solo.scale_reads_per_s
    );
    one.stop();

    let group = broker::unique("bench3");
    let three: Vec<Replica> = ["a", "b", "c"]
        .iter()
        .map(|n| Replica::spawn(&o, &dir, n, &policies, Some(&group), &topic))
        .collect();
    let all: Vec<&Replica> = three.iter().collect();
    assert!(
        wait_shards(&all, o.partitions, Duration::from_secs(120)),
        "3 replicas never held every shard"
    );
    std::thread::sleep(Duration::from_secs(15));
    match settle(&all, o.targets, false, Duration::from_secs(120)) {
        Some(t) => println!(
            "3 replicas: writes calm after {:.0} s more",
            t.as_secs_f64()
        ),
        None => println!("3 replicas: writes never calmed within 120 s; measuring anyway"),
    }
    let (sent_before, t_before) = (sent.load(Ordering::Relaxed), Instant::now());
    let trio = measure(&server, &all, o.measure);
    let produced_per_s =
        (sent.load(Ordering::Relaxed) - sent_before) as f64 / t_before.elapsed().as_secs_f64();
    println!(
        "3 replicas: {:.0} decisions/s, {:.0} samples/s ingested, tick lag p50 {:?} ms p99 {:?} ms, RSS max {:.1} MB, {:.0} API requests/s ({:.0} /scale reads)",
        trio.decisions_per_s, trio.samples_per_s, trio.lag_p50_ms, trio.lag_p99_ms, trio.rss_max_mb,
        trio.api_per_s, trio.scale_reads_per_s
    );

    // Kill the one holding the most shard Leases; change every target's
    // load; time until each of its shards has a write by a survivor.
    let mut three = three;
    let leases = server.list("coordination.k8s.io/v1", "Lease", Some("scalepilot"));
    let held_by = |name: &str| -> BTreeSet<i32> {
        (0..o.partitions as i32)
            .filter(|s| {
                leases.iter().any(|l| {
                    l["metadata"]["name"] == lease_name("scalepilot-leader", *s)
                        && l["spec"]["holderIdentity"] == name
                })
            })
            .collect()
    };
    for r in &three {
        println!("{} holds shards {:?}", r.name, held_by(&r.name));
    }
    let most = (0..three.len()).max_by_key(|i| held_by(&three[*i].name).len());
    let victim = three.remove(most.unwrap_or(0));
    let dead_shards = held_by(&victim.name);
    let dead_name = victim.name.clone();
    let from = server.requests().len();
    drop(victim); // SIGKILL
    let killed = Instant::now();
    phase.store(1, Ordering::Relaxed);
    // The shards the survivors held all along react to the new load only as
    // fast as the metric's windows close (window + allowed lateness): that
    // time, measured beside the killed replica's shards, is what failover
    // adds nothing to.
    let alive_shards: BTreeSet<i32> = (0..o.partitions as i32)
        .filter(|s| !dead_shards.contains(s))
        .collect();
    let mut failover_s = None;
    let mut reaction_s = None;
    let (mut moved_s, mut ticking_s) = (None, None);
    while killed.elapsed() < Duration::from_secs(90) {
        let reqs = server.requests();
        let written: BTreeSet<i32> = reqs[from..]
            .iter()
            .filter(|r| r.is_write() && r.status < 300 && r.path.ends_with("/scale"))
            .filter_map(|r| {
                partition_of(
                    &format!(
                        "{NS}/{}",
                        r.path.strip_suffix("/scale")?.rsplit('/').next()?
                    ),
                    o.partitions,
                )
            })
            .collect();
        let at = Some(killed.elapsed().as_secs_f64());
        let (moved, ticking) =
            moved_and_ticking(&reqs[from..], &dead_shards, o.partitions, &dead_name);
        if moved_s.is_none() && moved {
            moved_s = at;
        }
        if ticking_s.is_none() && ticking {
            ticking_s = at;
        }
        if failover_s.is_none() && dead_shards.is_subset(&written) {
            failover_s = at;
        }
        if reaction_s.is_none() && alive_shards.is_subset(&written) {
            reaction_s = at;
        }
        if failover_s.is_some() && reaction_s.is_some() && ticking_s.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "killed one of 3 (shards {dead_shards:?}): their Leases held by survivors after {moved_s:?} s, their targets ticked by the new holders after {ticking_s:?} s, written again after {failover_s:?} s; the survivors' own shards reacted to the new load after {reaction_s:?} s"
    );
    stop.store(true, Ordering::Relaxed);
    let _ = producer.join();
    let doubles = double_writes(&server.requests(), o.partitions);
    println!(
        "samples produced: {}; double writes: {doubles}",
        sent.load(Ordering::Relaxed)
    );
    for r in three {
        r.stop();
    }
    let opt = |v: Option<f64>| v.map_or(Value::Null, |v| json!((v * 10.0).round() / 10.0));
    println!(
        "{}",
        json!({
            "targets": o.targets, "replicas": 3,
            // What the producer sustained (the replicas' "counted" also
            // counts samples replayed after a partition moves).
            "samplesPerSecond": produced_per_s.round(),
            "rssMbMax": (trio.rss_max_mb.max(solo.rss_max_mb) * 10.0).round() / 10.0,
            "rssMbIdle": (rss_idle * 10.0).round() / 10.0,
            "tickLagP50Ms": opt(trio.lag_p50_ms), "tickLagP99Ms": opt(trio.lag_p99_ms),
            "decisionsPerSecond": trio.decisions_per_s.round(),
            "decisionsPerSecond1": solo.decisions_per_s.round(),
            "speedup3v1": (trio.decisions_per_s / solo.decisions_per_s.max(1e-9) * 100.0).round() / 100.0,
            "failoverS": opt(failover_s),
            "reactionS": opt(reaction_s),
            // Shards moved: Leases taken over, then ticking under the new holder.
            "shardsMovedS": opt(moved_s),
            "shardsTickingS": opt(ticking_s),
            "doubleWrites": doubles,
            "apiRequestsPerSecond": trio.api_per_s.round(),
            "apiRequestsPerSecond1": solo.api_per_s.round(),
        })
    );
}
