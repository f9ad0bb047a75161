//! `scalepilot features`: consume the metric topics like the controller and
//! print, per target and metric, every window still held (JSON lines, or a
//! table), then a line of counters. With `--once`: read to the end of every
//! partition, print, commit, exit; the next run resumes from the commit.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::cli::{FeaturesArgs, OutputFormat};
use crate::error::{Error, Result};
use crate::features::{
    plan_for, EngineConfig, Plan, SeriesPlan, WindowFeatures, WindowSpec, DEFAULT_WINDOW_MS,
};
use crate::ingest::{Ingest, IngestConfig};
use crate::policy::load_paths;

pub fn run(args: &FeaturesArgs) -> Result<()> {
    let plan = match &args.policies {
        Some(dir) => {
            let report = load_paths(std::slice::from_ref(dir));
            if !report.problems.is_empty() {
                return Err(Error::Policy(
                    report.problems.iter().map(ToString::to_string).collect(),
                ));
            }
            let policies: Vec<_> = report.policies.into_iter().map(|p| p.policy).collect();
            plan_for(&policies).with_quantiles()
        }
        None => Plan::everything(SeriesPlan {
            windows: vec![WindowSpec::tumbling(DEFAULT_WINDOW_MS)],
            distinct_label: args.distinct_label.clone(),
            per_pod: false,
            quantiles: true,
        }),
    };
    let cfg = IngestConfig {
        brokers: args.brokers.clone(),
        topics: IngestConfig::json_topics(&args.topic, &args.otlp_topic),
        otlp_topics: args.otlp_topic.clone(),
        group: args.group.clone(),
        dead_letter_topic: args.dead_letter_topic.clone(),
        session_timeout_ms: (args.session_timeout.0 * 1000) as u32,
        max_message_bytes: args.max_message_bytes,
        engine: EngineConfig {
            allowed_lateness_ms: args.allowed_lateness.0 * 1000,
            retain_closed: args.retain,
            ..EngineConfig::default()
        },
        from_beginning: true,
        properties: crate::cmd::run::kafka_properties(std::env::vars()),
        checkpoint_topic: args.checkpoint_topic.clone(),
        assignment: None,
    };
    let kafka =
        |e: rdkafka::error::KafkaError| Error::Input(format!("kafka ({}): {e}", args.brokers));
    let timeout = Duration::from_secs(args.timeout.0 as u64);
    let mut ingest = connect(cfg, plan, timeout)?;
    let mut sink = match &args.emit_closed {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| Error::Read {
                    path: path.clone(),
                    source: e,
                })?,
        ),
        None => None,
    };
    // Closed windows go to the sink, durably, before the offset moves past them.
    let mut publish = |closed: &[WindowFeatures]| -> std::io::Result<()> {
        let Some(f) = sink.as_mut() else {
            return Ok(());
        };
        if closed.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for w in closed {
            serde_json::to_writer(&mut buf, w)?;
            buf.push(b'\n');
        }
        f.write_all(&buf)?;
        f.sync_data()
    };
    let progress = |e: crate::ingest::ProgressError| Error::Input(format!("saving progress: {e}"));
    let started = Instant::now();
    let mut last_store = Instant::now();
    let mut last_print = Instant::now();
    loop {
        let got = ingest.poll(Duration::from_millis(100));
        if last_store.elapsed() >= Duration::from_millis(500) {
            ingest.save_progress(&mut publish).map_err(progress)?;
            last_store = Instant::now();
        }
        if args.once {
            if !got && ingest.caught_up(Duration::from_secs(5)).map_err(kafka)? {
                break;
            }
            // Time first: asking librdkafka for the assignment is a round trip
            // to its group thread (two thread switches), not for every message.
            if last_print.elapsed() >= Duration::from_secs(10) && ingest.assigned().is_empty() {
                eprintln!(
                    "scalepilot features: waiting {} s for the group {} to be assigned partitions by {}",
                    started.elapsed().as_secs(),
                    args.group,
                    args.brokers
                );
                last_print = Instant::now();
            }
            if started.elapsed() > timeout {
                return Err(Error::Input(format!(
                    "did not catch up with the end of every partition within {} s (assigned: {:?})",
                    args.timeout.0,
                    ingest.assigned()
                )));
            }
        } else if last_print.elapsed() >= Duration::from_secs(args.every.0.max(1) as u64) {
            print(&ingest.windows(), &ingest, args.output)?;
            last_print = Instant::now();
        }
    }
    ingest.commit(&mut publish).map_err(progress)?;
    print(&ingest.windows(), &ingest, args.output)
}

/// Connects (which creates the checkpoint topic: a broker that does not answer
/// keeps that waiting for librdkafka's 60 s socket timeout), saying what it
/// waits for and giving up after `timeout`.
fn connect(cfg: IngestConfig, plan: Plan, timeout: Duration) -> Result<Ingest> {
    let brokers = cfg.brokers.clone();
    eprintln!(
        "scalepilot features: connecting to {brokers} (checkpoint topic {}), up to {} s",
        cfg.checkpoint_topic,
        timeout.as_secs()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(Ingest::connect(&cfg, plan));
    });
    match rx.recv_timeout(timeout) {
        Ok(r) => r.map_err(|e| Error::Input(format!("kafka ({brokers}): {e}"))),
        Err(_) => Err(Error::Input(format!(
            "kafka ({brokers}): no broker answered within {} s (--timeout)",
            timeout.as_secs()
        ))),
    }
}

fn print(windows: &[WindowFeatures], ingest: &Ingest, output: OutputFormat) -> Result<()> {
    let counters = ingest.counters();
    match output {
        OutputFormat::Json => {
            for w in windows {
                println!(
                    "{}",
                    serde_json::to_string(w).map_err(|e| Error::Output(e.into()))?
                );
            }
            let c = serde_json::json!({ "counters": counters });
            println!("{c}");
        }
        OutputFormat::Text => {
            println!(
                "{:<24} {:<18} {:>24} {:>8} {:>12} {:>10} {:>10} {:>8}",
                "target", "metric", "window start", "count", "sum", "rate", "p99", "closed"
            );
            for w in windows {
                let start = chrono::DateTime::from_timestamp_millis(w.window_start)
                    .map_or(w.window_start.to_string(), |d| d.to_rfc3339());
                println!(
                    "{:<24} {:<18} {:>24} {:>8} {:>12.2} {:>10.3} {:>10} {:>8}",
                    w.target,
                    w.metric,
                    start,
                    w.count,
                    w.sum,
                    w.rate,
                    w.quantiles.p99.map_or("-".into(), |q| format!("{q:.2}")),
                    w.closed
                );
            }
            println!(
                "counters: {}",
                serde_json::to_string(&counters).map_err(|e| Error::Output(e.into()))?
            );
        }
    }
    Ok(())
}
