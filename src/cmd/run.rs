//! `scalepilot run`: the live controller, on a tokio runtime, until SIGTERM
//! or Ctrl-C (then it releases its Lease and commits its ingest progress).

use std::time::Duration;

use crate::cli::{RunArgs, Sharding};
use crate::controller::{self, LeaseConfig, RunConfig};
use crate::features::EngineConfig;
use crate::ingest::{Assignment, AssignmentSink, IngestConfig};

/// librdkafka properties from `SCALEPILOT_KAFKA_<NAME>` variables
/// (`SCALEPILOT_KAFKA_SASL_PASSWORD` → `sasl.password`).
pub fn kafka_properties(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut props: Vec<(String, String)> = vars
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("SCALEPILOT_KAFKA_")?;
            Some((name.to_ascii_lowercase().replace('_', "."), v))
        })
        .collect();
    props.sort();
    props
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "scalepilot".into());
    format!("{host}-{}", std::process::id())
}

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let identity = args.identity.clone().unwrap_or_else(default_identity);
    let secs = |s: crate::cli::Seconds| Duration::from_secs(s.0.max(0) as u64);
    if args.renew_deadline.0 >= args.lease_duration.0 {
        anyhow::bail!("--renew-deadline must be shorter than --lease-duration");
    }
    let topics = IngestConfig::json_topics(&args.topic, &args.otlp_topic);
    let (assignment, shard_assignment) = match args.sharding {
        Sharding::Leader => (None, None),
        Sharding::Partitions => {
            if args.brokers.is_none() {
                anyhow::bail!(
                    "--sharding partitions needs --brokers: the consumer group assigns the shards"
                );
            }
            if !args.otlp_topic.is_empty() {
                anyhow::bail!("--sharding partitions cannot read --otlp-topic: OTLP messages are not keyed by target, so a partition does not hold its targets' data");
            }
            let (tx, rx) = tokio::sync::watch::channel(Assignment::default());
            let sink = AssignmentSink {
                topic: topics[0].clone(),
                tx: std::sync::Arc::new(tx),
            };
            (Some(sink), Some(rx))
        }
    };
    let group = match args.sharding {
        Sharding::Leader => format!("{}.{identity}", args.group),
        Sharding::Partitions => args.group.clone(),
    };
    let ingest = args.brokers.as_ref().map(|brokers| IngestConfig {
        brokers: brokers.clone(),
        topics,
        otlp_topics: args.otlp_topic.clone(),
        group,
        dead_letter_topic: args.dead_letter_topic.clone(),
        session_timeout_ms: (args.session_timeout.0 * 1000) as u32,
        max_message_bytes: 1 << 20,
        engine: EngineConfig {
            allowed_lateness_ms: args.allowed_lateness.0 * 1000,
            // The controller takes each window as it closes (the stream
            // source keeps the newest of each series); a second copy of
            // the last ten in the engine would only be counted (4 KB a
            // target at 3 000 targets, measured with heaptrack).
            retain_closed: 0,
            ..EngineConfig::default()
        },
        from_beginning: true,
        properties: kafka_properties(std::env::vars()),
        checkpoint_topic: args.checkpoint_topic.clone(),
        assignment,
    });
    let cfg = RunConfig {
        policies: args.policies.clone(),
        ingest,
        allowed_lateness_ms: args.allowed_lateness.0 * 1000,
        metrics_api_min_interval: secs(args.metrics_api_min_interval),
        kafka_lag_min_interval: secs(args.kafka_lag_min_interval),
        dry_run: args.dry_run,
        decisions: args.decisions.clone(),
        records: args.records.options(),
        lease: LeaseConfig {
            name: args.lease_name.clone(),
            namespace: args.lease_namespace.clone(),
            identity,
            lease_duration: secs(args.lease_duration),
            renew_deadline: secs(args.renew_deadline),
            retry_period: secs(args.retry_period),
        },
        listen: args.listen,
        namespaces: args.namespaces.clone(),
        default_tick: secs(args.tick),
        max_concurrent_ticks: usize::from(args.max_concurrent_ticks),
        max_concurrent_api_calls: usize::from(args.max_concurrent_api_calls),
        shards: shard_assignment,
        dashboard: !args.no_dashboard,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            let _ = tx.send(true);
        });
        controller::run(cfg, rx).await.map_err(anyhow::Error::from)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn kafka_properties_from_the_environment() {
        let vars = [
            ("SCALEPILOT_KAFKA_SASL_PASSWORD", "s3cret"),
            ("SCALEPILOT_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("SCALEPILOT_BROKERS", "b:9092"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            super::kafka_properties(vars.into_iter()),
            [
                ("sasl.password".to_string(), "s3cret".to_string()),
                ("security.protocol".to_string(), "SASL_SSL".to_string())
            ]
        );
    }
}
