//! The controller's ingest: the Kafka consumer of `ingest` on its own thread,
//! publishing every closed window into a [`FeatureStore`] that the decision
//! loop reads, and its counters into the Prometheus metrics. A new plan (the
//! policies changed) restarts the consumer, which resumes from its checkpoints
//! exactly as after a crash.
//!
//! Every replica consumes every partition (its consumer group is its own), so
//! a standby holds the same windows as the leader and takes over warm.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::board::{Board, Lag};
use super::telemetry::Metrics;
use crate::features::{Plan, WindowFeatures};
use crate::ingest::{Ingest, IngestConfig, IngestCounters};
use crate::sources::FeatureStore;

/// The ingest thread and the way to hand it new plans.
pub struct Running {
    pub thread: std::thread::JoinHandle<()>,
    pub plans: Sender<Plan>,
}

/// Runs the consumer until `stop`; [`Running::plans`] delivers new plans.
pub fn spawn(
    cfg: IngestConfig,
    mut plan: Plan,
    store: Arc<FeatureStore>,
    metrics: Arc<Metrics>,
    board: Arc<Board>,
    stop: Arc<AtomicBool>,
) -> Running {
    let (tx, plans) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("ingest".into())
        .spawn(move || {
            let mut reported = IngestCounters::default();
            let mut backoff = Duration::from_millis(500);
            while !stop.load(Ordering::Relaxed) {
                let mut ingest = match Ingest::connect(&cfg, plan.clone()) {
                    Ok(i) => i,
                    Err(e) => {
                        tracing::warn!(error = %e, brokers = %cfg.brokers, "cannot connect to Kafka; retrying");
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        continue;
                    }
                };
                backoff = Duration::from_millis(500);
                let mut publish = |closed: &[WindowFeatures]| -> std::io::Result<()> {
                    store.publish(closed);
                    Ok(())
                };
                let mut last_save = Instant::now();
                let mut last_metrics = Instant::now();
                let mut replan = None;
                while !stop.load(Ordering::Relaxed) {
                    ingest.poll(Duration::from_millis(100));
                    if last_save.elapsed() >= Duration::from_millis(500) {
                        if let Err(e) = ingest.save_progress(&mut publish) {
                            tracing::warn!(error = %e, "saving ingest progress failed");
                        }
                        last_save = Instant::now();
                    }
                    if last_metrics.elapsed() >= Duration::from_secs(5) {
                        report(&ingest, &metrics, &board, &mut reported);
                        last_metrics = Instant::now();
                    }
                    if let Ok(p) = plans.try_recv() {
                        replan = Some(p);
                        break;
                    }
                }
                if let Err(e) = ingest.commit(&mut publish) {
                    tracing::warn!(error = %e, "final commit failed");
                }
                report(&ingest, &metrics, &board, &mut reported);
                // A new consumer starts its counters at zero.
                reported = IngestCounters::default();
                if let Some(p) = replan {
                    tracing::info!("policies changed: restarting the consumer with the new plan");
                    plan = p;
                }
            }
        })
        .expect("spawning the ingest thread");
    Running { thread, plans: tx }
}

/// Moves counter increments since the last report into the metrics.
fn report(ingest: &Ingest, metrics: &Metrics, board: &Board, last: &mut IngestCounters) {
    let now = ingest.counters();
    let delta = |a: u64, b: u64| a.saturating_sub(b);
    let samples = &metrics.ingest_samples;
    samples
        .with_label_values(&["counted"])
        .inc_by(delta(now.counted, last.counted));
    samples
        .with_label_values(&["duplicate"])
        .inc_by(delta(now.duplicates, last.duplicates));
    samples.with_label_values(&["skipped"]).inc_by(delta(
        now.skipped_unknown_target,
        last.skipped_unknown_target,
    ));
    samples
        .with_label_values(&["replayed"])
        .inc_by(delta(now.replayed, last.replayed));
    for (reason, n) in &now.rejected {
        let before = last.rejected.get(reason).copied().unwrap_or(0);
        metrics
            .ingest_rejected
            .with_label_values(&[reason.as_str()])
            .inc_by(delta(*n, before));
    }
    let mut lags = Vec::new();
    for (topic, partition, lag) in ingest.lag(Duration::from_millis(250)) {
        metrics
            .ingest_lag
            .with_label_values(&[topic.as_str(), &partition.to_string()])
            .set(lag);
        lags.push(Lag {
            topic,
            partition,
            messages: lag,
        });
    }
    board.set_lag(lags);
    metrics.windows_open.set(ingest.windows_held() as i64);
    *last = now;
}
