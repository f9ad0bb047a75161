//! The command line (clap derive): one subcommand per job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::sim::{Baseline, Capacity, Interpolation, Workload};

/// scalepilot: Kubernetes autoscaling decisions that are HPA-exact, explained and replayable.
#[derive(Debug, Parser)]
#[command(name = "scalepilot", version, about)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `scalepilot=debug`.
    #[arg(long, global = true, env = "SCALEPILOT_LOG", default_value = "warn")]
    pub log: String,
    /// Log lines as text or JSON objects.
    #[arg(long, global = true, value_enum, env = "SCALEPILOT_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay a trace or a synthetic workload through the policies and the HPA, KEDA and oracle baselines.
    Simulate(SimulateArgs),
    /// Choose a policy's target, tolerances, scale-down window and rate (and
    /// forecast relaxation) on a history: the cheapest that stays within an
    /// under-provisioning budget; then replay the rest of the history to check it.
    Tune(TuneArgs),
    /// Turn HorizontalPodAutoscalers (autoscaling/v2 or v1; files, `-`, or
    /// the cluster's) into policies that decide what the HPAs decide.
    ImportHpa(ImportHpaArgs),
    /// Check policy files and folders; print every problem as file:line:column: path: message.
    Validate {
        /// Policy files or folders (searched recursively for *.yaml and *.yml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Consume the metric topics and print the windows the controller would hold.
    Features(FeaturesArgs),
    /// Print what the decision chain would be given now, for every policy and metric, and from which source.
    Observe(ObserveArgs),
    /// Run the controller: ingest, decide on every tick, and scale the targets (the leader only).
    Run(Box<RunArgs>),
    /// One line per policy's target, from what the controller wrote on the
    /// cluster: replicas (observed/asked), the last decision written and its
    /// reason, paused, an HPA in the way, metrics reported missing.
    Status(StatusArgs),
    /// Fit a forecasting model on traces and write the model file.
    Train(TrainArgs),
    /// Compare a shadow run's decisions with the HPA's: per target, how often and
    /// by how much they differ, who would have scaled first on each rise, and the
    /// replica-minutes each would have spent (records of `run --dry-run
    /// --decisions FILE` on targets an HPA scales).
    Report {
        /// Decision record files (JSON lines).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Decide once from a JSON snapshot and explain the decision.
    Decide {
        /// The snapshot file, or `-` for standard input.
        #[arg(long)]
        snapshot: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
        output: OutputFormat,
    },
}

/// A duration in whole seconds, written `90`, `90s`, `5m`, `2h` or `1d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub i64);

/// A flag's value that is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error(transparent)]
    Duration(#[from] crate::duration::DurationError),
    #[error("{0:?}: whole seconds only")]
    NotWholeSeconds(String),
    #[error("{text:?}: must be from {least} s to {most} s")]
    OutOfRange { text: String, least: i64, most: i64 },
    #[error("{0:?}: must be a positive number")]
    NotPositive(String),
    #[error("{0:?}: must be between 0 and 1 (exclusive)")]
    NotAFraction(String),
    #[error("{0:?}: must be a percentage from 0 to 100, like 1%")]
    NotAPercent(String),
}

impl std::str::FromStr for Seconds {
    type Err = ArgError;
    fn from_str(s: &str) -> Result<Self, ArgError> {
        let ms = crate::duration::parse_ms(s)?;
        if ms % 1000 != 0 {
            return Err(ArgError::NotWholeSeconds(s.to_string()));
        }
        Ok(Seconds(ms / 1000))
    }
}

/// A duration flag from `least` to `most` seconds.
fn seconds_in(s: &str, least: i64, most: i64) -> Result<Seconds, ArgError> {
    let v: Seconds = s.parse()?;
    if !(least..=most).contains(&v.0) {
        return Err(ArgError::OutOfRange {
            text: s.to_string(),
            least,
            most,
        });
    }
    Ok(v)
}

/// A decision interval: 1 s to 1 d.
fn tick_seconds(s: &str) -> Result<Seconds, ArgError> {
    seconds_in(s, 1, 86_400)
}

/// A start-up or metric delay: 0 to 1 d.
fn delay_seconds(s: &str) -> Result<Seconds, ArgError> {
    seconds_in(s, 0, 86_400)
}

/// A synthetic workload's length: two one-minute samples to 400 days.
fn workload_seconds(s: &str) -> Result<Seconds, ArgError> {
    seconds_in(s, 120, 400 * 86_400)
}

/// A forecast horizon: 1 s to 7 days.
fn horizon_seconds(s: &str) -> Result<Seconds, ArgError> {
    seconds_in(s, 1, 7 * 86_400)
}

/// A positive, finite number.
fn positive_number(s: &str) -> Result<f64, ArgError> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(ArgError::NotPositive(s.to_string())),
    }
}

