//! The Kafka consumer-lag source: an External metric with a `kafkaLag` block
//! is the lag of another consumer group on a topic, read from the brokers with
//! the group's committed offsets (OffsetFetch) and the partitions' watermarks
//! (ListOffsets), never by joining that group (the client never subscribes).
//!
//! KEDA's Kafka scaler semantics (`pkg/scalers/kafka_scaler.go`), so its users
//! can move over:
//! - total lag = Σ over the topic's partitions of (high watermark − committed);
//! - a partition the group never committed counts 1 with
//!   `offsetResetPolicy: latest` (the group will start at the end), and with
//!   `earliest` the messages it would read: here high − low watermark, where
//!   KEDA takes the high watermark alone (it over-counts a topic whose head was
//!   deleted by retention);
//! - unless `allowIdleConsumers`, the lag is capped at partitions × the
//!   target per replica, so the replicas never exceed the partition count;
//! - `excludePersistentLag`: a partition whose committed offset has not moved
//!   since the previous read adds no lag (a stuck consumer is not helped by
//!   more consumers); the first read of a partition counts in full.
//!
//! Not followed: KEDA's `scaleToZeroOnInvalidOffset`, `limitToPartitionsWithLag`,
//! `partitionLimitation` and the topic-less form (a topic is required).
//! Refreshed on the ticks of its targets, at most every `min_interval`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use super::{Observed, Source, SourceError, SourceKind, Target};
use crate::decide::{Observation, Time};
use crate::policy::{KafkaLagSpec, MetricSpec, OffsetResetPolicy};

/// One partition's offsets as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub partition: i32,
    /// The group's committed offset; None when it never committed.
    pub committed: Option<i64>,
    pub low: i64,
    pub high: i64,
}

/// The lag of one read, and the committed offsets to compare the next with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lag {
    pub total: i64,
    pub partitions: usize,
    /// Before the cap: what the partitions hold.
    pub uncapped: i64,
}

/// The lag of `offsets` under `spec`'s rules; `previous` holds each
/// partition's committed offset at the last read (updated here).
pub fn total_lag(
    spec: &KafkaLagSpec,
    offsets: &[PartitionOffsets],
    previous: &mut HashMap<i32, i64>,
    per_replica: i64,
) -> Lag {
    let mut total: i64 = 0;
    for p in offsets {
        let lag = match (p.committed, spec.offset_reset_policy) {
            (None, OffsetResetPolicy::Latest) => 1,
            (None, OffsetResetPolicy::Earliest) => p.high.saturating_sub(p.low),
            (Some(c), _) => p.high.saturating_sub(c),
        }
        .max(0);
        let stuck = match p.committed {
            Some(c) => previous.insert(p.partition, c) == Some(c),
            None => false,
        };
        if !(spec.exclude_persistent_lag && stuck && lag > 0) {
            total = total.saturating_add(lag);
        }
    }
    previous.retain(|k, _| offsets.iter().any(|p| p.partition == *k));
    let partitions = offsets.len();
    let cap = per_replica.saturating_mul(partitions as i64);
    let capped = if spec.allow_idle_consumers || per_replica <= 0 {
        total
    } else {
        total.min(cap)
    };
    Lag {
        total: capped,
        partitions,
        uncapped: total,
    }
}

/// Wraps a failed Kafka request `what` about `topic`.
fn kafka<'a>(what: &'static str, topic: &'a str) -> impl Fn(KafkaError) -> SourceError + 'a {
    move |source| SourceError::Kafka {
        what,
        topic: topic.to_string(),
        source,
    }
}

/// Reads the offsets of `group` on `topic` (blocking, bounded by `timeout`).
fn read_offsets(
    consumer: &BaseConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<PartitionOffsets>, SourceError> {
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(kafka("metadata", topic))?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(SourceError::NoTopic(topic.to_string()));
    }
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition(topic, *p);
    }
    let committed = consumer
        .committed_offsets(tpl.clone(), timeout)
        .map_err(kafka("committed offsets", topic))?;
    // ListOffsets with the timestamps -1 (latest) and -2 (earliest): one
    // request per broker for every partition.
    let ends = |at: Offset| -> Result<HashMap<i32, i64>, SourceError> {
        let mut q = TopicPartitionList::new();
        for p in &partitions {
            q.add_partition_offset(topic, *p, at)
                .map_err(kafka("an offsets query", topic))?;
        }
        let r = consumer
            .offsets_for_times(q, timeout)
            .map_err(kafka("watermarks", topic))?;
        Ok(r.elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect())
    };
    let high = ends(Offset::End)?;
    let low = ends(Offset::Beginning)?;
    Ok(partitions
        .iter()
        .map(|p| {
            let committed = committed
                .find_partition(topic, *p)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) if o >= 0 => Some(o),
                    _ => None,
                });
            let high = high.get(p).copied().unwrap_or(0);
            PartitionOffsets {
                partition: *p,
                committed,
                low: low.get(p).copied().unwrap_or(0).min(high),
                high,
            }
        })
        .collect())
}

