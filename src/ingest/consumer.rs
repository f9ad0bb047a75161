//! The consumer loop (rdkafka `BaseConsumer`, one thread): decode, fold,
//! store the resume offset, commit on revoke; the dead-letter producer; the
//! "caught up" test of `scalepilot features --once`. JSON-sample topics and
//! OTLP topics share it all; only the decoding differs by topic.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use serde::Serialize;

use super::checkpoints::{self, CheckpointReader, CheckpointWriter};
use super::limiter::LogLimiter;
use crate::features::{
    decode, identity, sort_windows, Checkpoint, Counters, EngineConfig, Folded, OtlpState,
    Partition, Plan, Rejection, WindowFeatures,
};

/// How to reach and read the metric topics.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub brokers: String,
    /// Topics of JSON samples.
    pub topics: Vec<String>,
    /// Topics of OTLP metrics (`ExportMetricsServiceRequest`s, protobuf or
    /// JSON, as the OpenTelemetry Collector's Kafka exporter writes them).
    pub otlp_topics: Vec<String>,
    pub group: String,
    pub dead_letter_topic: Option<String>,
    pub session_timeout_ms: u32,
    pub max_message_bytes: usize,
    pub engine: EngineConfig,
    /// Start from the earliest offset when the group has no committed one.
    pub from_beginning: bool,
    /// Extra librdkafka properties (security settings and the like).
    pub properties: Vec<(String, String)>,
    /// The checkpoint log (created when missing).
    pub checkpoint_topic: String,
    /// Sharing the group with other replicas (`--sharding partitions`):
    /// where to report the partitions held.
    pub assignment: Option<super::AssignmentSink>,
}

/// The JSON-sample topic read when no topic at all is named.
pub const DEFAULT_TOPIC: &str = "scalepilot.metrics";

impl IngestConfig {
    /// The JSON-sample topics to read: those named, or [`DEFAULT_TOPIC`] when
    /// neither JSON nor OTLP topics are named.
    pub fn json_topics(named: &[String], otlp: &[String]) -> Vec<String> {
        if named.is_empty() && otlp.is_empty() {
            vec![DEFAULT_TOPIC.to_string()]
        } else {
            named.to_vec()
        }
    }

    pub fn new(brokers: &str, topic: &str, group: &str) -> Self {
        IngestConfig {
            brokers: brokers.to_string(),
            topics: vec![topic.to_string()],
            otlp_topics: Vec::new(),
            group: group.to_string(),
            dead_letter_topic: None,
            session_timeout_ms: 6000,
            max_message_bytes: 1 << 20,
            engine: EngineConfig::default(),
            from_beginning: true,
            properties: Vec::new(),
            checkpoint_topic: "scalepilot.checkpoints".to_string(),
            assignment: None,
        }
    }
}

/// Progress could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("publishing closed windows failed: {0}")]
    Publish(#[source] std::io::Error),
    #[error("kafka: {0}")]
    Kafka(#[source] rdkafka::error::KafkaError),
}

/// Totals over every partition this consumer held.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestCounters {
    pub messages: u64,
    pub counted: u64,
    pub duplicates: u64,
    pub skipped_unknown_target: u64,
    /// Replayed after a restart into windows already published.
    pub replayed: u64,
    pub rejected: BTreeMap<String, u64>,
    pub dead_lettered: u64,
    pub dedupe_ids_held: usize,
    /// Partitions held now, as `topic/partition`.
    pub partitions: Vec<String>,
    /// Seconds from the first message to the last one.
    pub consuming_seconds: f64,
}

impl IngestCounters {
    fn absorb(&mut self, c: &Counters) {
        self.counted += c.counted;
        self.duplicates += c.duplicates;
        self.skipped_unknown_target += c.skipped;
        self.replayed += c.replayed;
        for (r, n) in &c.rejected {
            *self.rejected.entry(r.label().to_string()).or_default() += n;
        }
    }
}

struct PartitionState {
    engine: Partition,
    /// For an OTLP topic: its decoder's state (previous cumulative points).
    otlp: Option<OtlpState>,
    /// The offset after the last message folded in.
    next_offset: Option<i64>,
    /// After a seek to a checkpoint: messages before it (already fetched) are dropped.
    resume_at: Option<i64>,
}

impl PartitionState {
    fn new(cfg: &EngineConfig, plan: &Arc<Plan>, otlp: bool) -> Self {
        PartitionState {
            engine: Partition::new(cfg.clone(), Arc::clone(plan)),
            otlp: otlp.then(OtlpState::new),
            next_offset: None,
            resume_at: None,
        }
    }
}

