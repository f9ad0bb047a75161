//! Lease leader election (`controller::leader`) against the test API server,
//! through the real `kube::Client`, with short timings: one leader of two
//! candidates, a standby that waits out a foreign holder's lease by its own
//! clock, release on shutdown, and a leader that stops leading when it cannot
//! renew within the renew deadline.

#[path = "support/apiserver.rs"]
mod apiserver;

use std::time::{Duration, Instant};

use apiserver::TestApiServer;
use scalepilot::controller::leader::{self, Leadership, LeaseConfig};
use scalepilot::controller::sightings::Sightings;
use serde_json::json;
use tokio::sync::watch;

const LEASE: &str = "scalepilot-leader";

fn cfg(identity: &str) -> LeaseConfig {
    LeaseConfig {
        name: LEASE.into(),
        namespace: "default".into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
    }
}

fn client(server: &TestApiServer) -> kube::Client {
    kube::Client::try_from(server.kube_config()).unwrap()
}

fn holder(server: &TestApiServer) -> Option<String> {
    server
        .get("coordination.k8s.io/v1", "Lease", "default", LEASE)
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(String::from))
}

/// Waits until `cond` holds, up to `limit`; how long it took.
async fn until(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

struct Candidate {
    leadership: Leadership,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn candidate(server: &TestApiServer, identity: &str) -> Candidate {
    let (stop, rx) = watch::channel(false);
    let (leadership, task) = leader::spawn(client(server), cfg(identity), rx);
    Candidate {
        leadership,
        stop,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_leads_and_the_other_takes_over_at_once_on_release() {
    let server = TestApiServer::start();
    let a = candidate(&server, "a");
    until(Duration::from_secs(5), || a.leadership.is_leader())
        .await
        .expect("a alone becomes leader");
    // The Lease as client-go and kubectl expect it.
    let lease = server
        .get("coordination.k8s.io/v1", "Lease", "default", LEASE)
        .unwrap();
    let spec = &lease["spec"];
    assert_eq!(spec["holderIdentity"], "a", "{lease}");
    assert_eq!(spec["leaseDurationSeconds"], 3, "{lease}");
    assert_eq!(spec["leaseTransitions"], 0, "{lease}");
    assert!(
        spec["acquireTime"].is_string() && spec["renewTime"].is_string(),
        "{lease}"
    );
    assert_eq!(lease["metadata"]["namespace"], "default");
    let b = candidate(&server, "b");
    // For several lease durations, a renews and b never leads.
    let both = until(Duration::from_secs(7), || {
        b.leadership.is_leader() || !a.leadership.is_leader()
    })
    .await;
    assert_eq!(both, None, "b led (or a lost) while a renewed");
    assert_eq!(holder(&server).as_deref(), Some("a"));
    // A standby's leadership does not change while a renews: waiting on it waits.
    let mut watching = b.leadership.clone();
    let quiet = tokio::time::timeout(Duration::from_millis(800), watching.changed()).await;
    assert!(quiet.is_err(), "changed() returned with no change");
    // a shuts down: it releases the lease, and b leads well within a lease duration.
    let stopped = Instant::now();
    a.stop.send_replace(true);
    a.task.await.unwrap();
    assert!(!a.leadership.is_leader(), "a released: it does not lead");
    tokio::time::timeout(Duration::from_secs(5), watching.changed())
        .await
        .expect("the standby is woken when it becomes leader");
    until(Duration::from_secs(5), || b.leadership.is_leader())
        .await
        .expect("b takes over");
    // Without the release b would wait out a's lease (3 s from its last renewal).
    let took = stopped.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "took {took:?}: the release was not used"
    );
    assert_eq!(holder(&server).as_deref(), Some("b"));
    b.stop.send_replace(true);
    b.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_holder_is_waited_out_for_its_lease_duration_by_our_clock() {
    let server = TestApiServer::start();
    // Held by a replica that is gone; its renewTime is far in the past. That
    // clock is not ours: we wait a full lease (4 s) from when we saw it.
    server.put(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LEASE, "namespace": "default"},
        "spec": {"holderIdentity": "gone", "leaseDurationSeconds": 4,
                 "renewTime": "2020-01-01T00:00:00.000000Z", "leaseTransitions": 3}
    }));
    let c = candidate(&server, "c");
    let took = until(Duration::from_secs(10), || c.leadership.is_leader())
        .await
        .expect("c takes the abandoned lease");
    assert!(
        took >= Duration::from_millis(3800),
        "took {took:?}: the holder's lease of 4 s was not waited out"
    );
    let lease = server
        .get("coordination.k8s.io/v1", "Lease", "default", LEASE)
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "c");
    assert_eq!(lease["spec"]["leaseTransitions"], 4, "{lease}");
    c.stop.send_replace(true);
    c.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_renew_stops_leading_within_the_renew_deadline() {
    let server = TestApiServer::start();
    let a = candidate(&server, "a");
    until(Duration::from_secs(5), || a.leadership.is_leader())
        .await
        .expect("a becomes leader");
    // Every Lease request now fails.
    let path = format!("/leases/{LEASE}");
    server.fail_next("GET", &path, 500, 1000);
    server.fail_next("PUT", &path, 500, 1000);
    let lost = until(Duration::from_secs(5), || !a.leadership.is_leader())
        .await
        .expect("a stops leading");
    // It must stop before its lease (3 s) could expire and another take over.
    assert!(
        lost < Duration::from_secs(3),
        "lost after {lost:?}: not within the renew deadline of 2 s"
    );
    a.stop.send_replace(true);
    a.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_or_two_that_fail_within_the_deadline_do_not_end_leadership() {
    let server = TestApiServer::start();
    let a = candidate(&server, "a");
    until(Duration::from_secs(5), || a.leadership.is_leader())
        .await
        .expect("a becomes leader");
    let mut watching = a.leadership.clone();
    // Two renewals fail (about 0.4 s of a 2 s renew deadline); the third succeeds.
    server.fail_next("PUT", &format!("/leases/{LEASE}"), 500, 2);
    let lapse = until(Duration::from_millis(1500), || !a.leadership.is_leader()).await;
    assert_eq!(
        lapse, None,
        "a stopped leading after a failed renewal within its deadline"
    );
    // Renewals move the deadline on; a watcher sees them, never a None.
    tokio::time::timeout(Duration::from_secs(2), watching.changed())
        .await
        .expect("renewals are sent");
    assert!(a.leadership.is_leader());
    a.stop.send_replace(true);
    a.task.await.unwrap();
}

/// Renewals slower than the retry period but within the renew deadline keep
/// leadership: under load a Lease request can take seconds, and an attempt
/// given up after one retry period lost a lease that was being renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_slower_than_the_retry_period_keep_leadership() {
    let server = TestApiServer::start();
    let (stop, rx) = watch::channel(false);
    let slow_cfg = LeaseConfig {
        lease_duration: Duration::from_secs(6),
        renew_deadline: Duration::from_secs(4),
        retry_period: Duration::from_secs(1),
        ..cfg("a")
    };
    let (leadership, task) = leader::spawn(client(&server), slow_cfg, rx);
    until(Duration::from_secs(5), || leadership.is_leader())
        .await
        .expect("a becomes leader");
    // Four renewals in a row take 1.3 s each: longer than the retry period,
    // well within the 4 s renew deadline.
    let path = format!("/leases/{LEASE}");
    server.slow_next("PUT", &path, Duration::from_millis(1300), 4);
    let lapse = until(Duration::from_secs(9), || !leadership.is_leader()).await;
    assert_eq!(
        lapse, None,
        "leadership lapsed while slow renewals succeeded"
    );
    let slow_puts = server
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with(&path) && r.status == 200)
        .count();
    let all: Vec<_> = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&path))
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert!(slow_puts >= 3, "{slow_puts} renewals answered: {all:?}");
    assert_eq!(holder(&server).as_deref(), Some("a"));
    stop.send_replace(true);
    task.await.unwrap();
}

