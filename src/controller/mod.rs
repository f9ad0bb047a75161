//! The live controller behind `scalepilot run`: policies from a folder
//! (re-read on change), Kafka ingest into windowed features on its own thread,
//! reflectors of the target Deployments and their Pods, the decision chain on
//! every policy's tick, and — on the leader only — idempotent, fenced writes
//! of `/scale`. Every replica ingests and decides, so a standby is warm; the
//! Lease decides who writes.
//!
//! A tick's way: `schedule` (when each target is due, how many at once) →
//! `ticks` (each tick a task of its own with the target's state) →
//! `worker` (the tick under its deadline) → `gather` (inputs) → `tick`
//! (the decision) → `write` (the leader's fenced write).

mod actuate;
pub mod board;
mod cluster;
mod dashboard;
mod error;
pub mod events;
mod feed;
mod forecast;
mod gather;
pub mod history;
pub mod index;
pub mod leader;
mod objects;
mod policies;
mod schedule;
pub mod selector;
pub mod shadow;
pub mod shards;
pub mod sightings;
pub mod targets;
mod telemetry;
mod tick;
mod ticks;
pub mod watched_pod;
mod worker;
mod write;

pub use actuate::{LAST_DECISION, PAUSED};
pub use error::{ControllerError, Result};
pub use leader::{Leadership, LeaseConfig};
pub use policies::PolicySet;
pub use telemetry::Metrics;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::features::plan_for;
use crate::ingest::IngestConfig;
use crate::sources::{
    self, FeatureStore, KafkaLag, MetricsApi, Registry, SourceKind, StreamSource,
};
use ticks::Ticks;

/// Everything `scalepilot run` is told.
pub struct RunConfig {
    pub policies: PathBuf,
    /// The stream source's consumer; None without `--brokers` (no broker is
    /// contacted, and stream metrics are missing with that reason).
    pub ingest: Option<IngestConfig>,
    /// The stream windows' allowed lateness (their staleness bound).
    pub allowed_lateness_ms: i64,
    /// PodMetrics are listed at most this often per target.
    pub metrics_api_min_interval: Duration,
    /// A consumer group's lag is read at most this often.
    pub kafka_lag_min_interval: Duration,
    pub dry_run: bool,
    pub decisions: Option<PathBuf>,
    /// What the decision records keep.
    pub records: crate::records::RecordOptions,
    pub lease: LeaseConfig,
    pub listen: SocketAddr,
    /// Watch these namespaces; empty: the ones the policies name.
    pub namespaces: Vec<String>,
    pub default_tick: Duration,
    /// At most this many targets' ticks run at once.
    pub max_concurrent_ticks: usize,
    /// At most this many API requests of the ticks in flight at once.
    pub max_concurrent_api_calls: usize,
    /// `--sharding partitions`: the consumer's assignment (see `shards`).
    pub shards: Option<watch::Receiver<crate::ingest::Assignment>>,
    /// Serve the dashboard at `/` on the `listen` port.
    pub dashboard: bool,
}

/// Where tick records go: stdout or a file, one JSON line each.
fn record_sink(cfg: &RunConfig) -> Result<Option<Box<dyn Write + Send>>> {
    Ok(match (&cfg.decisions, cfg.dry_run) {
        (Some(path), _) => Some(Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| ControllerError::Decisions {
                    path: path.clone(),
                    source,
                })?,
        )),
        (None, true) => Some(Box::new(std::io::stdout())),
        (None, false) => None,
    })
}

/// Resolves the target kinds of the policies in force (new ones, and failed
/// ones again after a while); failures are logged and counted once each try.
async fn resolve(
    client: &kube::Client,
    policies: &PolicySet,
    kinds: &mut targets::Kinds,
    metrics: &Metrics,
) {
    let in_force = policies.policies().values();
    let failed = kinds
        .refresh(client, in_force.filter_map(|p| p.spec.target.as_ref()))
        .await;
    for (t, e) in &failed {
        tracing::error!(kind = %t.kind, api_version = ?t.api_version, error = %e, "targets of this kind are not scaled");
    }
    metrics.policy_errors.inc_by(failed.len() as u64);
}