/// What the last read of a (group, topic) gave.
struct Read {
    at: Instant,
    when: Time,
    result: Result<Lag, SourceError>,
}

/// Lag reads per (group, topic), and the clients that make them.
struct Reader {
    config: ClientConfig,
    timeout: Duration,
    clients: Mutex<HashMap<String, Arc<BaseConsumer>>>,
    previous: Mutex<HashMap<(String, String), HashMap<i32, i64>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Reader {
    /// A client whose `group.id` is `group`: committed offsets are read for
    /// the configured group. It never subscribes, so it never joins.
    fn client(&self, group: &str) -> Result<Arc<BaseConsumer>, SourceError> {
        let mut clients = lock(&self.clients);
        if let Some(c) = clients.get(group) {
            return Ok(Arc::clone(c));
        }
        let c: BaseConsumer = self
            .config
            .clone()
            .set("group.id", group)
            .create()
            .map_err(|source| SourceError::KafkaClient {
                group: group.to_string(),
                source,
            })?;
        let c = Arc::new(c);
        clients.insert(group.to_string(), Arc::clone(&c));
        Ok(c)
    }

    /// Reads the lag of `spec` now (blocking, bounded by the client timeout).
    fn read(&self, spec: &KafkaLagSpec, per_replica: i64) -> Result<Lag, SourceError> {
        let client = self.client(&spec.group)?;
        let offsets = read_offsets(&client, &spec.topic, self.timeout)?;
        let key = (spec.group.clone(), spec.topic.clone());
        let mut previous = lock(&self.previous);
        let prev = previous.entry(key).or_default();
        Ok(total_lag(spec, &offsets, prev, per_replica))
    }
}

/// The consumer-lag source.
pub struct KafkaLag {
    reader: Arc<Reader>,
    min_interval: Duration,
    reads: Mutex<HashMap<(String, String), Read>>,
}

impl KafkaLag {
    /// A source over `brokers`, with extra librdkafka `properties` (security).
    pub fn new(brokers: &str, properties: &[(String, String)], min_interval: Duration) -> Self {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set("enable.auto.commit", "false")
            .set("socket.timeout.ms", "10000");
        for (k, v) in properties {
            config.set(k, v);
        }
        KafkaLag {
            reader: Arc::new(Reader {
                config,
                timeout: Duration::from_secs(5),
                clients: Mutex::new(HashMap::new()),
                previous: Mutex::new(HashMap::new()),
            }),
            min_interval,
            reads: Mutex::new(HashMap::new()),
        }
    }
}

/// The per-replica target of a lag metric (milli-units → whole messages), or
/// 0 with a `Value` target (no cap).
fn per_replica(m: &MetricSpec) -> i64 {
    m.external
        .as_ref()
        .and_then(|e| e.target.average_value.as_ref())
        .map_or(0, |q| (q.milli() / 1000).max(1))
}

impl Source for KafkaLag {
    fn kind(&self) -> SourceKind {
        SourceKind::KafkaLag
    }

