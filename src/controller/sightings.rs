//! Sightings of the shard Leases a replica is not contending for, kept so
//! that a shard assigned to it later starts its election from them.
//!
//! A candidate waits out a foreign holder for a lease duration from when it
//! first saw the holder's last renewal, by its own clock (client-go's rule:
//! no trust in other clocks). A replica that begins to watch a dead
//! replica's shard Lease only once the consumer group hands it the shard
//! therefore waits the session timeout and then a whole lease duration on
//! top. Reading the Leases all along makes the two waits overlap: when the
//! shard arrives, the holder has often been silent for a lease duration
//! already by this replica's own clock. A sighting is never earlier than the
//! change it saw, so the wait it shortens is never shorter than the rule's.
//!
//! Each Lease is read by name (`get`, which the chart grants by
//! `resourceNames`; a `list` cannot be limited by name), all of them side by
//! side once a retry period.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use tokio::task::JoinHandle;

use super::leader::Observed;

type Seen = Arc<Mutex<HashMap<String, Observed>>>;
type ReadResult<E> = Result<Result<Option<Lease>, E>, tokio::time::error::Elapsed>;

/// The background reader and what it saw.
pub struct Sightings {
    seen: Seen,
    names: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Sightings {
    /// Reads the Leases named by [`Sightings::watch`] in `namespace` every
    /// `every`, until dropped.
    pub fn spawn(client: kube::Client, namespace: &str, every: Duration) -> Self {
        let api: Api<Lease> = Api::namespaced(client, namespace);
        let seen: Seen = Arc::default();
        let names: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, n) = (Arc::clone(&seen), Arc::clone(&names));
        let task = tokio::spawn(async move {
            loop {
                let round = n.lock().unwrap_or_else(PoisonError::into_inner).clone();
                // Side by side: a slow API server delays a round by one
                // retry period at most, not by one per shard.
                let reads = round.into_iter().map(|name| {
                    let api = &api;
                    async move { (tokio::time::timeout(every, api.get_opt(&name)).await, name) }
                });
                let reads = futures::future::join_all(reads).await;
                record(&s, reads);
                tokio::time::sleep(every).await;
            }
        });
        Sightings { seen, names, task }
    }

    /// The Leases to read from now on. Sightings of Leases no longer read
    /// are kept (one per shard at most): a holder and renew time name one
    /// renewal, so an election that finds them unchanged knows the Lease was
    /// not renewed since; one that finds them changed starts afresh. A shard
    /// revoked and assigned again moments later (a rebalance often takes a
    /// replica's shards away and back) thus keeps its earlier sighting.
    pub fn watch(&self, names: Vec<String>) {
        *self.names.lock().unwrap_or_else(PoisonError::into_inner) = names;
    }

    /// The last sighting of Lease `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<Observed> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(name).cloned()
    }
}

/// Records one round of reads.
fn record<E>(seen: &Seen, reads: Vec<(ReadResult<E>, String)>) {
    let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    for (read, name) in reads {
        match read {
            Ok(Ok(Some(lease))) => {
                let prev = seen.remove(&name);
                seen.insert(name, Observed::update(prev, &lease));
            }
            // Gone: nothing to wait out; unreadable: no sighting to stand on
            // (the election reads it itself).
            Ok(Ok(None)) | Ok(Err(_)) => {
                seen.remove(&name);
            }
            // Slow: the last sighting stays; it can only be older than a
            // change not yet seen, never newer.
            Err(_) => {}
        }
    }
}

impl Drop for Sightings {
    fn drop(&mut self) {
        self.task.abort();
    }
}
