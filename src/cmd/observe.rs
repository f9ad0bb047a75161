//! `scalepilot observe`: what the decision chain would be given now, for every
//! policy and metric, and from which source — how a user debugs "why doesn't
//! it scale". One JSON line per metric (or a table): target, metric, source,
//! value (or per-pod values), when it was measured, and why it is missing.
//!
//! The stream is read with a consumer group of its own (never the
//! controller's; nothing is committed) from the beginning to the current end
//! of every partition; consumer lag is read from the brokers; metrics.k8s.io
//! and the targets' selectors come from the cluster when one is reachable.
//! Sources that need no cluster work without one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::controller::targets;
use serde::Serialize;

use crate::cli::{ObserveArgs, OutputFormat};
use crate::decide::Time;
use crate::error::{Error, Result};
use crate::features::{plan_for, target_key, EngineConfig};
use crate::ingest::{Ingest, IngestConfig};
use crate::policy::{check_sources, load_paths, ScalingPolicy};
use crate::sources::{
    self, FeatureStore, KafkaLag, MetricsApi, Observed, Registry, SourceKind, StreamSource,
};

/// One line of output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub target: String,
    pub metric: String,
    pub source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_pod: Option<BTreeMap<String, f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

impl Line {
    fn of(target: &str, o: &Observed) -> Line {
        let obs = &o.observation;
        let milli = obs
            .values
            .iter()
            .copied()
            .reduce(i64::saturating_add)
            .or(obs.value);
        let per_pod = (!obs.pods.is_empty()).then(|| {
            obs.pods
                .iter()
                .filter_map(|(pod, s)| {
                    let v = s
                        .value
                        .or_else(|| s.containers.values().copied().reduce(i64::saturating_add))?;
                    Some((pod.clone(), v as f64 / 1000.0))
                })
                .collect()
        });
        Line {
            target: target.to_string(),
            metric: obs.name.clone(),
            source: o.source.map(SourceKind::name),
            value: milli.map(|m| m as f64 / 1000.0),
            per_pod,
            at: o
                .at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            missing: o
                .missing
                .as_ref()
                .map(|m| format!("{}: {}", m.code, m.message)),
        }
    }
}

fn load(args: &ObserveArgs) -> Result<Vec<ScalingPolicy>> {
    let mut report = load_paths(&args.policies);
    check_sources(&mut report);
    if !report.problems.is_empty() {
        return Err(Error::Policy(
            report.problems.iter().map(ToString::to_string).collect(),
        ));
    }
    Ok(report.policies.into_iter().map(|p| p.policy).collect())
}

/// Reads the metric topics from the beginning to their current end into a
/// store of closed windows (blocking).
fn read_stream(
    args: &ObserveArgs,
    brokers: &str,
    policies: &[ScalingPolicy],
) -> Result<Arc<FeatureStore>> {
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let cfg = IngestConfig {
        brokers: brokers.to_string(),
        topics: IngestConfig::json_topics(&args.topic, &args.otlp_topic),
        otlp_topics: args.otlp_topic.clone(),
        group: format!("scalepilot-observe.{}.{nanos}", std::process::id()),
        dead_letter_topic: None,
        session_timeout_ms: 6000,
        max_message_bytes: 1 << 20,
        engine: EngineConfig {
            allowed_lateness_ms: args.allowed_lateness.0 * 1000,
            ..EngineConfig::default()
        },
        from_beginning: true,
        properties: crate::cmd::run::kafka_properties(std::env::vars()),
        checkpoint_topic: "scalepilot.checkpoints".into(),
        assignment: None,
    };
    let kafka = |e: rdkafka::error::KafkaError| Error::Input(format!("kafka ({brokers}): {e}"));
    let mut ingest = Ingest::connect(&cfg, plan_for(policies)).map_err(kafka)?;
    let started = Instant::now();
    // The end of every partition when it was assigned: read that far (a live
    // topic's end moves on while we read).
    let mut ends = None;
    loop {
        ingest.poll(Duration::from_millis(100));
        if ends.is_none() {
            ends = ingest.ends(Duration::from_secs(5)).map_err(kafka)?;
        }
        if let Some(ends) = &ends {
            if ingest.reached(ends).map_err(kafka)? {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(args.timeout.0.max(1) as u64) {
            return Err(Error::Input(format!(
                "did not read the metric topics to their end within {} s",
                args.timeout.0
            )));
        }
    }
    let store = Arc::new(FeatureStore::default());
    let closed: Vec<_> = ingest.windows().into_iter().filter(|w| w.closed).collect();
    store.publish(&closed);
    Ok(store)
}

async fn kube_client(args: &ObserveArgs) -> Option<kube::Client> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).ok()?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .ok()?
        }
        None => kube::Config::infer().await.ok()?,
    };
    kube::Client::try_from(config).ok()
}

