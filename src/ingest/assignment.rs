//! What a consumer in a shared group (`run --sharding partitions`) reports of
//! its assignment: the shard topic's partition count and the partitions it
//! holds, published on a watch channel after every rebalance (and at once on
//! a revoke, so ticks of a revoked shard stop before its new owner starts).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use tokio::sync::watch;

/// The partitions of the shard topic this replica holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The shard topic's partition count (0 until known).
    pub partitions: u32,
    pub held: BTreeSet<i32>,
}

/// Where the consumer publishes its [`Assignment`].
#[derive(Clone, Debug)]
pub struct AssignmentSink {
    /// The topic whose partitions are the shards.
    pub topic: String,
    pub tx: Arc<watch::Sender<Assignment>>,
}

impl AssignmentSink {
    /// Publishes what `consumer` holds now.
    pub fn report<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
        let held: BTreeSet<i32> = match consumer.assignment() {
            Ok(tpl) => tpl
                .elements_for_topic(&self.topic)
                .iter()
                .map(|e| e.partition())
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the assignment");
                return;
            }
        };
        let mut partitions = self.tx.borrow().partitions;
        if partitions == 0 || held.iter().any(|p| *p as u32 >= partitions) {
            match consumer.fetch_metadata(Some(&self.topic), Duration::from_secs(5)) {
                Ok(m) => {
                    let t = m.topics().iter().find(|t| t.name() == self.topic);
                    partitions = t.map_or(0, |t| t.partitions().len() as u32);
                }
                Err(e) => {
                    tracing::warn!(error = %e, topic = %self.topic, "cannot read the partition count")
                }
            }
        }
        tracing::info!(topic = %self.topic, partitions, held = ?held, "assignment");
        self.tx.send_replace(Assignment { partitions, held });
    }

    /// Drops `revoked` from what is published.
    pub fn revoke(&self, revoked: impl IntoIterator<Item = i32>) {
        self.tx.send_modify(|a| {
            for p in revoked {
                a.held.remove(&p);
            }
        });
    }
}
