//! The live controller behind `scalepilot run`: policies from a folder
//! (re-read on change), Kafka ingest into windowed features on its own thread,
//! reflectors of the target Deployments and their Pods, the decision chain on
//! every policy's tick, and — on the leader only — idempotent, fenced writes
//! of `/scale`. Every replica ingests and decides, so a standby is warm; the
//! Lease decides who writes.

mod actuate;
pub mod board;
mod cluster;
mod dashboard;
mod error;
mod feed;
mod forecast;
pub mod history;
pub mod leader;
mod objects;
mod policies;
pub mod selector;
pub mod shadow;
pub mod targets;
mod telemetry;
mod tick;

pub use actuate::{read_only_client, LAST_DECISION, PAUSED};
pub use error::{ControllerError, Result};
pub use leader::{Leadership, LeaseConfig};
pub use policies::PolicySet;
pub use telemetry::Metrics;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::Instrument;

use crate::decide::History;
use crate::features::plan_for;
use crate::ingest::IngestConfig;
use crate::sources::{
    self, FeatureStore, KafkaLag, MetricsApi, Observed, Registry, SourceKind, StreamSource,
};

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
    let client = if cfg.dry_run {
        read_only_client(kube_config)?
    } else {
        kube::Client::try_from(kube_config)?
    };
    let (mut leadership, election) = if cfg.dry_run {
        (Leadership::never(), None)
    } else {
        let (l, h) = leader::spawn(client.clone(), cfg.lease.clone(), shutdown.clone());
        (l, Some(h))
    };
    let actuator = actuate::Actuator::new(client.clone(), cfg.lease.identity.clone());

    let store = Arc::new(FeatureStore::default());
    let stop = Arc::new(AtomicBool::new(false));
    let in_force = |p: &PolicySet| p.policies().values().cloned().collect::<Vec<_>>();
    let registry = Registry::new()
        .with(StreamSource::new(
            cfg.ingest.as_ref().map(|_| Arc::clone(&store)),
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
        );
    // The consumer starts when a policy in force first reads a stream: no
    // broker is contacted while none does.
    let mut ingest: Option<feed::Running> = None;
    let start_ingest = |p: &PolicySet, ingest: &mut Option<feed::Running>| {
        if !sources::uses(p.policies().values().map(|p| &p.spec), SourceKind::Stream) {
            return;
        }
        let plan = plan_for(&in_force(p));
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
    let mut missing: HashMap<(String, String), &'static str> = HashMap::new();

    let mut cluster = cluster::Cluster::new(client.clone());
    let namespaces = |p: &PolicySet| -> Vec<String> {
        if !cfg.namespaces.is_empty() {
            return cfg.namespaces.clone();
        }
        let set: BTreeSet<String> = p
            .policies()
            .values()
            .map(|p| {
                p.metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into())
            })
            .collect();
        set.into_iter().collect()
    };
    // Each namespace watches the kinds its policies scale, once resolved.
    let watched = |p: &PolicySet, kinds: &targets::Kinds| {
        let mut out: BTreeMap<String, Vec<kube::core::ApiResource>> = namespaces(p)
            .into_iter()
            .map(|ns| (ns, Vec::new()))
            .collect();
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
    };
    let mut kinds = targets::Kinds::default();
    let mut scales = targets::Scales::default();
    resolve(&client, &policies, &mut kinds, &metrics).await;
    cluster.watch(&watched(&policies, &kinds));

    let mut histories: HashMap<String, History> = HashMap::new();
    let mut forecasts: HashMap<String, Option<forecast::ForecastState>> = HashMap::new();
    let mut due: HashMap<String, Instant> = HashMap::new();
    let mut warned: BTreeSet<String> = BTreeSet::new();
    let mut last_reload = Instant::now();
    loop {
        let leader = leadership.is_leader();
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
                due.retain(|k, _| policies.policies().contains_key(k));
                scales.retain(|k| policies.policies().contains_key(k));
                board.retain(|k| policies.policies().contains_key(k));
                // Models are reloaded with the policies (their state starts over).
                forecasts.clear();
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

        let now = chrono::Utc::now();
        for (key, policy) in policies.policies() {
            let tick_every = policy
                .spec
                .tick_seconds
                .map_or(cfg.default_tick, |s| Duration::from_secs(s.max(1) as u64));
            let next = due.entry(key.clone()).or_insert_with(Instant::now);
            if !synced || Instant::now() < *next {
                continue;
            }
            *next = Instant::now() + tick_every;
            let Some((ns, name)) = key.split_once('/') else {
                continue;
            };
            let Some(target_ref) = policy.spec.target.as_ref() else {
                continue;
            };
            let resource = match kinds.get(target_ref) {
                Some(Ok(ar)) => ar.clone(),
                Some(Err(_)) | None => continue, // logged when resolved
            };
            let Some(object) = cluster.target(&resource, ns, name) else {
                if warned.insert(format!("missing {key}")) {
                    tracing::warn!(target = %key, kind = %resource.kind, "the target does not exist (yet)");
                }
                continue;
            };
            warned.remove(&format!("missing {key}"));
            let rv = object.metadata.resource_version.as_deref();
            let scale = match scales.current(&client, &resource, key, rv).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(target = %key, error = %e, "reading /scale failed; the tick is skipped");
                    continue;
                }
            };
            let hpa = cluster
                .hpa_for(&resource, ns, name)
                .map(|h| shadow::HpaView::of(&h));
            let pods = match scale.selector.as_deref().map(selector::parse) {
                Some(Ok(sel)) => tick::pods_of(&cluster.pods(ns, &sel)),
                Some(Err(e)) => {
                    if warned.insert(format!("selector {key}")) {
                        tracing::error!(target = %key, error = %e, "the /scale selector is not understood: no pods are counted");
                    }
                    Vec::new()
                }
                None => Vec::new(),
            };
            let target = sources::Target {
                key,
                namespace: ns,
                name,
                selector: scale.selector.as_deref(),
            };
            let observed = registry.observe(&target, &policy.spec, now).await;
            let burst = registry
                .observe_refreshed(&target, &policy.spec.burst_metrics(), now)
                .into_iter()
                .map(|o| o.observation)
                .collect();
            let health = note_missing(&metrics, key, &observed, &mut missing);
            // The leader records source health on the target, for `status`
            // and `kubectl describe`.
            for (metric, why) in health.into_iter().filter(|_| leader && !cfg.dry_run) {
                let (warning, reason, note) = match why {
                    Some(w) => (
                        true,
                        "MetricMissing",
                        format!("metric {metric} is missing: {w}"),
                    ),
                    None => (
                        false,
                        "MetricRecovered",
                        format!("metric {metric} is observed again"),
                    ),
                };
                if let Err(e) = actuator
                    .event(&resource, &object, warning, reason, note)
                    .await
                {
                    tracing::warn!(error = %e, "could not record the Event");
                }
            }
            let ready = if pods.is_empty() {
                scale.status_replicas
            } else {
                pods.iter()
                    .filter(|p| p.ready == Some(true) && !p.deleted)
                    .count() as i32
            };
            let gathered = tick::Gathered {
                key,
                namespace: ns,
                name,
                policy,
                resource: &resource,
                object: &object,
                scale: &scale,
                pods,
                observed,
                burst,
                hpa: hpa.clone(),
            };
            let ctx = tick::TickContext {
                now,
                identity: &cfg.lease.identity,
                leader,
                dry_run: cfg.dry_run,
                actuator: &actuator,
                metrics: &metrics,
                leadership: &leadership,
            };
            let own = histories.remove(key).unwrap_or_default();
            let fs = forecasts.entry(key.clone()).or_insert_with(|| {
                forecast::load(policies.source(key), policy.spec.forecast.as_ref()).unwrap_or_else(|e| {
                    tracing::error!(target = %key, error = %e, "forecast model not loaded: the policy stays reactive");
                    metrics.policy_errors.inc();
                    None
                })
            });
            let span = tracing::info_span!("tick", target = %key, leader);
            let (record, kept) = tick::tick(&ctx, &gathered, &own, fs.as_mut())
                .instrument(span)
                .await;
            histories.insert(key.clone(), kept);
            board.tick(
                &record,
                &board::TickView {
                    kind: &resource.kind,
                    ready,
                    min_replicas: policy.spec.min_replicas(),
                    max_replicas: policy.spec.max_replicas,
                    paused: objects::annotation(&object.metadata, PAUSED) == Some("true"),
                },
            );
            if let (Some(h), true) = (hpa.as_ref().map(|h| &h.name), leader && !cfg.dry_run) {
                if warned.insert(format!("hpa {key}")) {
                    tracing::warn!(target = %key, hpa = %h, "refusing to scale: an HPA also scales this target");
                    let msg = format!("scalepilot will not scale this {}: HorizontalPodAutoscaler {h} also scales it (two autoscalers fight)", resource.kind);
                    if let Err(e) = actuator
                        .event(&resource, &object, true, "HPAConflict", msg)
                        .await
                    {
                        tracing::warn!(error = %e, "could not record the Event");
                    }
                }
            }
            if let Some(out) = sink
                .as_mut()
                .filter(|_| cfg.records.keeps(&record.decision))
            {
                let written = cfg
                    .records
                    .line(&record)
                    .map_err(std::io::Error::from)
                    .and_then(|line| writeln!(out, "{line}"))
                    .and_then(|()| out.flush());
                if let Err(e) = written {
                    // A full disk must not stop the scaling: say so, keep going.
                    if warned.insert("decisions sink".into()) {
                        tracing::error!(error = %e, "writing the decision record failed; records are dropped until it works again");
                    }
                } else {
                    warned.remove("decisions sink");
                }
            }
        }

        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = leadership.changed() => {
                // A new leader acts at once instead of at its next tick.
                if leadership.is_leader() {
                    due.values_mut().for_each(|d| *d = Instant::now());
                }
            }
            _ = shutdown.changed() => break,
        }
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