/// A fraction strictly between 0 and 1.
fn open_fraction(s: &str) -> Result<f64, ArgError> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(ArgError::NotAFraction(s.to_string())),
    }
}

/// Options of `scalepilot observe`.
#[derive(Debug, Args)]
pub struct ObserveArgs {
    /// Policy files or folders.
    #[arg(long, required = true)]
    pub policies: Vec<PathBuf>,
    /// Kafka bootstrap servers: stream and kafkaLag metrics are missing without.
    #[arg(long, env = "SCALEPILOT_BROKERS")]
    pub brokers: Option<String>,
    /// Metric topics (JSON samples; scalepilot.metrics when neither this nor
    /// --otlp-topic is given).
    #[arg(long)]
    pub topic: Vec<String>,
    /// Topics of OTLP metrics, as the OpenTelemetry Collector's Kafka exporter
    /// writes them (otlp_proto or otlp_json).
    #[arg(long)]
    pub otlp_topic: Vec<String>,
    /// The kubeconfig for metrics.k8s.io and the targets' selectors (default:
    /// KUBECONFIG or in-cluster); metrics.k8s.io metrics are missing without a cluster.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Read every source to its current end, print once and exit (without: print every 5 s).
    #[arg(long)]
    pub once: bool,
    /// With --once: give up when the stream is not read to its end after this long.
    #[arg(long, default_value = "120s")]
    pub timeout: Seconds,
    /// Event time a sample may lag the partition's watermark (as `run`'s).
    #[arg(long, default_value = "10s")]
    pub allowed_lateness: Seconds,
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub output: OutputFormat,
}

/// Options of `scalepilot status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Policy files or folders (the ones the controller runs).
    #[arg(long, required = true)]
    pub policies: Vec<PathBuf>,
    /// The kubeconfig (default: KUBECONFIG, ~/.kube/config or in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Options of `scalepilot features`.
#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Kafka bootstrap servers, host:port[,host:port].
    #[arg(long, env = "SCALEPILOT_BROKERS")]
    pub brokers: String,
    /// Metric topics (JSON samples; scalepilot.metrics when neither this nor
    /// --otlp-topic is given).
    #[arg(long)]
    pub topic: Vec<String>,
    /// Topics of OTLP metrics, as the OpenTelemetry Collector's Kafka exporter
    /// writes them (otlp_proto or otlp_json).
    #[arg(long)]
    pub otlp_topic: Vec<String>,
    /// Consumer group (use your own, not the controller's, to only look).
    #[arg(long, default_value = "scalepilot-features")]
    pub group: String,
    /// Policy folder: keep only its targets, with their stream windows.
    #[arg(long)]
    pub policies: Option<PathBuf>,
    /// Without policies: count the distinct values of this label in every window.
    #[arg(long)]
    pub distinct_label: Option<String>,
    /// Read to the end of every partition, print, commit and exit.
    #[arg(long)]
    pub once: bool,
    /// Give up when no broker answers within this long; with --once, also
    /// when not caught up after this long.
    #[arg(long, default_value = "120s")]
    pub timeout: Seconds,
    /// Without --once: print every this often.
    #[arg(long, default_value = "10s")]
    pub every: Seconds,
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub output: OutputFormat,
    /// Copy rejected messages to this topic.
    #[arg(long)]
    pub dead_letter_topic: Option<String>,
    /// The checkpoint log topic (created when missing).
    #[arg(long, default_value = "scalepilot.checkpoints")]
    pub checkpoint_topic: String,
    /// Append every window as it closes to this file (JSON lines), durably,
    /// before the committed offset moves past it.
    #[arg(long)]
    pub emit_closed: Option<PathBuf>,
    /// Event time a sample may lag the partition's watermark.
    #[arg(long, default_value = "10s")]
    pub allowed_lateness: Seconds,
    /// Closed windows kept per series and window.
    #[arg(long, default_value_t = 10)]
    pub retain: usize,
    #[arg(long, default_value = "6s")]
    pub session_timeout: Seconds,
    /// Larger messages are rejected (`too_large`).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_message_bytes: usize,
}

