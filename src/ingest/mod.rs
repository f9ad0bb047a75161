//! Kafka ingest: at-least-once in, exactly-once effect out.
//!
//! One consumer group reads the metric topics (the message key is the target,
//! `namespace/deployment`, so one partition holds a target's whole state). Each
//! assigned partition has its own window state (`features::Partition`).
//!
//! Progress: `enable.auto.offset.store=false`; after folding, the offset we
//! store is the partition's *resume offset*: the first offset any still-open
//! window or live dedupe pane depends on. Auto-commit writes it every second,
//! and a revoke or a shutdown stores and commits it synchronously (the poll
//! loop is single-threaded, so everything polled is folded by then). After a
//! crash, a restart or a rebalance the new owner resumes there and replays: the
//! windows, the dedupe panes and the watermark are rebuilt deterministically
//! from the partition's ordered log, so nothing is lost and nothing is counted
//! twice. We chose replay over checkpointing: the log already is the durable
//! state, and the replay distance is bounded by the longest window plus the
//! allowed lateness.
//!
//! Bad input never stops a partition: a message that does not decode, or a
//! sample that fails its checks, is counted by reason, logged (rate-limited,
//! with topic/partition/offset), optionally copied to a dead-letter topic, and
//! skipped. Samples for targets no policy names are skipped and counted apart.

mod consumer;
mod limiter;

pub use consumer::{Ingest, IngestConfig, IngestCounters, ProgressError};