/// Keeps `scalepilot_metric_missing` in step with the tick's observations and
/// logs each cause once: when a metric's reason changes, and when it is back.
fn note_missing(
    metrics: &Metrics,
    key: &str,
    observed: &[Observed],
    state: &mut HashMap<(String, String), &'static str>,
) -> Vec<(String, Option<String>)> {
    let mut changed = Vec::new();
    for o in observed {
        let metric = o.observation.name.clone();
        let id = (key.to_string(), metric.clone());
        let now = o.missing.as_ref().map(|m| m.code);
        let before = state.get(&id).copied();
        if before == now {
            continue;
        }
        if let Some(code) = before {
            let _ = metrics
                .metric_missing
                .remove_label_values(&[key, &metric, code]);
        }
        match &o.missing {
            Some(m) => {
                metrics
                    .metric_missing
                    .with_label_values(&[key, &metric, m.code])
                    .set(1);
                let source = o.source.map_or("none", |s| s.name());
                tracing::warn!(target = %key, metric = %metric, source, reason = m.code, message = %m.message, "metric missing: the decision treats it as the HPA treats a failed metric");
                state.insert(id, m.code);
                changed.push((metric, Some(format!("{source}: {}", m.message))));
            }
            None => {
                tracing::info!(target = %key, metric = %metric, "metric observed again");
                state.remove(&id);
                changed.push((metric, None));
            }
        }
    }
    changed
}