/// Options of `scalepilot train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Traces (CSV `ts,value`) of one interval.
    #[arg(long, required_unless_present = "workload")]
    pub trace: Vec<PathBuf>,
    /// Train on a built-in synthetic workload instead (1-minute samples).
    #[arg(long, conflicts_with = "trace")]
    pub workload: Option<Workload>,
    /// Seed of the synthetic workload.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Length of the synthetic workload (2m to 400d).
    #[arg(long, default_value = "30d", value_parser = workload_seconds)]
    pub duration: Seconds,
    /// How far ahead to forecast (rounded to whole trace steps, at least one; at most 7d).
    #[arg(long, default_value = "300s", value_parser = horizon_seconds)]
    pub horizon: Seconds,
    /// Train on this leading fraction of each trace (e.g. 0.6; the rest is for replay).
    #[arg(long, default_value_t = 1.0)]
    pub fraction: f64,
    /// The model file to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `scalepilot run`.
/// What `--decisions` records.
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// Record only decisions that change the replica count.
    #[arg(long)]
    pub changes_only: bool,
    /// Also record each decision's stabilization and rate-limit history
    /// (kilobytes a line once the windows fill).
    #[arg(long)]
    pub decisions_history: bool,
}

impl RecordArgs {
    pub fn options(&self) -> crate::records::RecordOptions {
        crate::records::RecordOptions {
            changes_only: self.changes_only,
            history: self.decisions_history,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Policy folder, re-read on change (a ConfigMap mount works).
    #[arg(
        long,
        env = "SCALEPILOT_POLICIES",
        default_value = "/etc/scalepilot/policies"
    )]
    pub policies: PathBuf,
    /// Kafka bootstrap servers, host:port[,host:port]: needed only when a
    /// policy reads a `stream` metric (no broker is contacted otherwise).
    #[arg(long, env = "SCALEPILOT_BROKERS")]
    pub brokers: Option<String>,
    /// List a target's metrics.k8s.io PodMetrics at most this often
    /// (metrics-server's resolution is 15 s).
    #[arg(
        long,
        env = "SCALEPILOT_METRICS_API_MIN_INTERVAL",
        default_value = "15s"
    )]
    pub metrics_api_min_interval: Seconds,
    /// Read a `kafkaLag` metric's consumer-group offsets at most this often.
    #[arg(long, env = "SCALEPILOT_KAFKA_LAG_MIN_INTERVAL", default_value = "5s")]
    pub kafka_lag_min_interval: Seconds,
    /// Metric topics (JSON samples; scalepilot.metrics when neither this nor
    /// --otlp-topic is given).
    #[arg(long, env = "SCALEPILOT_TOPICS", value_delimiter = ',')]
    pub topic: Vec<String>,
    /// Topics of OTLP metrics, as the OpenTelemetry Collector's Kafka exporter
    /// writes them (otlp_proto or otlp_json).
    #[arg(long, env = "SCALEPILOT_OTLP_TOPICS", value_delimiter = ',')]
    pub otlp_topic: Vec<String>,
    /// Consumer group: with --sharding leader each replica consumes every
    /// partition in group GROUP.IDENTITY; with --sharding partitions all
    /// replicas share GROUP.
    #[arg(long, env = "SCALEPILOT_GROUP", default_value = "scalepilot")]
    pub group: String,
    /// How replicas share the work. leader: every replica consumes and
    /// decides everything, the one holding the Lease writes (small
    /// installs). partitions: the replicas share one consumer group and each
    /// decides and writes for the targets of the partitions it is assigned,
    /// under one Lease per partition (needs --brokers; JSON topics only).
    #[arg(long, env = "SCALEPILOT_SHARDING", value_enum, default_value_t = Sharding::Leader)]
    pub sharding: Sharding,
    /// The checkpoint log topic (created when missing).
    #[arg(
        long,
        env = "SCALEPILOT_CHECKPOINT_TOPIC",
        default_value = "scalepilot.checkpoints"
    )]
    pub checkpoint_topic: String,
    /// Copy rejected messages to this topic.
    #[arg(long, env = "SCALEPILOT_DEAD_LETTER_TOPIC")]
    pub dead_letter_topic: Option<String>,
    /// Event time a sample may lag the partition's watermark.
    #[arg(long, default_value = "10s")]
    pub allowed_lateness: Seconds,
    #[arg(long, default_value = "6s")]
    pub session_timeout: Seconds,
    /// Decide and record, never write (the Kubernetes client refuses every write).
    #[arg(long, env = "SCALEPILOT_DRY_RUN")]
    pub dry_run: bool,
    /// Append every tick's decision (JSON lines) here; dry-run prints them to stdout by default.
    #[arg(long)]
    pub decisions: Option<PathBuf>,
    #[command(flatten)]
    pub records: RecordArgs,
    /// This replica's identity in the Lease (default: POD_NAME, else host name and pid).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    #[arg(
        long,
        env = "SCALEPILOT_LEASE_NAME",
        default_value = "scalepilot-leader"
    )]
    pub lease_name: String,
    /// Namespace of the Lease (default: POD_NAMESPACE, else `default`).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    #[arg(long, env = "SCALEPILOT_LEASE_DURATION", default_value = "15s")]
    pub lease_duration: Seconds,
    #[arg(long, env = "SCALEPILOT_RENEW_DEADLINE", default_value = "10s")]
    pub renew_deadline: Seconds,
    #[arg(long, env = "SCALEPILOT_RETRY_PERIOD", default_value = "2s")]
    pub retry_period: Seconds,
    /// HTTP address of the dashboard (/), /metrics, /healthz and /readyz.
    #[arg(long, env = "SCALEPILOT_LISTEN", default_value = "0.0.0.0:9090")]
    pub listen: std::net::SocketAddr,
    /// Do not serve the dashboard (/ and /api/*) on the --listen port.
    #[arg(long, env = "SCALEPILOT_NO_DASHBOARD")]
    pub no_dashboard: bool,
    /// Namespaces to watch (default: those the policies name).
    #[arg(long, env = "SCALEPILOT_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Decision interval of policies without tickSeconds.
    #[arg(long, default_value = "5s")]
    pub tick: Seconds,
    /// At most this many targets' ticks run at once; one slow target holds
    /// one slot, never the others.
    #[arg(long, env = "SCALEPILOT_MAX_CONCURRENT_TICKS", default_value = "256", value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub max_concurrent_ticks: u16,
    /// At most this many of the ticks' API requests (`/scale` reads and
    /// writes, annotations, Events, metrics.k8s.io) in flight at once; a tick
    /// that needs none decides without waiting for one. Watches and Leases
    /// are not counted: leadership never waits behind writes.
    #[arg(long, env = "SCALEPILOT_MAX_CONCURRENT_API_CALLS", default_value = "32", value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub max_concurrent_api_calls: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sharding {
    Leader,
    Partitions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The simulated world of `simulate` and `tune`: capacity, start-up, delays.