struct Shared {
    plan: Arc<Plan>,
    engine: EngineConfig,
    partitions: HashMap<(String, i32), PartitionState>,
    /// Counters of partitions given away.
    retired: IngestCounters,
}

/// Drops the state of revoked partitions; reports the assignment.
pub struct IngestContext {
    shared: Arc<Mutex<Shared>>,
    assignment: Option<super::AssignmentSink>,
}

/// Adds a partition's checkpoint (offset and metadata) to a commit.
fn add_checkpoint(tpl: &mut TopicPartitionList, topic: &str, partition: i32, cp: &Checkpoint) {
    let _ = tpl.add_partition_offset(topic, partition, Offset::Offset(cp.offset));
    if let Some(mut e) = tpl.find_partition(topic, partition) {
        e.set_metadata(cp.metadata());
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClientContext for IngestContext {}

impl ConsumerContext for IngestContext {
    /// On revoke the partition's state is dropped and nothing new is
    /// committed: the last saved checkpoint (every 500 ms, written only after
    /// the windows it closes were published) stands, and the next owner
    /// resumes from it. Saving one now would claim windows that closed since
    /// but were never published.
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        if let Some(sink) = &self.assignment {
            sink.revoke(
                revoked
                    .elements_for_topic(&sink.topic)
                    .iter()
                    .map(|e| e.partition()),
            );
        }
        let mut shared = lock(&self.shared);
        for e in revoked.elements() {
            if let Some(st) = shared
                .partitions
                .remove(&(e.topic().to_string(), e.partition()))
            {
                shared.retired.absorb(&st.engine.counters);
            }
        }
        tracing::info!(partitions = revoked.count(), "partitions revoked");
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, _rebalance: &Rebalance<'_>) {
        if let Some(sink) = &self.assignment {
            sink.report(consumer);
        }
    }
}

/// A metric-topic consumer with window state per assigned partition.
pub struct Ingest {
    consumer: BaseConsumer<IngestContext>,
    shared: Arc<Mutex<Shared>>,
    writer: CheckpointWriter,
    reader: CheckpointReader,
    dead_letter: Option<(BaseProducer, String)>,
    /// The topics whose messages are OTLP.
    otlp_topics: Vec<String>,
    max_message_bytes: usize,
    messages: u64,
    dead_lettered: u64,
    log: LogLimiter,
    first_last: Option<(Instant, Instant)>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Ingest {
    /// Connects and subscribes.
    pub fn connect(cfg: &IngestConfig, plan: Plan) -> KafkaResult<Self> {
        let shared = Arc::new(Mutex::new(Shared {
            plan: Arc::new(plan),
            engine: cfg.engine.clone(),
            partitions: HashMap::new(),
            retired: IngestCounters::default(),
        }));
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &cfg.brokers)
            .set("group.id", &cfg.group)
            // We commit ourselves: every offset goes with its checkpoint metadata.
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("session.timeout.ms", cfg.session_timeout_ms.to_string())
            // The rebalance timeout: a group waits this long for members to
            // rejoin, so a crashed member must not hold it for the default 5 min.
            .set(
                "max.poll.interval.ms",
                (cfg.session_timeout_ms + 4000).to_string(),
            )
            .set(
                "auto.offset.reset",
                if cfg.from_beginning {
                    "earliest"
                } else {
                    "latest"
                },
            )
            .set(
                "fetch.message.max.bytes",
                (cfg.max_message_bytes + 1024).to_string(),
            )
            // Prefetch at most 16 MB (librdkafka's default is 64 MB, all of
            // it held whenever the consumer trails the log): still seconds
            // of samples at 100 000 a second.
            .set("queued.max.messages.kbytes", "16384");
        if cfg.session_timeout_ms < 6000 {
            // The default heartbeat (3 s) does not fit a short session.
            client.set(
                "heartbeat.interval.ms",
                (cfg.session_timeout_ms / 3).max(100).to_string(),
            );
        }
        for (k, v) in &cfg.properties {
            client.set(k, v);
        }
        let (writer, reader) = checkpoints::open(
            &cfg.brokers,
            &cfg.checkpoint_topic,
            &cfg.group,
            &cfg.properties,
        )?;
        if cfg.assignment.is_some() {
            // Shards move one partition at a time, not all at every rebalance.
            client.set("partition.assignment.strategy", "cooperative-sticky");
        }
        let consumer: BaseConsumer<IngestContext> = client.create_with_context(IngestContext {
            shared: Arc::clone(&shared),
            assignment: cfg.assignment.clone(),
        })?;
        let mut topics: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
        for t in &cfg.otlp_topics {
            if !topics.contains(&t.as_str()) {
                topics.push(t);
            }
        }
        consumer.subscribe(&topics)?;
        let dead_letter = match &cfg.dead_letter_topic {
            Some(t) => {
                let mut p = ClientConfig::new();
                p.set("bootstrap.servers", &cfg.brokers)
                    // Rejected messages include too-large ones: let the copy through.
                    .set(
                        "message.max.bytes",
                        (cfg.max_message_bytes.max(1 << 20) * 4).to_string(),
                    );
                for (k, v) in &cfg.properties {
                    p.set(k, v);
                }
                Some((p.create::<BaseProducer>()?, t.clone()))
            }
            None => None,
        };
        Ok(Ingest {
            consumer,
            shared,
            writer,
            reader,
            dead_letter,
            otlp_topics: cfg.otlp_topics.clone(),
            max_message_bytes: cfg.max_message_bytes,
            messages: 0,
            dead_lettered: 0,
            log: LogLimiter::new(Duration::from_secs(1)),
            first_last: None,
        })
    }

    /// Polls once and folds what arrives; `false` when nothing came.
    pub fn poll(&mut self, timeout: Duration) -> bool {
        let Some(result) = self.consumer.poll(timeout) else {
            return false;
        };
        let msg = match result {
            Ok(m) => m,
            Err(e) => {
                if self.log.allow("kafka", Instant::now()).is_some() {
                    tracing::warn!(error = %e, "consumer error");
                }
                return true;
            }
        };
        self.messages += 1;
        let now_i = Instant::now();
        self.first_last = Some((self.first_last.map_or(now_i, |(f, _)| f), now_i));
        let (topic, partition, offset) = (msg.topic().to_string(), msg.partition(), msg.offset());
        let payload = msg.payload().unwrap_or_default();
        let key = msg
            .key()
            .and_then(|k| std::str::from_utf8(k).ok())
            .unwrap_or_default();
        let now = now_ms();
        let known = lock(&self.shared)
            .partitions
            .contains_key(&(topic.clone(), partition));
        if !known {
            // A partition new to us: resume from its latest checkpoint.
            if let Err(e) = self.reader.refresh(Duration::from_secs(10)) {
                // Starting without the checkpoint would count the open windows
                // from the middle (and publish them short): fetch this message
                // again and retry. Should the seek fail, the next message
                // retries, and a checkpoint found then seeks back before both.
                tracing::warn!(error = %e, %topic, partition, "cannot read the checkpoint log; retrying before consuming this partition");
                if let Err(e) = self.consumer.seek(
                    &topic,
                    partition,
                    Offset::Offset(offset),
                    Duration::from_secs(10),
                ) {
                    tracing::warn!(error = %e, %topic, partition, "seek back failed");
                }
                return true;
            }
            let cp = self.reader.latest(&topic, partition);
            let mut shared = lock(&self.shared);
            let Shared {
                plan,
                engine,
                partitions,
                ..
            } = &mut *shared;
            let otlp = self.otlp_topics.contains(&topic);
            let mut state = PartitionState::new(engine, plan, otlp);
            if let Some(cp) = cp {
                state.engine.restore(&cp);
                if cp.offset != offset {
                    state.resume_at = Some(cp.offset);
                    partitions.insert((topic.clone(), partition), state);
                    drop(shared);
                    if let Err(e) = self.consumer.seek(
                        &topic,
                        partition,
                        Offset::Offset(cp.offset),
                        Duration::from_secs(10),
                    ) {
                        tracing::warn!(error = %e, %topic, partition, "seek to the checkpoint failed");
                    }
                    tracing::info!(%topic, partition, from = offset, to = cp.offset, "resuming at the checkpoint");
                    return true;
                }
            }
            partitions.insert((topic.clone(), partition), state);
        }
        let rejected: Option<Rejection>;
        {
            let mut shared = lock(&self.shared);
            // Created above; only a revoke (served inside `poll`) removes it.
            let Some(st) = shared.partitions.get_mut(&(topic.clone(), partition)) else {
                return true;
            };
            match st.resume_at {
                Some(at) if at != offset => return true, // fetched before the seek
                Some(_) => st.resume_at = None,
                None => {}
            }
            rejected = match st.otlp.as_mut() {
                // Not keyed by target: no key check (see `features::otlp`).
                Some(otlp) => {
                    otlp.fold(&mut st.engine, payload, self.max_message_bytes, offset, now)
                }
                None => fold_json(
                    &mut st.engine,
                    payload,
                    self.max_message_bytes,
                    key,
                    (&topic, partition, offset),
                    now,
                ),
            };
            st.next_offset = Some(offset + 1);
        }
        if let Some(r) = rejected {
            if let Some(held) = self.log.allow(r.label(), Instant::now()) {
                tracing::warn!(%topic, partition, offset, reason = r.label(), held_back = held, "metric message rejected");
            }
            if dead_letter(
                &self.dead_letter,
                &topic,
                partition,
                offset,
                r,
                key,
                payload,
            ) {
                self.dead_lettered += 1;
            }
        }
        true
    }
}

/// Folds a message of JSON samples read at `(topic, partition, offset)`
/// (keyed by target); returns the first reason something was rejected.
fn fold_json(
    engine: &mut Partition,
    payload: &[u8],
    max_message_bytes: usize,
    key: &str,
    (topic, partition, offset): (&str, i32, i64),
    now: i64,
) -> Option<Rejection> {
    let samples = match decode(payload, max_message_bytes) {
        Ok(samples) => samples,
        Err(r) => {
            engine.reject(r);
            return Some(r);
        }
    };
    let mut rejected = None;
    for (i, s) in samples.iter().enumerate() {
        if key.is_empty() || key != s.target {
            engine.reject(Rejection::Key);
            rejected.get_or_insert(Rejection::Key);
            continue;
        }
        let id = identity(s.id.as_deref(), topic, partition, offset, i);
        if let Folded::Rejected(r) = engine.fold(s, id, offset, now) {
            rejected.get_or_insert(r);
        }
    }
    rejected
}

/// Copies a rejected message to the dead-letter topic, if there is one.
fn dead_letter(
    to: &Option<(BaseProducer, String)>,
    topic: &str,
    partition: i32,
    offset: i64,
    why: Rejection,
    key: &str,
    payload: &[u8],
) -> bool {
    {
        let Some((producer, dlq)) = to else {
            return false;
        };
        let position = format!("{topic}/{partition}/{offset}");
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "scalepilot-reason",
                value: Some(why.label()),
            })
            .insert(Header {
                key: "scalepilot-source",
                value: Some(position.as_str()),
            });
        let record = BaseRecord::to(dlq)
            .payload(payload)
            .key(key)
            .headers(headers);
        let sent = match producer.send(record) {
            Ok(()) => true,
            Err((e, _)) => {
                tracing::warn!(error = %e, "dead-letter copy failed");
                false
            }
        };
        producer.poll(Duration::ZERO);
        sent
    }
}

