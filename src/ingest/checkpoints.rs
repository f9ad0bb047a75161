//! The checkpoint log: a Kafka topic (one partition, compacted) holding, per
//! consumer group and metric partition, the latest checkpoint (resume offset,
//! watermark before it, windows closed through). Commit metadata would carry
//! the same, but not every Kafka-protocol broker returns it (tansu 0.6 does
//! not), so the log is the source of truth and the committed offsets are
//! progress for lag monitoring.
//!
//! Order on every save: publish closed windows, then write the checkpoints,
//! then commit offsets (a hint for lag monitoring). A new owner of a
//! partition reads the log to its end, seeks to the latest checkpoint's offset
//! and restores it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::features::Checkpoint;

/// Writes checkpoints (shared with the rebalance callback).
pub struct CheckpointWriter {
    producer: BaseProducer,
    topic: String,
    group: String,
}

fn key(group: &str, topic: &str, partition: i32) -> String {
    format!("{group}|{topic}|{partition}")
}

impl CheckpointWriter {
    /// Writes checkpoints; with `wait`, until the broker has them. Waiting is
    /// not needed for correctness: any checkpoint ever written is a valid
    /// restore point, because it is written only after the windows it counts
    /// as closed were published; a lost one only means a longer replay.
    pub fn write(&self, checkpoints: &[(String, i32, Checkpoint)], wait: bool) -> KafkaResult<()> {
        if checkpoints.is_empty() {
            return Ok(());
        }
        for (topic, partition, cp) in checkpoints {
            let k = key(&self.group, topic, *partition);
            let v = format!("{};{}", cp.offset, cp.metadata());
            self.producer
                .send(BaseRecord::to(&self.topic).key(&k).payload(&v))
                .map_err(|(e, _)| e)?;
        }
        if wait {
            self.producer.flush(Duration::from_secs(10))
        } else {
            self.producer.poll(Duration::ZERO);
            Ok(())
        }
    }
}

/// Reads the checkpoint log.
pub struct CheckpointReader {
    consumer: BaseConsumer,
    topic: String,
    group: String,
    latest: HashMap<(String, i32), Checkpoint>,
    positions: HashMap<i32, i64>,
}

/// Opens the log: creates its topic when missing, and a writer and a reader.
pub fn open(
    brokers: &str,
    topic: &str,
    group: &str,
    properties: &[(String, String)],
) -> KafkaResult<(CheckpointWriter, CheckpointReader)> {
    let base = |extra: &[(&str, &str)]| {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", brokers);
        for (k, v) in properties {
            c.set(k, v);
        }
        for (k, v) in extra {
            c.set(*k, *v);
        }
        c
    };
    let admin: AdminClient<DefaultClientContext> = base(&[]).create()?;
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact");
    let created = futures_executor::block_on(admin.create_topics([&new], &AdminOptions::new()))?;
    for r in created {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => {
                return Err(KafkaError::AdminOp(code)).inspect_err(
                    |_| tracing::warn!(topic = %t, "cannot create the checkpoint topic"),
                )
            }
        }
    }
    let producer: BaseProducer =
        base(&[("acks", "all"), ("enable.idempotence", "false")]).create()?;
    let consumer: BaseConsumer = base(&[
        ("group.id", "scalepilot-checkpoint-reader"),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
    ])
    .create()?;
    Ok((
        CheckpointWriter {
            producer,
            topic: topic.to_string(),
            group: group.to_string(),
        },
        CheckpointReader {
            consumer,
            topic: topic.to_string(),
            group: group.to_string(),
            latest: HashMap::new(),
            positions: HashMap::new(),
        },
    ))
}

impl CheckpointReader {
    /// Reads what was written since the last call, to the end of the log.
    pub fn refresh(&mut self, timeout: Duration) -> KafkaResult<()> {
        let meta = self.consumer.fetch_metadata(Some(&self.topic), timeout)?;
        let partitions: Vec<i32> = meta
            .topics()
            .iter()
            .filter(|t| t.name() == self.topic)
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        let mut ends = HashMap::new();
        let mut tpl = TopicPartitionList::new();
        for &p in &partitions {
            let (_, high) = self.consumer.fetch_watermarks(&self.topic, p, timeout)?;
            let from = *self.positions.get(&p).unwrap_or(&0);
            if from < high {
                ends.insert(p, high);
                tpl.add_partition_offset(&self.topic, p, Offset::Offset(from))?;
            }
        }
        if ends.is_empty() {
            return Ok(());
        }
        self.consumer.assign(&tpl)?;
        // Assigned only while reading: left assigned, librdkafka fetches the
        // log in the background for ever, each checkpoint written again, into
        // a queue nobody reads.
        let read = self.read_to(&ends, timeout);
        self.consumer.unassign()?;
        read
    }

    /// Reads the assigned partitions up to `ends`.
    fn read_to(&mut self, ends: &HashMap<i32, i64>, timeout: Duration) -> KafkaResult<()> {
        let deadline = Instant::now() + timeout;
        while ends
            .iter()
            .any(|(p, high)| self.positions.get(p).copied().unwrap_or(0) < *high)
        {
            if Instant::now() > deadline {
                return Err(KafkaError::MessageConsumption(
                    RDKafkaErrorCode::OperationTimedOut,
                ));
            }
            let Some(m) = self.consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let m = m?;
            self.positions.insert(m.partition(), m.offset() + 1);
            let (Some(k), Some(v)) = (m.key(), m.payload()) else {
                continue;
            };
            let (Ok(k), Ok(v)) = (std::str::from_utf8(k), std::str::from_utf8(v)) else {
                continue;
            };
            let mut parts = k.split('|');
            let (Some(group), Some(topic), Some(partition)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(partition) = partition.parse::<i32>() else {
                continue;
            };
            if group != self.group {
                continue;
            }
            let Some((offset, meta)) = v.split_once(';') else {
                continue;
            };
            let Ok(offset) = offset.parse::<i64>() else {
                continue;
            };
            if let Some(cp) = Checkpoint::from_metadata(offset, meta) {
                self.latest.insert((topic.to_string(), partition), cp);
            }
        }
        Ok(())
    }

    /// The latest checkpoint of a metric partition.
    pub fn latest(&self, topic: &str, partition: i32) -> Option<Checkpoint> {
        self.latest.get(&(topic.to_string(), partition)).copied()
    }
}