#[derive(Debug, Args)]
pub struct WorldArgs {
    /// Capacity model: `auto:N` rescales the trace so its 99th percentile needs N replicas of 100 units each.
    #[arg(long, default_value = "auto:20")]
    pub capacity: Capacity,
    /// Load units one ready replica serves, in the trace's own units (overrides --capacity).
    #[arg(long, value_parser = positive_number)]
    pub capacity_per_replica: Option<f64>,
    /// Time from pod creation to readiness (0 to 1d).
    #[arg(long, default_value = "30s", value_parser = delay_seconds)]
    pub pod_startup: Seconds,
    /// Age of the metric the policies see (the streaming path; 0 to 1d).
    #[arg(long, default_value = "10s", value_parser = delay_seconds)]
    pub metric_delay: Seconds,
    /// Decision interval of the policies (1s to 1d; a policy's tickSeconds wins).
    #[arg(long, default_value = "5s", value_parser = tick_seconds)]
    pub tick: Seconds,
    /// How the load moves between samples.
    #[arg(long, value_enum, default_value_t = Interpolation::Linear)]
    pub interpolate: Interpolation,
}

impl WorldArgs {
    /// The simulator's settings for these flags (baselines: the HPA, KEDA and the oracle).
    pub fn sim_config(&self, hpa_target: i32) -> crate::sim::SimConfig {
        crate::sim::SimConfig {
            capacity: self
                .capacity_per_replica
                .map_or(self.capacity, Capacity::PerReplica),
            pod_startup_s: self.pod_startup.0,
            metric_delay_s: self.metric_delay.0,
            tick_s: self.tick.0,
            interpolation: self.interpolate,
            hpa_target,
            ..crate::sim::SimConfig::default()
        }
    }
}