impl Ingest {
    /// Hands the windows closed since the last call to `publish`, then
    /// commits every partition's checkpoint (asynchronously). A window's
    /// samples stop holding the offset back only once it closed, and it is
    /// published before the offset moves past them.
    pub fn save_progress(
        &self,
        publish: &mut dyn FnMut(&[WindowFeatures]) -> std::io::Result<()>,
    ) -> Result<(), ProgressError> {
        self.checkpoint(publish, CommitMode::Async)
    }

    /// Like `save_progress`, but waits for the commit.
    pub fn commit(
        &self,
        publish: &mut dyn FnMut(&[WindowFeatures]) -> std::io::Result<()>,
    ) -> Result<(), ProgressError> {
        self.checkpoint(publish, CommitMode::Sync)?;
        if let Some((p, _)) = &self.dead_letter {
            p.flush(Duration::from_secs(10))
                .map_err(ProgressError::Kafka)?;
        }
        Ok(())
    }

    fn checkpoint(
        &self,
        publish: &mut dyn FnMut(&[WindowFeatures]) -> std::io::Result<()>,
        mode: CommitMode,
    ) -> Result<(), ProgressError> {
        let mut tpl = TopicPartitionList::new();
        let mut closed = Vec::new();
        let mut saved = Vec::new();
        {
            let mut shared = lock(&self.shared);
            for ((topic, partition), st) in shared.partitions.iter_mut() {
                if let Some(next) = st.next_offset {
                    let cp = match &mut st.otlp {
                        Some(otlp) => otlp.checkpoint(&mut st.engine, next),
                        None => st.engine.checkpoint(next),
                    };
                    add_checkpoint(&mut tpl, topic, *partition, &cp);
                    saved.push((topic.clone(), *partition, cp));
                }
                closed.extend(st.engine.take_closed());
            }
        }
        publish(&closed).map_err(ProgressError::Publish)?;
        let wait = matches!(mode, CommitMode::Sync);
        self.writer
            .write(&saved, wait)
            .map_err(ProgressError::Kafka)?;
        if tpl.count() > 0 {
            self.consumer
                .commit(&tpl, mode)
                .map_err(ProgressError::Kafka)?;
        }
        Ok(())
    }

