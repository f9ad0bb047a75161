//! Partition sharding (`run --sharding partitions`): the broker shards the
//! work. Every replica joins one consumer group; the partitions it is
//! assigned are its shards. A target belongs to the partition its key
//! (`namespace/name`) hashes to with Kafka's default partitioner (murmur2, as
//! the Java client and librdkafka's `murmur2_random` compute it), so the
//! producer's partition and the shard agree. A replica ticks only the targets
//! of the shards it is assigned, and writes for one only while it holds that
//! shard's Lease (`scalepilot-shard-N`, see [`lease_name`]): acquired after
//! assignment, released after a revoke once the shard's ticks in flight have
//! ended. The Leases of the shards it is not assigned are read all along
//! ([`super::sightings`]), so a dead replica's shard is taken over a lease
//! duration after its holder's last renewal, not after the reassignment.

use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::leader::{self, Leadership, LeaseConfig};
use super::sightings::Sightings;
pub use crate::ingest::Assignment;

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate().rev() {
            h ^= u32::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner gives `key` among `partitions`
/// (`toPositive(murmur2(key)) % partitions`); None without partitions.
pub fn partition_of(key: &str, partitions: u32) -> Option<i32> {
    let positive = (murmur2(key.as_bytes()) & 0x7fff_ffff) as u32;
    positive.checked_rem(partitions).map(|p| p as i32)
}

/// The Lease of `shard`: `scalepilot-shard-N` for the default leader Lease
/// `scalepilot-leader`, else `<lease>-shard-N`.
pub fn lease_name(leader_lease: &str, shard: i32) -> String {
    let base = leader_lease.strip_suffix("-leader").unwrap_or(leader_lease);
    format!("{base}-shard-{shard}")
}

/// The election of one shard's Lease (none in dry-run: never a writer).
struct Election {
    leadership: Leadership,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// The shards this replica is assigned and the elections of their Leases.
pub struct Shards {
    client: kube::Client,
    lease: LeaseConfig,
    assignment: watch::Receiver<Assignment>,
    elections: BTreeMap<i32, Election>,
    /// Revoked shards whose Leases are released once their ticks end.
    draining: BTreeSet<i32>,
    /// Contend for Leases (not in dry-run).
    elect: bool,
    /// The Leases of the shards not assigned here, read all along (not in
    /// dry-run), and the partition count and shards they were set for.
    sightings: Option<Sightings>,
    sighted: (u32, BTreeSet<i32>),
}

impl Shards {
    /// Shards named after `lease.name`, following `assignment`.
    pub fn new(
        client: kube::Client,
        lease: LeaseConfig,
        assignment: watch::Receiver<Assignment>,
        elect: bool,
    ) -> Self {
        let sightings =
            elect.then(|| Sightings::spawn(client.clone(), &lease.namespace, lease.retry_period));
        Shards {
            client,
            lease,
            assignment,
            elections: BTreeMap::new(),
            draining: BTreeSet::new(),
            elect,
            sightings,
            sighted: (0, BTreeSet::new()),
        }
    }

    /// The shard topic's partition count (0 until known).
    pub fn partitions(&self) -> u32 {
        self.assignment.borrow().partitions
    }

    /// The shard of `key`, when the partition count is known.
    pub fn shard_of(&self, key: &str) -> Option<i32> {
        partition_of(key, self.partitions())
    }

    /// The Leadership `key` is written under, when this replica is assigned
    /// its shard (not while the shard drains).
    pub fn owner_of(&self, key: &str) -> Option<Leadership> {
        let shard = self.shard_of(key)?;
        if self.draining.contains(&shard) {
            return None;
        }
        self.elections.get(&shard).map(|e| e.leadership.clone())
    }

    /// Shards assigned now (not draining), their Lease held or not.
    pub fn assigned(&self) -> BTreeSet<i32> {
        let live = self.elections.keys().filter(|s| !self.draining.contains(s));
        live.copied().collect()
    }

    /// Shards assigned now whose Lease this replica holds.
    pub fn leading(&self) -> BTreeSet<i32> {
        let held = self
            .elections
            .iter()
            .filter(|(s, _)| !self.draining.contains(s));
        held.filter(|(_, e)| e.leadership.is_leader())
            .map(|(s, _)| *s)
            .collect()
    }

    /// Starts the election of every newly assigned shard and marks revoked
    /// ones draining; then releases the Lease of each draining shard for
    /// which `busy` says no tick is in flight.
    pub fn follow(&mut self, busy: impl Fn(i32) -> bool) {
        let held = self.assignment.borrow_and_update().held.clone();
        for shard in &held {
            self.draining.remove(shard);
            if self.elections.contains_key(shard) {
                continue;
            }
            let mut cfg = self.lease.clone();
            cfg.name = lease_name(&self.lease.name, *shard);
            let (stop, stopped) = watch::channel(false);
            let (leadership, task) = if self.elect {
                let seed = self.sightings.as_ref().and_then(|s| s.get(&cfg.name));
                let (l, task) = leader::spawn_seeded(self.client.clone(), cfg, stopped, seed);
                (l, Some(task))
            } else {
                (Leadership::never(), None)
            };
            tracing::info!(shard, "shard assigned: contending for its Lease");
            let election = Election {
                leadership,
                stop,
                task,
            };
            self.elections.insert(*shard, election);
        }
        // Only now that the new shards' elections took their sightings.
        let partitions = self.partitions();
        if let Some(s) = &self.sightings {
            if self.sighted.0 != partitions || self.sighted.1 != held {
                let others = (0..partitions as i32).filter(|p| !held.contains(p));
                s.watch(others.map(|p| lease_name(&self.lease.name, p)).collect());
                self.sighted = (partitions, held.clone());
            }
        }
        for shard in self.elections.keys() {
            if !held.contains(shard) && self.draining.insert(*shard) {
                tracing::info!(
                    shard,
                    "shard revoked: releasing its Lease once its ticks end"
                );
            }
        }
        let done: Vec<i32> = self
            .draining
            .iter()
            .copied()
            .filter(|s| !busy(*s))
            .collect();
        for shard in done {
            self.draining.remove(&shard);
            if let Some(e) = self.elections.remove(&shard) {
                let _ = e.stop.send(true);
                tracing::info!(shard, "shard released");
            }
        }
    }

    /// Waits for a change of assignment.
    pub async fn changed(&mut self) {
        if self.assignment.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Ends every election, releasing the Leases held.
    pub async fn shutdown(self) {
        for e in self.elections.values() {
            let _ = e.stop.send(true);
        }
        for task in self.elections.into_values().filter_map(|e| e.task) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Apache Kafka's `UtilsTest.testMurmur2` vectors.
    #[test]
    fn murmur2_matches_the_java_client() {
        let cases: [(&[u8], i32); 7] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
            (b"", 275_646_681),
        ];
        for (data, want) in cases {
            assert_eq!(murmur2(data), want, "{}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn partitions_are_the_positive_hash_modulo_the_count() {
        // murmur2("foobar") = -790332482; & 0x7fffffff = 1357151166.
        assert_eq!(partition_of("foobar", 12), Some(1_357_151_166 % 12));
        assert_eq!(partition_of("foobar", 1), Some(0));
        assert_eq!(partition_of("foobar", 0), None);
        for key in ["shop/web", "a/b", "kube-system/coredns"] {
            let p = partition_of(key, 12).unwrap();
            assert!((0..12).contains(&p), "{key} → {p}");
        }
    }
}