/// A budget of under-provisioned time, `1%` or `1`: 0 to 100 %.
fn percent(s: &str) -> Result<f64, ArgError> {
    match s.trim().trim_end_matches('%').trim().parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(ArgError::NotAPercent(s.to_string())),
    }
}

/// Options of `scalepilot tune`.
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// The history: CSV `ts,value` (as `simulate --trace`).
    #[arg(long)]
    pub trace: PathBuf,
    /// Tune on the trace before this fraction; replay the rest to check the result.
    #[arg(long, default_value_t = 0.6, value_parser = open_fraction)]
    pub fraction: f64,
    /// The most under-provisioned time allowed, % of the time (e.g. `1%`).
    #[arg(long, value_parser = percent)]
    pub budget: f64,
    /// The policy to start from (one policy; its metrics and limits are kept).
    #[arg(long)]
    pub policy: PathBuf,
    /// Where to write the tuned policy.
    #[arg(long)]
    pub out: PathBuf,
    /// The budget must hold in every stretch of the history one this-many-th
    /// of its length, wherever it begins, not only on average over it (1:
    /// over the whole only).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub periods: u32,
    #[command(flatten)]
    pub world: WorldArgs,
    /// CPU utilization target of the HPA the held-out part is compared with, %.
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub hpa_target: i32,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `scalepilot import-hpa`.
#[derive(Debug, Args)]
pub struct ImportHpaArgs {
    /// HPA manifests (YAML or JSON, several documents or a List each), or `-` for standard input.
    pub files: Vec<PathBuf>,
    /// Also read the cluster's HPAs (KUBECONFIG, --kubeconfig or in-cluster).
    #[arg(long)]
    pub from_cluster: bool,
    /// With --from-cluster: only this namespace (default: all).
    #[arg(long, short = 'n', requires = "from_cluster")]
    pub namespace: Option<String>,
    /// With --from-cluster: the kubeconfig to use.
    #[arg(long, requires = "from_cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// Write one file per policy (NAMESPACE-NAME.yaml) into this folder instead of printing them.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Options of `scalepilot simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Policy files or folders to replay (default: the embedded example policies/checkout-stream.yaml).
    #[arg(long)]
    pub policy: Vec<PathBuf>,
    /// A trace: CSV `ts,value` (or a `timestamp`/`time` header), Unix seconds (fractions rounded), ascending.
    #[arg(long, conflicts_with = "workload")]
    pub trace: Option<PathBuf>,
    /// A built-in synthetic workload (default flash-crowd): diurnal, flash-crowd, step, ramp, sawtooth, noisy.
    #[arg(long)]
    pub workload: Option<Workload>,
    /// Seed of the synthetic workload.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Length of the synthetic workload (2m to 400d).
    #[arg(long, default_value = "1d", value_parser = workload_seconds)]
    pub duration: Seconds,
    #[command(flatten)]
    pub world: WorldArgs,
    /// Baselines to run beside the policies.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "hpa,keda,oracle"
    )]
    pub baseline: Vec<Baseline>,
    /// CPU utilization target of the HPA baseline, % (1 to 1000).
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub hpa_target: i32,
    /// Print the scorecards as JSON.
    #[arg(long)]
    pub json: bool,
    /// Draw the run to this .svg or .png file (the embedded default writes simulate.svg).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Draw only from this time: a date (2026-12-05), an RFC 3339 time or an
    /// offset from the trace's start (36h, 2d). The scorecards still cover the
    /// whole run.
    #[arg(long, visible_alias = "from", value_name = "TIME")]
    pub plot_from: Option<crate::sim::PlotTime>,
    /// Draw only up to this time (as --plot-from).
    #[arg(long, visible_alias = "to", value_name = "TIME")]
    pub plot_to: Option<crate::sim::PlotTime>,
    /// Write a self-contained HTML report here (opens from disk, zooms over
    /// the whole trace; with --sweep it draws the frontiers).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write every decision, with its reasons, as JSON lines.
    #[arg(long)]
    pub decisions: Option<PathBuf>,
    #[command(flatten)]
    pub records: RecordArgs,
    /// Replay only the trace after this fraction (e.g. 0.6); the part before is the models' past.
    #[arg(long, value_parser = open_fraction)]
    pub from_fraction: Option<f64>,
    /// Also replay each predictive policy as NAME-perfect, its forecast replaced
    /// by the true peak ahead (a what-if: the most a forecast could add).
    #[arg(long)]
    pub perfect_forecast: bool,
    /// Replay every autoscaler at each target FROM:TO:STEP (whole percent of
    /// one replica's capacity; --hpa-target is always among them) and print
    /// each frontier, replica-hours against under-provisioned time, and every
    /// other autoscaler read at the HPA's point: its τU at the HPA's cost and
    /// its cost at the HPA's τU. --plot then draws the frontiers.
    #[arg(long, value_name = "FROM:TO:STEP", conflicts_with = "decisions")]
    pub sweep: Option<crate::sim::Sweep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Json,
    Text,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!("90".parse::<Seconds>(), Ok(Seconds(90)));
        assert_eq!("30s".parse::<Seconds>(), Ok(Seconds(30)));
        assert_eq!("5m".parse::<Seconds>(), Ok(Seconds(300)));
        assert_eq!("1d".parse::<Seconds>(), Ok(Seconds(86_400)));
        assert!("5x".parse::<Seconds>().is_err());
        assert!("m".parse::<Seconds>().is_err());
    }

    #[test]
    fn simulate_and_train_refuse_absurd_flags() {
        use clap::Parser;
        let parse = |args: &str| {
            let args = format!("scalepilot {args}");
            Cli::try_parse_from(args.split_whitespace())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let train = "train --workload diurnal --out m.json";
        for bad in [
            "simulate --tick 0".to_string(),
            "simulate --tick 2d".into(),
            "simulate --capacity-per-replica 0".into(),
            "simulate --capacity-per-replica NaN".into(),
            "simulate --capacity-per-replica inf".into(),
            "simulate --capacity-per-replica -5".into(),
            "simulate --hpa-target 0".into(),
            "simulate --hpa-target=-80".into(),
            "simulate --pod-startup 99999999999s".into(),
            "simulate --metric-delay 2d".into(),
            "simulate --duration 99999999999s".into(),
            "simulate --duration 0".into(),
            "simulate --from-fraction 1".into(),
            "simulate --from-fraction NaN".into(),
            format!("{train} --duration 99999999999s"),
            format!("{train} --horizon 0"),
            format!("{train} --horizon 30d"),
        ] {
            assert!(parse(&bad).is_err(), "{bad:?} was accepted");
        }
        for good in [
            "simulate --tick 1s --pod-startup 0 --metric-delay 1d".to_string(),
            "simulate --capacity-per-replica 0.5 --hpa-target 150".into(),
            "simulate --duration 400d --from-fraction 0.99".into(),
            format!("{train} --horizon 7d --duration 2m"),
        ] {
            assert_eq!(parse(&good), Ok(()), "{good:?}");
        }
    }
}