    /// True once partitions are assigned and every one is read to its end.
    pub fn caught_up(&self, timeout: Duration) -> KafkaResult<bool> {
        let assignment = self.consumer.assignment()?;
        if assignment.count() == 0 {
            return Ok(false);
        }
        let positions = self.consumer.position()?;
        let shared = lock(&self.shared);
        for e in assignment.elements() {
            let (_, high) = self
                .consumer
                .fetch_watermarks(e.topic(), e.partition(), timeout)?;
            let ours = shared
                .partitions
                .get(&(e.topic().to_string(), e.partition()))
                .and_then(|s| s.next_offset);
            let position = positions
                .find_partition(e.topic(), e.partition())
                .and_then(|p| match p.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
            let at = ours.or(position);
            if high > 0 && at.is_none_or(|o| o < high) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The end (high watermark) of every assigned partition now; None until
    /// the group has assigned partitions.
    pub fn ends(&self, timeout: Duration) -> KafkaResult<Option<HashMap<(String, i32), i64>>> {
        let assignment = self.consumer.assignment()?;
        if assignment.count() == 0 {
            return Ok(None);
        }
        let mut out = HashMap::new();
        for e in assignment.elements() {
            let (_, high) = self
                .consumer
                .fetch_watermarks(e.topic(), e.partition(), timeout)?;
            out.insert((e.topic().to_string(), e.partition()), high);
        }
        Ok(Some(out))
    }

    /// Whether every partition of `ends` was read up to its end there: a
    /// live topic's reader stops at the end it saw, not at a moving one.
    pub fn reached(&self, ends: &HashMap<(String, i32), i64>) -> KafkaResult<bool> {
        let positions = self.consumer.position()?;
        let shared = lock(&self.shared);
        Ok(ends.iter().all(|((topic, partition), high)| {
            let ours = shared
                .partitions
                .get(&(topic.clone(), *partition))
                .and_then(|s| s.next_offset);
            let position =
                positions
                    .find_partition(topic, *partition)
                    .and_then(|p| match p.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    });
            *high <= 0 || ours.or(position).is_some_and(|o| o >= *high)
        }))
    }

    /// Every window held, over all partitions.
    pub fn windows(&self) -> Vec<WindowFeatures> {
        let mut shared = lock(&self.shared);
        let mut all: Vec<WindowFeatures> = shared
            .partitions
            .values_mut()
            .flat_map(|st| st.engine.windows())
            .collect();
        sort_windows(&mut all);
        all
    }

    /// How many windows [`Ingest::windows`] would return, without cloning
    /// or sorting them (for the gauge the feed sets every cycle).
    pub fn windows_held(&self) -> usize {
        let mut shared = lock(&self.shared);
        shared
            .partitions
            .values_mut()
            .map(|st| st.engine.windows_held())
            .sum()
    }

    /// Totals over every partition held now or before.
    pub fn counters(&self) -> IngestCounters {
        let shared = lock(&self.shared);
        let mut c = shared.retired.clone();
        for ((topic, partition), st) in &shared.partitions {
            c.absorb(&st.engine.counters);
            c.dedupe_ids_held += st.engine.dedupe_ids();
            c.partitions.push(format!("{topic}/{partition}"));
        }
        c.partitions.sort();
        c.messages = self.messages;
        c.dead_lettered = self.dead_lettered;
        c.consuming_seconds = self
            .first_last
            .map_or(0.0, |(f, l)| l.duration_since(f).as_secs_f64());
        c
    }

    /// Messages between the position and the end of each assigned partition
    /// (one watermark request per partition, each waiting at most `timeout`).
    pub fn lag(&self, timeout: Duration) -> Vec<(String, i32, i64)> {
        let Ok(positions) = self.consumer.position() else {
            return Vec::new();
        };
        positions
            .elements()
            .iter()
            .filter_map(|e| {
                let Offset::Offset(at) = e.offset() else {
                    return None;
                };
                let (_, high) = self
                    .consumer
                    .fetch_watermarks(e.topic(), e.partition(), timeout)
                    .ok()?;
                Some((e.topic().to_string(), e.partition(), (high - at).max(0)))
            })
            .collect()
    }

    /// The partitions assigned now.
    pub fn assigned(&self) -> Vec<(String, i32)> {
        self.consumer
            .assignment()
            .map(|a| {
                a.elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect()
            })
            .unwrap_or_default()
    }
}
