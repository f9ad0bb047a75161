//! Where the live controller's metric values come from: one [`Source`] per
//! kind (one file each), and the [`Registry`] that resolves each metric of a
//! policy to its source (`policy::source_of`, decided when policies load) and
//! turns what the source holds into the `Observation`s the decision chain
//! reads. Adding a source touches this folder and `policy::SourceKind`, never
//! the decision chain.
//!
//! - `stream`: samples on Kafka, windowed by `features` (the ingest thread
//!   publishes closed windows into its [`FeatureStore`]).
//! - `metrics_api`: `metrics.k8s.io/v1beta1` PodMetrics of the target's pods,
//!   read as the HPA reads them.
//! - `kafka_lag`: a consumer group's lag on a topic, read from the brokers
//!   with KEDA's Kafka-scaler semantics.
//!
//! May import client crates; the decision chain it feeds may not.

mod error;
mod kafka_lag;
mod metrics_api;
mod stream;

use std::collections::{BTreeMap, BTreeSet};

use futures::future::BoxFuture;

pub use error::SourceError;
pub use kafka_lag::{total_lag, KafkaLag, Lag, PartitionOffsets};
pub use metrics_api::{pod_metrics_observation, MetricsApi, PodMetrics};
pub use stream::{FeatureStore, StreamSource};

use crate::decide::{Observation, Time};
use crate::features::stream_metric;
pub use crate::policy::SourceKind;
use crate::policy::{source_of, MetricSpec, PolicySpec};

/// One scaling target as the sources see it.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// `namespace/name`.
    pub key: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    /// The label selector of the target's pods, as `/scale` `status.selector`
    /// spells it (`app=web,tier in (a,b)`); None when it has none.
    pub selector: Option<&'a str>,
}

/// Why a metric has no value for the decision: a short code (a metrics label)
/// and the message the decision's reasons and the logs carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub code: &'static str,
    pub message: String,
}

/// One metric as the decision chain is given it, and where it came from.
#[derive(Clone, Debug)]
pub struct Observed {
    /// None when no source can provide the metric.
    pub source: Option<SourceKind>,
    pub observation: Observation,
    /// When the value was measured: the end of the window read, or the
    /// newest pod sample.
    pub at: Option<Time>,
    pub missing: Option<Missing>,
}

impl Observed {
    /// The observation of a metric that has no value, with its reason.
    pub fn missing(
        m: &MetricSpec,
        source: Option<SourceKind>,
        code: &'static str,
        message: String,
    ) -> Observed {
        Observed {
            source,
            observation: Observation {
                source_type: m.source_type.clone(),
                name: stream_metric(m).unwrap_or_default().to_string(),
                pods: BTreeMap::new(),
                value: None,
                values: Vec::new(),
                error: Some(message.clone()),
            },
            at: None,
            missing: Some(Missing { code, message }),
        }
    }
}

/// A metric source.
pub trait Source: Send + Sync {
    fn kind(&self) -> SourceKind;

    /// Brings what the source holds for `metrics` (the target's metrics this
    /// source serves) up to date; called once per tick before observing.
    /// Sources fed in the background (the stream) have nothing to do; polled
    /// ones bound their own rate.
    fn refresh<'a>(
        &'a self,
        _target: &'a Target<'a>,
        _metrics: Vec<&'a MetricSpec>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Metric `m` of `target` at `now`, from what the source holds.
    fn observe(&self, target: &Target<'_>, m: &MetricSpec, now: Time) -> Observed;
}

/// The sources of one controller, by kind.
#[derive(Default)]
pub struct Registry {
    sources: BTreeMap<SourceKind, Box<dyn Source>>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds (or replaces) the source of its kind.
    pub fn with(mut self, source: impl Source + 'static) -> Self {
        self.sources.insert(source.kind(), Box::new(source));
        self
    }

    /// Adds `source` when there is one: without it, its metrics are missing
    /// and say that the source is not configured.
    pub fn with_some(self, source: Option<impl Source + 'static>) -> Self {
        match source {
            Some(s) => self.with(s),
            None => self,
        }
    }

    /// Every metric of `spec` for `target` at `now`, in the policy's order:
    /// each source the policy needs is refreshed once, then asked.
    pub async fn observe(
        &self,
        target: &Target<'_>,
        spec: &PolicySpec,
        now: Time,
    ) -> Vec<Observed> {
        let kinds: BTreeSet<SourceKind> = spec
            .metrics
            .iter()
            .filter_map(|m| source_of(m).ok())
            .collect();
        for k in kinds {
            if let Some(s) = self.sources.get(&k) {
                let mine = spec
                    .metrics
                    .iter()
                    .filter(|m| source_of(m).ok() == Some(k))
                    .collect();
                s.refresh(target, mine).await;
            }
        }
        self.observe_refreshed(target, &spec.metrics, now)
    }

    /// Observes `metrics` from what their sources last refreshed (burst
    /// mode's short-window copies of a policy's stream metrics).
    pub fn observe_refreshed(
        &self,
        target: &Target<'_>,
        metrics: &[MetricSpec],
        now: Time,
    ) -> Vec<Observed> {
        metrics
            .iter()
            .map(|m| match source_of(m) {
                Err(e) => Observed::missing(m, None, "no_source", e.message),
                Ok(k) => match self.sources.get(&k) {
                    Some(s) => s.observe(target, m, now),
                    None if k == SourceKind::MetricsApi => Observed::missing(
                        m,
                        Some(k),
                        "no_cluster",
                        "metrics.k8s.io needs a cluster (--kubeconfig, KUBECONFIG or in-cluster)"
                            .into(),
                    ),
                    None if k.needs_broker() => Observed::missing(
                        m,
                        Some(k),
                        "no_broker",
                        format!("the {} source needs a broker: run with --brokers", k.name()),
                    ),
                    None => Observed::missing(
                        m,
                        Some(k),
                        "no_source",
                        format!("the {} source is not configured", k.name()),
                    ),
                },
            })
            .collect()
    }
}

/// Whether any metric of these policies is served by a source of `kind`.
pub fn uses<'a>(specs: impl IntoIterator<Item = &'a PolicySpec>, kind: SourceKind) -> bool {
    specs
        .into_iter()
        .any(|s| s.metrics.iter().any(|m| source_of(m).ok() == Some(kind)))
}