/// The API clients, naming the replica in their requests (read-only in
/// dry-run): one for watches, Leases and discovery, and one for the ticks'
/// requests, with at most `--max-concurrent-api-calls` of them in flight.
async fn connect(cfg: &RunConfig) -> Result<(kube::Client, kube::Client)> {
    let mut kube_config = kube::Config::infer()
        .await
        .map_err(ControllerError::KubeConfig)?;
    // Requests name the replica, so audit logs (and tests) can tell who wrote.
    let agent = format!(
        "scalepilot/{} ({})",
        env!("CARGO_PKG_VERSION"),
        cfg.lease.identity
    );
    kube_config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_str(&agent)
            .map_err(|_| ControllerError::Identity(cfg.lease.identity.clone()))?,
    ));
    let limit = cfg.max_concurrent_api_calls.max(1);
    Ok((
        actuate::client(kube_config.clone(), cfg.dry_run, None)?,
        actuate::client(kube_config, cfg.dry_run, Some(limit))?,
    ))
}

/// Every metric source: the stream (when a broker is given), metrics.k8s.io,
/// and consumer lag (when a broker is given).
fn registry(cfg: &RunConfig, client: &kube::Client, store: &Arc<FeatureStore>) -> Registry {
    Registry::new()
        .with(StreamSource::new(
            cfg.ingest.as_ref().map(|_| Arc::clone(store)),
            cfg.allowed_lateness_ms,
        ))
        .with(MetricsApi::new(
            client.clone(),
            cfg.metrics_api_min_interval,
        ))
        .with_some(
            cfg.ingest
                .as_ref()
                .map(|i| KafkaLag::new(&i.brokers, &i.properties, cfg.kafka_lag_min_interval)),
        )
}

