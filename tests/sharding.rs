//! `scalepilot run --sharding partitions` against the real broker (tansu) and
//! the test API server: replicas share one consumer group, each decides and
//! writes for the targets of the partitions it is assigned under that
//! partition's Lease, and a dead replica's shards move to the survivor.
//! Ignored by plain `cargo test`; `.ci/run` runs them with
//! SCALEPILOT_TEST_BROKERS set.

#[path = "support/broker.rs"]
mod broker;
use broker::unique;

#[path = "support/apiserver.rs"]
mod apiserver;

#[path = "support/process.rs"]
mod process;

#[path = "support/world.rs"]
mod world;
use world::*;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;

use scalepilot::controller::shards::{lease_name, partition_of};
use serde_json::{json, Value};

/// The topic's partitions (`World::new` creates 3).
const PARTITIONS: u32 = 3;

/// Six target names, two on each partition.
fn targets() -> Vec<String> {
    let mut per: BTreeMap<i32, usize> = BTreeMap::new();
    let mut names = Vec::new();
    for i in 0.. {
        let name = format!("s{i}");
        let n = per
            .entry(partition_of(&format!("{NS}/{name}"), PARTITIONS).unwrap())
            .or_default();
        if *n < 2 {
            *n += 1;
            names.push(name);
        }
        if names.len() == 2 * PARTITIONS as usize {
            break;
        }
    }
    names
}

/// The name of the shard Lease of `name`'s partition.
fn shard_of(name: &str) -> String {
    let p = partition_of(&format!("{NS}/{name}"), PARTITIONS).unwrap();
    lease_name("scalepilot-leader", p)
}

/// Who holds the shard Lease of `name`'s partition.
fn shard_holder(w: &World, name: &str) -> Option<String> {
    w.server
        .get(
            "coordination.k8s.io/v1",
            "Lease",
            "scalepilot",
            &shard_of(name),
        )
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
}

/// A Lease held by "ghost", a replica outside the test, renewed every
/// 500 ms straight into the store until dropped.
struct Ghost {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ghost {
    fn hold(w: &World, lease: &str) -> Ghost {
        let stop = Arc::new(AtomicBool::new(false));
        let put = w.server.putter();
        let (name, halt) = (lease.to_string(), stop.clone());
        let renew = move || {
            let now = serde_json::to_value(MicroTime(Timestamp::now())).unwrap();
            put(json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "scalepilot"},
                "spec": {"holderIdentity": "ghost", "leaseDurationSeconds": 4,
                         "acquireTime": now, "renewTime": now},
            }));
        };
        renew();
        let thread = std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                renew();
            }
        });
        Ghost {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ghost {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The identities that wrote `/scale` of `name` (successfully), in order.
fn writers(w: &World, name: &str, from: usize) -> Vec<(String, i64)> {
    w.server.requests()[from..]
        .iter()
        .filter(|r| r.is_write() && r.status < 300)
        .filter(|r| r.path.ends_with(&format!("/deployments/{name}/scale")))
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            (identity_of(r), body["spec"]["replicas"].as_i64().unwrap())
        })
        .collect()
}

#[test]
#[ignore = "needs the broker: run by .ci/run"]
fn partition_shards_split_the_targets_and_move_when_a_replica_dies() {
    let names = targets();
    let w = World::new("shards", &policy(&names[0], 0));
    for n in &names[1..] {
        std::fs::write(w.dir.join(format!("policies/{n}.yaml")), policy(n, 0)).unwrap();
    }
    for n in &names {
        w.server.put(deployment(n, 2));
    }
    // 50 requests/s at 10 per replica: 5 each.
    let loads: Vec<Load> = names
        .iter()
        .map(|n| Load::start(&w.topic, &format!("{NS}/{n}"), 50))
        .collect();
    // The first target's shard Lease is held by a replica of the previous
    // rollout ("ghost"), renewed until told to stop: whoever is assigned that
    // shard must wait it out and write nothing for its targets meanwhile.
    let ghosted = shard_of(&names[0]);
    let ghost = Ghost::hold(&w, &ghosted);
    let group = unique("shared");
    let sharded = ["--sharding", "partitions"];
    let mut a = w.spawn_in("a", &group, &sharded);
    let mut b = w.spawn_in("b", &group, &sharded);
    let (held_back, free): (Vec<&String>, Vec<&String>) =
        names.iter().partition(|n| shard_of(n) == ghosted);
    for n in &free {
        w.wait_replicas(n, 5, Duration::from_secs(90), &[&a, &b]);
    }
    for n in &held_back {
        assert_eq!(
            w.replicas(n),
            2,
            "{n} scaled while {ghosted} was the ghost's"
        );
    }
    drop(ghost);
    for n in &held_back {
        w.wait_replicas(n, 5, Duration::from_secs(30), &[&a, &b]);
    }
    // Every write was made by the holder of its shard's Lease at that moment
    // (while the group settles a shard may move, but never be written by two
    // at once), and each target ends up with its shard's holder as writer.
    writes_follow_the_leases(&w, &names);
    let mut wrote: BTreeSet<String> = BTreeSet::new();
    for n in &names {
        let last = writers(&w, n, 0).last().map(|(id, _)| id.clone());
        assert_eq!(
            shard_holder(&w, n),
            last,
            "{n}: last writer vs shard Lease holder"
        );
        wrote.extend(last);
    }
    assert_eq!(
        wrote,
        BTreeSet::from(["a".to_string(), "b".to_string()]),
        "both replicas hold shards"
    );

    // Kill the replica holding the first target's shard; the other takes
    // over its shards and follows the load to 8 everywhere.
    let dead = shard_holder(&w, &names[0]).unwrap();
    let (victim, survivor) = if dead == "a" {
        (&mut a, "b")
    } else {
        (&mut b, "a")
    };
    victim.kill9();
    let killed = Instant::now();
    let from = w.server.requests().len();
    for l in &loads {
        l.set(80);
    }
    for n in &names {
        let deadline = Instant::now() + Duration::from_secs(60);
        while w.replicas(n) != 8 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(w.dir.join(format!("{survivor}.log")));
        assert_eq!(w.replicas(n), 8, "{n}:\n{}", log.unwrap_or_default());
    }
    eprintln!(
        "shards moved and written again {:.1} s after kill -9",
        killed.elapsed().as_secs_f64()
    );
    for n in &names {
        assert_eq!(shard_holder(&w, n).as_deref(), Some(survivor), "{n}");
        let after = writers(&w, n, from);
        assert_eq!(after.last(), Some(&(survivor.to_string(), 8)), "{n}");
    }
    writes_follow_the_leases(&w, &names);
}

/// Every successful `/scale` write of the log came from the holder of its
/// shard's Lease at that moment (see `apiserver::unfenced_writes`).
fn writes_follow_the_leases(w: &World, names: &[String]) {
    let lease_of = |n: &str| names.iter().any(|m| m == n).then(|| shard_of(n));
    let (unfenced, checked) = apiserver::unfenced_writes(&w.server.requests(), lease_of);
    assert!(
        unfenced.is_empty(),
        "written without the shard Lease: {unfenced:?}"
    );
    assert!(checked >= names.len(), "only {checked} /scale writes seen");
}
