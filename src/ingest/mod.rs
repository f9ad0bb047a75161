//! Kafka ingest: at-least-once in, exactly-once effect out.
//!
//! One consumer group reads the metric topics (the message key is the target,
//! `namespace/deployment`, so one partition holds a target's whole state) and
//! the OTLP topics (`--otlp-topic`: `ExportMetricsServiceRequest`s from the
//! OpenTelemetry Collector's Kafka exporter, decoded by `features::otlp`; not
//! keyed by target, so locality is the exporter's partitioning). Each
//! assigned partition has its own window state (`features::Partition`, plus
//! `features::OtlpState` for an OTLP topic); progress, checkpoints and dedupe
//! are the same for both.
//!
//! Progress: offsets are never stored automatically
//! (`enable.auto.offset.store=false`, no auto-commit). Every 500 ms, and at
//! shutdown, the consumer publishes the windows that closed, then saves each
//! partition's *checkpoint* to the checkpoint log (see `checkpoints`): the
//! resume offset (the first offset any still-open window or live dedupe pane
//! depends on), the watermark just before it, and the windows closed through
//! then; then it commits the resume offset (a hint for lag monitoring; the
//! checkpoint log is the source of truth). After a crash, a restart or a
//! rebalance the new owner seeks to the latest checkpoint and replays: open
//! windows, dedupe panes and the watermark are rebuilt deterministically from
//! the partition's ordered log, and samples of windows already published are
//! skipped, so nothing is lost and nothing is counted twice. (An OTLP
//! partition's checkpoint also stays at or before the previous point of every
//! cumulative series held, so the replay rebuilds those too.) We chose replay
//! over snapshotting the state: the log already is the durable state, a
//! checkpoint is three numbers, and the replay distance is bounded by the
//! longest window plus the allowed lateness.
//!
//! Bad input never stops a partition: a message that does not decode, or a
//! sample that fails its checks, is counted by reason, logged (rate-limited,
//! with topic/partition/offset), optionally copied to a dead-letter topic, and
//! skipped. Samples for targets no policy names are skipped and counted apart.

mod assignment;
mod checkpoints;
mod consumer;
mod limiter;

pub use assignment::{Assignment, AssignmentSink};
pub use consumer::{Ingest, IngestConfig, IngestCounters, ProgressError};
