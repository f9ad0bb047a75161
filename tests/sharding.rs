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
use std::time::{Duration, Instant};

use scalepilot::controller::shards::{lease_name, partition_of};
use serde_json::Value;

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

/// Who holds the shard Lease of `name`'s partition.
fn shard_holder(w: &World, name: &str) -> Option<String> {
    let p = partition_of(&format!("{NS}/{name}"), PARTITIONS).unwrap();
    w.server
        .get(
            "coordination.k8s.io/v1",
            "Lease",
            "scalepilot",
            &lease_name("scalepilot-leader", p),
        )
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
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
    let group = unique("shared");
    let sharded = ["--sharding", "partitions"];
    let mut a = w.spawn_in("a", &group, &sharded);
    let mut b = w.spawn_in("b", &group, &sharded);
    for n in &names {
        w.wait_replicas(n, 5, Duration::from_secs(90), &[&a, &b]);
    }
    // Each target was written by one replica: the holder of its shard's Lease.
    let mut wrote: BTreeSet<String> = BTreeSet::new();
    for n in &names {
        let who: BTreeSet<String> = writers(&w, n, 0).into_iter().map(|(id, _)| id).collect();
        assert_eq!(who.len(), 1, "{n} written by {who:?}");
        let holder = shard_holder(&w, n);
        assert_eq!(
            holder.as_ref(),
            who.first(),
            "{n}: writer vs shard Lease holder"
        );
        wrote.extend(who);
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
}