pub fn run(args: &ObserveArgs) -> Result<()> {
    let policies = load(args)?;
    let specs = || policies.iter().map(|p| &p.spec);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::Input(format!("starting the runtime: {e}")))?;
    runtime.block_on(async {
        let client = kube_client(args).await;
        let needs_cluster = sources::uses(specs(), SourceKind::MetricsApi);
        if client.is_none() && needs_cluster {
            eprintln!("scalepilot observe: no cluster reachable (--kubeconfig, KUBECONFIG or in-cluster): metrics.k8s.io metrics are missing");
        }
        loop {
            let store = match (&args.brokers, sources::uses(specs(), SourceKind::Stream)) {
                (Some(b), true) => Some(read_stream(args, b, &policies)?),
                _ => None,
            };
            let registry = Registry::new()
                .with(StreamSource::new(store, args.allowed_lateness.0 * 1000))
                .with_some(
                    client
                        .clone()
                        .map(|c| MetricsApi::new(c, Duration::ZERO)),
                )
                .with_some(
                    args.brokers
                        .as_ref()
                        .map(|b| KafkaLag::new(b, &[], Duration::ZERO)),
                );
            let mut lines = Vec::new();
            for p in &policies {
                lines.extend(observe_policy(&registry, client.as_ref(), p).await);
            }
            print(&lines, args.output)?;
            if args.once {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
}

async fn observe_policy(
    registry: &Registry,
    client: Option<&kube::Client>,
    p: &ScalingPolicy,
) -> Vec<Line> {
    let Some(key) = target_key(p) else {
        return Vec::new();
    };
    let (ns, name) = key.split_once('/').unwrap_or(("default", key.as_str()));
    let selector = match (client, p.spec.target.as_ref()) {
        (Some(c), Some(t)) => match targets::resolve(c, t).await {
            Ok(ar) => targets::read_scale(c, &ar, ns, name)
                .await
                .ok()
                .and_then(|s| s.selector),
            Err(_) => None,
        },
        _ => None,
    };
    let target = sources::Target {
        key: &key,
        namespace: ns,
        name,
        selector: selector.as_deref(),
    };
    let now: Time = chrono::Utc::now();
    registry
        .observe(&target, &p.spec, now)
        .await
        .iter()
        .map(|o| Line::of(&key, o))
        .collect()
}

fn print(lines: &[Line], output: OutputFormat) -> Result<()> {
    let out = |e: serde_json::Error| Error::Output(e.into());
    match output {
        OutputFormat::Json => {
            for l in lines {
                println!("{}", serde_json::to_string(l).map_err(out)?);
            }
        }
        OutputFormat::Text => {
            println!(
                "{:<28} {:<22} {:<15} {:>14} {:<25} missing",
                "target", "metric", "source", "value", "at"
            );
            for l in lines {
                let value = match (&l.value, &l.per_pod) {
                    (Some(v), _) => format!("{v}"),
                    (None, Some(p)) => format!("{} pods", p.len()),
                    _ => "-".into(),
                };
                println!(
                    "{:<28} {:<22} {:<15} {:>14} {:<25} {}",
                    l.target,
                    l.metric,
                    l.source.unwrap_or("none"),
                    value,
                    l.at.as_deref().unwrap_or("-"),
                    l.missing.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