/// Runs until `shutdown` turns true.
pub async fn run(cfg: RunConfig, mut shutdown: watch::Receiver<bool>) -> Result<()> {
    let metrics = Metrics::new();
    let bind = |source| ControllerError::Bind {
        addr: cfg.listen,
        source,
    };
    let listener = telemetry::bind(cfg.listen).await.map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    let board = Arc::new(board::Board::new(&cfg.lease.identity, cfg.dry_run));
    if cfg.dashboard {
        tracing::info!(%addr, "serving /metrics, /healthz, /readyz and the dashboard at /");
    } else {
        tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    }
    tokio::spawn(telemetry::serve(
        listener,
        Arc::clone(&metrics),
        cfg.dashboard.then(|| Arc::clone(&board)),
    ));

    let mut policies = PolicySet::new(&cfg.policies);
    let first = policies.reload();
    for p in &first.problems {
        tracing::error!(problem = %p, "policy rejected");
    }
    metrics.policy_errors.inc_by(first.problems.len() as u64);
    let mut sink = record_sink(&cfg)?;

    let (client, ticks_client) = connect(&cfg).await?;
    let sharded = cfg.shards.is_some();
    let mut shards = cfg.shards.clone().map(|assignment| {
        let lease = cfg.lease.clone();
        shards::Shards::new(client.clone(), lease, assignment, !cfg.dry_run)
    });
    let (mut leadership, election) = if cfg.dry_run || sharded {
        (Leadership::never(), None)
    } else {
        let (l, h) = leader::spawn(client.clone(), cfg.lease.clone(), shutdown.clone());
        (l, Some(h))
    };
    let actuator = actuate::Actuator::new(ticks_client.clone(), cfg.lease.identity.clone());

    let store = Arc::new(FeatureStore::default());
    let stop = Arc::new(AtomicBool::new(false));
    let registry = registry(&cfg, &ticks_client, &store);
    // The consumer starts when a policy in force first reads a stream: no
    // broker is contacted while none does.
    let mut ingest: Option<feed::Running> = None;
    let start_ingest = |p: &PolicySet, ingest: &mut Option<feed::Running>| {
        // Sharded, the consumer is what gets this replica its shards.
        let streams = sources::uses(p.policies().values().map(|p| &p.spec), SourceKind::Stream);
        if !streams && !sharded {
            return;
        }
        let plan = plan_for(p.policies().values().map(|p| &**p));
        match (ingest.as_ref(), cfg.ingest.as_ref()) {
            (Some(running), _) => {
                let _ = running.plans.send(plan);
            }
            (None, Some(icfg)) => {
                *ingest = Some(feed::spawn(
                    icfg.clone(),
                    plan,
                    Arc::clone(&store),
                    Arc::clone(&metrics),
                    Arc::clone(&board),
                    Arc::clone(&stop),
                ));
            }
            (None, None) => tracing::error!(
                "a policy reads metrics from the stream but no --brokers was given: those metrics stay missing"
            ),
        }
    };
    start_ingest(&policies, &mut ingest);

    let mut cluster = cluster::Cluster::new(client.clone());
    let watched = |p: &PolicySet, k: &targets::Kinds| watched(&cfg.namespaces, p, k);
    let mut kinds = targets::Kinds::default();
    resolve(&client, &policies, &mut kinds, &metrics).await;
    cluster.watch(&watched(&policies, &kinds));

    let svc = Arc::new(worker::Services {
        client: ticks_client,
        actuator,
        registry,
        metrics: Arc::clone(&metrics),
        identity: cfg.lease.identity.clone(),
        dry_run: cfg.dry_run,
    });
    let mut ticks = Ticks::new(cfg.max_concurrent_ticks);
    ticks.follow(&policies, cfg.default_tick);
    let mut leading = BTreeSet::new();
    let mut assigned = BTreeSet::new();
    let mut sink_failing = false;
    let mut last_reload = Instant::now();
    loop {
        let leader = match shards.as_mut() {
            None => leadership.is_leader(),
            Some(s) => {
                // Revoked shards are released once none of their ticks runs.
                let n = s.partitions();
                let running: BTreeSet<i32> = ticks
                    .schedule
                    .running_keys()
                    .filter_map(|k| shards::partition_of(k, n))
                    .collect();
                s.follow(|shard| running.contains(&shard));
                let now_leading = s.leading();
                let now_assigned = s.assigned();
                metrics.shards_held.set(now_leading.len() as i64);
                // A shard just assigned (its targets are ours to decide) or
                // just won (to write) acts at once instead of at its next
                // tick; the targets of the shards held already keep theirs.
                let gained: BTreeSet<i32> = now_leading
                    .difference(&leading)
                    .chain(now_assigned.difference(&assigned))
                    .copied()
                    .collect();
                if !gained.is_empty() {
                    let in_gained =
                        |k: &str| shards::partition_of(k, n).is_some_and(|p| gained.contains(&p));
                    ticks.schedule.due_where(Instant::now(), in_gained);
                }
                leading = now_leading;
                assigned = now_assigned;
                !leading.is_empty()
            }
        };
        metrics.leader.set(i64::from(leader));
        board.set_leader(leader);
        if last_reload.elapsed() >= Duration::from_secs(2) {
            last_reload = Instant::now();
            let r = policies.reload();
            for p in &r.problems {
                tracing::error!(problem = %p, "policy rejected; the last good version stays in force");
            }
            metrics.policy_errors.inc_by(r.problems.len() as u64);
            if r.changed {
                tracing::info!(policies = policies.policies().len(), "policies changed");
                start_ingest(&policies, &mut ingest);
                ticks.follow(&policies, cfg.default_tick);
                let in_force = |k: &str| policies.policies().contains_key(k);
                board.retain(in_force);
            }
            // New kinds, and kinds that failed a while ago, are resolved again.
            resolve(&client, &policies, &mut kinds, &metrics).await;
            cluster.watch(&watched(&policies, &kinds));
        }
        metrics
            .policies_loaded
            .set(policies.policies().len() as i64);
        let synced = cluster.synced();
        metrics.ready.store(synced, Ordering::Relaxed);
        if synced {
            let owner = |key: &str| match &shards {
                None => Some(leadership.clone()),
                Some(s) => s.owner_of(key),
            };
            ticks.start(&svc, &policies, &owner, &kinds, &cluster, cfg.default_tick);
        }
        metrics.ticks_running.set(ticks.schedule.running() as i64);

        tokio::select! {
            Some(done) = ticks.running.join_next_with_id() => {
                if let Some(done) = ticks.finished(done, &metrics) {
                    report(&cfg, &board, &mut sink, &mut sink_failing, done);
                }
                while let Some(done) = ticks.running.try_join_next_with_id() {
                    if let Some(done) = ticks.finished(done, &metrics) {
                        report(&cfg, &board, &mut sink, &mut sink_failing, done);
                    }
                }
            }
            _ = tokio::time::sleep_until(wake(&ticks.schedule)) => {}
            _ = leadership.changed() => {
                // A new leader acts at once instead of at its next tick. Every
                // renewal changes leadership's deadline too: a leader that
                // already led keeps its targets' tick periods.
                if !leader && leadership.is_leader() {
                    ticks.schedule.all_due(Instant::now());
                }
            }
            _ = async {
                match shards.as_mut() {
                    Some(s) => s.changed().await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = shutdown.changed() => break,
        }
    }
    // Ticks in flight finish (their writes included), up to their deadline.
    let drain = async {
        while let Some(done) = ticks.running.join_next_with_id().await {
            if let Some(done) = ticks.finished(done, &metrics) {
                report(&cfg, &board, &mut sink, &mut sink_failing, done);
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
    ticks.running.shutdown().await;
    if let Some(s) = shards {
        s.shutdown().await;
    }
    tracing::info!("shutting down");
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = election {
        let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
    }
    if let Some(running) = ingest {
        tokio::task::spawn_blocking(move || running.thread.join())
            .await
            .ok();
    }
    Ok(())
}

/// The namespaces to watch (`--namespace`, else the ones the policies name),
/// each with the target kinds its policies scale, once resolved.
fn watched(
    namespaces: &[String],
    p: &PolicySet,
    kinds: &targets::Kinds,
) -> BTreeMap<String, Vec<kube::core::ApiResource>> {
    let named = p.policies().values().map(|p| {
        let ns = p.metadata.namespace.as_deref();
        ns.unwrap_or("default").to_string()
    });
    let all: BTreeSet<String> = if namespaces.is_empty() {
        named.collect()
    } else {
        namespaces.iter().cloned().collect()
    };
    let mut out: BTreeMap<String, Vec<kube::core::ApiResource>> =
        all.into_iter().map(|ns| (ns, Vec::new())).collect();
    for pol in p.policies().values() {
        let ns = pol.metadata.namespace.as_deref().unwrap_or("default");
        let resolved = pol.spec.target.as_ref().and_then(|t| kinds.get(t));
        if let (Some(Ok(ar)), Some(list)) = (resolved, out.get_mut(ns)) {
            if !list.contains(ar) {
                list.push(ar.clone());
            }
        }
    }
    out
}

/// When the loop wakes without news: when the next tick falls due, and at
/// least every 250 ms (policy reloads, leadership, shards).
fn wake(schedule: &schedule::Schedule) -> tokio::time::Instant {
    let now = Instant::now();
    let at_latest = now + Duration::from_millis(250);
    // A past instant is stale (no start since): never spin on it.
    let next = schedule.next_due().filter(|d| *d > now);
    let at = next.map_or(at_latest, |d| d.min(at_latest));
    tokio::time::Instant::from_std(at)
}

/// A finished tick on the dashboard and in the decision records.
fn report(
    cfg: &RunConfig,
    board: &board::Board,
    sink: &mut Option<Box<dyn Write + Send>>,
    failing: &mut bool,
    done: worker::Done,
) {
    let worker::Outcome::Ticked {
        record,
        kind,
        ready,
        paused,
        min_replicas,
        max_replicas,
    } = done.outcome
    else {
        return;
    };
    // Without the dashboard nobody reads the board: keep no per-target
    // series (240 points and 10 decisions each, at 10 000 targets).
    if cfg.dashboard {
        board.tick(
            &record,
            &board::TickView {
                kind: &kind,
                ready,
                min_replicas,
                max_replicas,
                paused,
            },
        );
    }
    let Some(out) = sink
        .as_mut()
        .filter(|_| cfg.records.keeps(&record.decision))
    else {
        return;
    };
    let written = cfg
        .records
        .line(&record)
        .map_err(std::io::Error::from)
        .and_then(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match written {
        // A full disk must not stop the scaling: say so once, keep going.
        Err(e) if !*failing => {
            *failing = true;
            tracing::error!(error = %e, "writing the decision record failed; records are dropped until it works again");
        }
        Err(_) => {}
        Ok(()) => *failing = false,
    }
}
