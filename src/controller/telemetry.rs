//! The controller's Prometheus metrics (one registry) and its HTTP port:
//! `/metrics` in the Prometheus text format, `/healthz` (the process serves),
//! `/readyz` (policies loaded and the first sync of every watch done).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// Every metric the controller exports.
pub struct Metrics {
    pub registry: Registry,
    pub decisions: IntCounterVec,
    pub writes: IntCounterVec,
    pub desired: IntGaugeVec,
    pub current: IntGaugeVec,
    pub observed: GaugeVec,
    pub metric_missing: IntGaugeVec,
    pub forecast: GaugeVec,
    pub forecast_fallback: IntGaugeVec,
    pub forecast_error: GaugeVec,
    pub leader: IntGauge,
    pub ingest_lag: IntGaugeVec,
    pub ingest_samples: IntCounterVec,
    pub ingest_rejected: IntCounterVec,
    pub windows_open: IntGauge,
    pub decision_seconds: Histogram,
    pub tick_lag_seconds: Histogram,
    pub ticks_abandoned: IntCounterVec,
    pub ticks_running: IntGauge,
    pub shards_held: IntGauge,
    pub policies_loaded: IntGauge,
    pub policy_errors: IntCounter,
    pub ready: AtomicBool,
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("registered once");
    c
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

fn float_gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let r = Registry::new();
        let decision_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "scalepilot_decision_duration_seconds",
                "Time to decide one target, from its inputs to the decision.",
            )
            .buckets(prometheus::exponential_buckets(1e-6, 4.0, 12).expect("valid buckets")),
        )
        .expect("valid metric");
        r.register(Box::new(decision_seconds.clone()))
            .expect("registered once");
        let tick_lag_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "scalepilot_tick_lag_seconds",
                "Time from a target's tick being due to its decision (waiting for a slot included).",
            )
            .buckets(prometheus::exponential_buckets(1e-3, 2.0, 16).expect("valid buckets")),
        )
        .expect("valid metric");
        r.register(Box::new(tick_lag_seconds.clone()))
            .expect("registered once");
        let policy_errors = IntCounter::new(
            "scalepilot_policy_errors_total",
            "Problems found in policy files (each rejected file keeps its last good version).",
        )
        .expect("valid metric");
        r.register(Box::new(policy_errors.clone()))
            .expect("registered once");
        Arc::new(Metrics {
            tick_lag_seconds,
            ticks_abandoned: counter_vec(
                &r,
                "scalepilot_ticks_abandoned_total",
                "Ticks that ended without a decision, by reason (deadline: its API calls took longer than the tick deadline; panic).",
                &["reason"],
            ),
            shards_held: gauge(
                &r,
                "scalepilot_shards_held",
                "With --sharding partitions: the shards whose Lease this replica holds.",
            ),
            ticks_running: gauge(
                &r,
                "scalepilot_ticks_running",
                "Ticks running at this moment (bounded by --max-concurrent-ticks).",
            ),
            decisions: counter_vec(
                &r,
                "scalepilot_decisions_total",
                "Decisions by target and direction (up, down, none).",
                &["target", "direction"],
            ),
            writes: counter_vec(
                &r,
                "scalepilot_scale_writes_total",
                "Writes of /scale by target and result (ok, conflict, error).",
                &["target", "result"],
            ),
            desired: gauge_vec(
                &r,
                "scalepilot_desired_replicas",
                "The replica count last decided.",
                &["target"],
            ),
            current: gauge_vec(
                &r,
                "scalepilot_current_replicas",
                "The replica count last read.",
                &["target"],
            ),
            observed: float_gauge_vec(
                &r,
                "scalepilot_observed_value",
                "The observed value of each metric, as the decision read it.",
                &["target", "metric"],
            ),
            metric_missing: gauge_vec(
                &r,
                "scalepilot_metric_missing",
                "1 while a policy's metric has no value for the decision, by reason (no_window, no_broker, fetch_failed, no_pod_metrics, no_selector, no_source).",
                &["target", "metric", "reason"],
            ),
            forecast: float_gauge_vec(
                &r,
                "scalepilot_forecast_value",
                "The upper forecast (peak plus margin) of each metric over its horizon.",
                &["target", "metric"],
            ),
            forecast_fallback: gauge_vec(
                &r,
                "scalepilot_forecast_fallback",
                "1 while the policy is reactive though it has a forecast: the accuracy gate has fallen back, or the model saw no daily cycle in its training data.",
                &["target"],
            ),
            forecast_error: float_gauge_vec(
                &r,
                "scalepilot_forecast_error",
                "The accuracy gate's rolling scores: mape_percent, and loss_ratio (quantile loss over the no-change forecast's; at 1 or above the forecast adds nothing).",
                &["target", "score"],
            ),
            leader: gauge(
                &r,
                "scalepilot_leader",
                "1 on the replica that holds the lease.",
            ),
            ingest_lag: gauge_vec(
                &r,
                "scalepilot_ingest_lag_messages",
                "Messages between the consumer's position and the end of each partition.",
                &["topic", "partition"],
            ),
            ingest_samples: counter_vec(
                &r,
                "scalepilot_ingest_samples_total",
                "Samples by outcome (counted, duplicate, skipped, replayed).",
                &["outcome"],
            ),
            ingest_rejected: counter_vec(
                &r,
                "scalepilot_ingest_rejected_total",
                "Rejected samples and messages by reason.",
                &["reason"],
            ),
            windows_open: gauge(
                &r,
                "scalepilot_windows_open",
                "Windows held (open, or closed and retained).",
            ),
            decision_seconds,
            policies_loaded: gauge(&r, "scalepilot_policies_loaded", "Policies in force."),
            policy_errors,
            ready: AtomicBool::new(false),
            registry: r,
        })
    }

    /// The registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("the text format is UTF-8")
    }
}

/// Serves `/metrics`, `/healthz`, `/readyz` and, given a board, the
/// dashboard, until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    board: Option<Arc<super::board::Board>>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(m): State<Arc<Metrics>>| async move {
                ([("content-type", "text/plain; version=0.0.4")], m.render())
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|State(m): State<Arc<Metrics>>| async move {
                if m.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready\n")
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "not ready: policies or watches not synced\n",
                    )
                }
            }),
        )
        .with_state(metrics);
    let app = match board {
        Some(b) => app.merge(super::dashboard::routes(b)),
        None => app,
    };
    axum::serve(listener, app).await
}

/// Binds the HTTP port.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