fn foreign_lease(name: &str, holder: &str, renew: &str) -> serde_json::Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 2,
                 "renewTime": renew, "leaseTransitions": 1}
    })
}

/// A shard's Lease read all along (`Sightings`) before the shard is
/// assigned: a holder already seen silent for its lease duration is taken
/// over at once, not waited out a second time; a holder that renewed since
/// the sighting is waited out in full from the renewal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_seen_silent_beforehand_is_not_waited_out_twice() {
    let server = TestApiServer::start();
    let (silent, renewing) = ("scalepilot-shard-0", "scalepilot-shard-1");
    server.put(foreign_lease(silent, "gone", "2026-01-01T00:00:00.000000Z"));
    server.put(foreign_lease(
        renewing,
        "alive",
        "2026-01-01T00:00:00.000000Z",
    ));
    let sightings = Sightings::spawn(client(&server), "default", Duration::from_millis(200));
    sightings.watch(vec![silent.into(), renewing.into()]);
    // Both seen unchanged for longer than their 2 s lease.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    server.put(foreign_lease(
        renewing,
        "alive",
        "2026-01-01T00:00:09.000000Z",
    ));

    let seeded = |name: &str, identity: &str| {
        let (stop, rx) = watch::channel(false);
        let lease = LeaseConfig {
            name: name.into(),
            ..cfg(identity)
        };
        let seed = sightings.get(name);
        assert!(seed.is_some(), "{name} not sighted");
        let (leadership, task) = leader::spawn_seeded(client(&server), lease, rx, seed);
        Candidate {
            leadership,
            stop,
            task,
        }
    };
    let a = seeded(silent, "a");
    let took = until(Duration::from_secs(5), || a.leadership.is_leader())
        .await
        .expect("a takes the silent holder's Lease");
    assert!(
        took < Duration::from_millis(1200),
        "took {took:?}: the silent holder was waited out again"
    );
    let b = seeded(renewing, "b");
    let early = until(Duration::from_millis(1500), || b.leadership.is_leader()).await;
    assert_eq!(early, None, "b took a Lease renewed after its sighting");
    for c in [a, b] {
        c.stop.send_replace(true);
        c.task.await.unwrap();
    }
}
