//! Stream features: metric messages decoded and checked, folded into
//! event-time windows per (target, metric) with watermarks, allowed lateness
//! and bounded dedupe, and read back as window features.
//!
//! Two wire formats feed the same windows: scalepilot's JSON samples
//! (`sample`) and OTLP metrics as the OpenTelemetry Collector's Kafka exporter
//! writes them (`otlp`, `otlp_json`).
//!
//! Pure: never imports `kube` or `rdkafka`; the Kafka consumer (`ingest`)
//! hands payloads and positions in, and reads features out.

mod engine;
mod keyed;
mod observe;
pub mod otlp;
mod otlp_json;
mod plan;
mod sample;
mod window;

pub use engine::{
    identity, Checkpoint, Counters, EngineConfig, Folded, Mark, Partition, Plan, SeriesPlan,
};
pub use observe::{aggregate, observations, observe_metric};
pub use otlp::OtlpState;
pub use plan::{is_per_pod, plan_for, stream_metric, target_key, DEFAULT_WINDOW_MS};
pub use sample::{check, decode, Rejection, Sample};
pub use window::{sort_windows, Aggregate, Quantiles, WindowFeatures, WindowSpec};

#[cfg(test)]
mod tests;
