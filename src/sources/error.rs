//! What a source's read can fail with. A failed read is never fatal: the
//! metric is reported missing (`scalepilot_metric_missing`) with this text,
//! and the next tick reads again.

use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("unable to fetch metrics from resource metrics API: {0}")]
    MetricsApi(#[source] kube::Error),
    #[error("PodMetrics {namespace}/{name}: {source}")]
    PodMetrics {
        namespace: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("creating the Kafka client for group {group}: {source}")]
    KafkaClient {
        group: String,
        #[source]
        source: KafkaError,
    },
    /// A Kafka request about `topic` (`what`: metadata, committed offsets, …).
    #[error("{what} of {topic}: {source}")]
    Kafka {
        what: &'static str,
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("topic {0} does not exist or has no partitions")]
    NoTopic(String),
    #[error("the lag read did not finish: {0}")]
    Unfinished(#[from] tokio::task::JoinError),
}