    fn refresh<'a>(&'a self, _: &'a Target<'a>, metrics: Vec<&'a MetricSpec>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            for m in metrics {
                let Some(spec) = m.kafka_lag.clone() else {
                    continue;
                };
                let key = (spec.group.clone(), spec.topic.clone());
                let fresh = lock(&self.reads)
                    .get(&key)
                    .is_some_and(|r| r.at.elapsed() < self.min_interval);
                if fresh {
                    continue;
                }
                let reader = Arc::clone(&self.reader);
                let threshold = per_replica(m);
                let result = tokio::task::spawn_blocking(move || reader.read(&spec, threshold))
                    .await
                    .unwrap_or_else(|e| Err(e.into()));
                if let Err(e) = &result {
                    tracing::debug!(group = %key.0, topic = %key.1, error = %e, "reading the lag failed");
                }
                lock(&self.reads).insert(
                    key,
                    Read {
                        at: Instant::now(),
                        when: chrono::Utc::now(),
                        result,
                    },
                );
            }
        })
    }

    fn observe(&self, _target: &Target<'_>, m: &MetricSpec, _now: Time) -> Observed {
        let kind = Some(SourceKind::KafkaLag);
        let Some(spec) = &m.kafka_lag else {
            return Observed::missing(m, kind, "no_source", "no kafkaLag block".into());
        };
        let reads = lock(&self.reads);
        let Some(read) = reads.get(&(spec.group.clone(), spec.topic.clone())) else {
            return Observed::missing(m, kind, "fetch_failed", "the lag was not read yet".into());
        };
        let lag = match &read.result {
            Err(e) => return Observed::missing(m, kind, "fetch_failed", e.to_string()),
            Ok(lag) => lag,
        };
        let name = m
            .external
            .as_ref()
            .map(|e| e.metric.name.clone())
            .unwrap_or_default();
        Observed {
            source: kind,
            observation: Observation {
                source_type: m.source_type.clone(),
                name,
                pods: Default::default(),
                value: None,
                values: vec![lag.total.saturating_mul(1000)],
                error: None,
            },
            at: Some(read.when),
            missing: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(policy: OffsetResetPolicy, idle: bool, persistent: bool) -> KafkaLagSpec {
        KafkaLagSpec {
            group: "g".into(),
            topic: "t".into(),
            offset_reset_policy: policy,
            allow_idle_consumers: idle,
            exclude_persistent_lag: persistent,
        }
    }

    fn p(partition: i32, committed: Option<i64>, low: i64, high: i64) -> PartitionOffsets {
        PartitionOffsets {
            partition,
            committed,
            low,
            high,
        }
    }

    #[test]
    fn lag_sums_partitions_and_counts_uncommitted_ones_by_policy() {
        let offsets = [
            p(0, Some(40), 0, 100),
            p(1, None, 30, 80),
            p(2, Some(80), 0, 80),
        ];
        let mut prev = HashMap::new();
        let latest = total_lag(
            &spec(OffsetResetPolicy::Latest, true, false),
            &offsets,
            &mut prev,
            10,
        );
        assert_eq!(latest.total, 60 + 1);
        let earliest = total_lag(
            &spec(OffsetResetPolicy::Earliest, true, false),
            &offsets,
            &mut prev,
            10,
        );
        assert_eq!(earliest.total, 60 + 50);
    }

    #[test]
    fn lag_is_capped_at_partitions_unless_idle_consumers_are_allowed() {
        let offsets = [p(0, Some(0), 0, 1000), p(1, Some(0), 0, 1000)];
        let mut prev = HashMap::new();
        let capped = total_lag(
            &spec(OffsetResetPolicy::Latest, false, false),
            &offsets,
            &mut prev,
            100,
        );
        assert_eq!(
            (capped.total, capped.uncapped, capped.partitions),
            (200, 2000, 2)
        );
        let free = total_lag(
            &spec(OffsetResetPolicy::Latest, true, false),
            &offsets,
            &mut prev,
            100,
        );
        assert_eq!(free.total, 2000);
    }

    #[test]
    fn persistent_lag_is_left_out_once_the_offset_stops_moving() {
        let s = spec(OffsetResetPolicy::Latest, true, true);
        let mut prev = HashMap::new();
        let first = [p(0, Some(10), 0, 100), p(1, Some(50), 0, 100)];
        assert_eq!(
            total_lag(&s, &first, &mut prev, 10).total,
            140,
            "first read counts in full"
        );
        let second = [p(0, Some(10), 0, 120), p(1, Some(70), 0, 120)];
        assert_eq!(
            total_lag(&s, &second, &mut prev, 10).total,
            50,
            "partition 0 is stuck"
        );
        let third = [p(0, Some(11), 0, 120), p(1, Some(120), 0, 120)];
        assert_eq!(
            total_lag(&s, &third, &mut prev, 10).total,
            109,
            "moving again"
        );
    }
}
