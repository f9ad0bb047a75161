//! Leader election on a `coordination.k8s.io/v1` Lease, the client-go scheme
//! written out: get the Lease; if another holder renewed it less than a lease
//! duration ago (by our own clock, from when we saw its record change), stand
//! by; otherwise replace it with the resourceVersion we read, so that of two
//! candidates exactly one wins and the other gets 409 Conflict.
//!
//! Why not a crate: `kube-lease-manager` 0.13 (for kube 5) detects a lost race
//! only through server-side-apply field ownership, which puts managed-fields
//! semantics between us and safety; the client-go scheme needs only the API
//! server's optimistic concurrency, which every server has.
//!
//! Leadership is a `watch::Receiver` of the instant it is valid until: the
//! last successful renewal plus the renew deadline, which is shorter than the
//! lease duration. A leader that cannot renew (API server unreachable, calls
//! hanging) therefore stops writing before its lease can expire and another
//! replica can take over — whether or not this task is still running.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use kube::Client;
use tokio::sync::watch;

/// Lease timings (client-go defaults: 15 s, 10 s, 2 s).
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

/// Leadership as the rest of the controller sees it.
#[derive(Clone, Debug)]
pub struct Leadership(watch::Receiver<Option<Instant>>);

impl Leadership {
    /// Leadership that never comes (dry-run).
    pub fn never() -> Self {
        Leadership(watch::channel(None).1)
    }

    /// True while our last renewal is younger than the renew deadline.
    pub fn is_leader(&self) -> bool {
        self.0.borrow().is_some_and(|until| Instant::now() < until)
    }

    /// Waits for a change: leadership won or lost, or a renewal moving its
    /// deadline on (so a caller that acts on a new leadership compares with
    /// what it saw before).
    pub async fn changed(&mut self) {
        if self.0.changed().await.is_err() {
            // The election ended: leadership never changes again.
            std::future::pending::<()>().await;
        }
    }
}

/// What a candidate last saw of a Lease, and since when (by its own clock):
/// a holder is waited out a lease duration from `at`.
#[derive(Clone, Debug)]
pub struct Observed {
    holder: Option<String>,
    renew: Option<MicroTime>,
    at: Instant,
}

impl Observed {
    /// The sighting of `lease` now: `prev` itself while the holder and the
    /// renew time are those it saw (its `at` is the earlier sighting),
    /// otherwise a new one seen now.
    pub fn update(prev: Option<Observed>, lease: &Lease) -> Observed {
        let spec = lease.spec.as_ref();
        let holder = spec
            .and_then(|s| s.holder_identity.clone())
            .filter(|h| !h.is_empty());
        let renew = spec.and_then(|s| s.renew_time.clone());
        match prev {
            Some(p) if p.holder == holder && p.renew == renew => p,
            _ => Observed {
                holder,
                renew,
                at: Instant::now(),
            },
        }
    }

    /// How long the record has been seen unchanged.
    pub fn unchanged_for(&self) -> Duration {
        self.at.elapsed()
    }
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// Runs the election until `shutdown` fires, then releases a held lease.
pub fn spawn(
    client: Client,
    cfg: LeaseConfig,
    shutdown: watch::Receiver<bool>,
) -> (Leadership, tokio::task::JoinHandle<()>) {
    spawn_seeded(client, cfg, shutdown, None)
}

/// [`spawn`], starting from an earlier sighting of the Lease (a shard's,
/// watched before it was assigned): a holder that has not renewed since is
/// waited out from that sighting, not from the election's first read.
pub fn spawn_seeded(
    client: Client,
    cfg: LeaseConfig,
    mut shutdown: watch::Receiver<bool>,
    seed: Option<Observed>,
) -> (Leadership, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(None);
    let handle = tokio::spawn(async move {
        let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
        let mut observed: Option<Observed> = seed;
        let mut leading = false;
        let mut last_error: Option<String> = None;
        loop {
            // An attempt may take up to the renew deadline, as a round of
            // client-go's renew loop may: under load a Lease request can take
            // longer than the retry period, and giving up on it after one
            // retry period lost leases that were being renewed. Leadership
            // runs from when the attempt began, not from when it answered:
            // the API server may have taken our write at any time in between,
            // and another candidate waits a lease duration (longer than the
            // renew deadline) from when it saw that write.
            let began = Instant::now();
            let attempt = tokio::time::timeout(
                cfg.renew_deadline.max(Duration::from_secs(1)),
                try_acquire_or_renew(&api, &cfg, &mut observed),
            );
            let won = match attempt.await {
                Ok(Ok(won)) => {
                    last_error = None;
                    won
                }
                Ok(Err(e)) => {
                    let text = e.to_string();
                    if last_error.as_deref() != Some(text.as_str()) {
                        tracing::warn!(error = %text, kind = e.metric_label(), "the Lease could not be read or renewed; retrying");
                        last_error = Some(text);
                    }
                    false
                }
                Err(_) => {
                    if last_error.as_deref() != Some("timeout") {
                        tracing::warn!(lease = %cfg.name, "the Lease request took longer than the renew deadline; retrying");
                        last_error = Some("timeout".into());
                    }
                    false
                }
            };
            let valid_until = began + cfg.renew_deadline;
            if won && Instant::now() < valid_until {
                tx.send_replace(Some(valid_until));
                if !leading {
                    tracing::info!(identity = %cfg.identity, lease = %cfg.name, "became leader");
                }
                leading = true;
            } else if leading && !tx.borrow().is_some_and(|until| Instant::now() < until) {
                tx.send_replace(None);
                tracing::warn!(identity = %cfg.identity, "lost leadership: could not renew within the renew deadline");
                leading = false;
            }
            tokio::select! {
                _ = tokio::time::sleep(cfg.retry_period) => {}
                _ = shutdown.changed() => break,
            }
        }
        if leading {
            tx.send_replace(None);
            release(&api, &cfg).await;
        }
    });
    (Leadership(rx), handle)
}

/// One round of client-go's `tryAcquireOrRenew`.
async fn try_acquire_or_renew(
    api: &Api<Lease>,
    cfg: &LeaseConfig,
    observed: &mut Option<Observed>,
) -> super::Result<bool> {
    let lease_error = |source| super::ControllerError::Lease {
        lease: format!("{}/{}", cfg.namespace, cfg.name),
        source,
    };
    let duration_s = cfg.lease_duration.as_secs().max(1) as i32;
    let Some(mut lease) = api.get_opt(&cfg.name).await.map_err(lease_error)? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(cfg.name.clone()),
                namespace: Some(cfg.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(cfg.identity.clone()),
                lease_duration_seconds: Some(duration_s),
                acquire_time: Some(now_micro()),
                renew_time: Some(now_micro()),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.is_already_exists() || s.is_conflict() => Ok(false),
            Err(e) => Err(lease_error(e)),
        };
    };
    let seen = Observed::update(observed.take(), &lease);
    let holder = seen.holder.clone();
    let unchanged_for = seen.unchanged_for();
    *observed = Some(seen);
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let ours = holder.as_deref() == Some(cfg.identity.as_str());
    let held_duration =
        Duration::from_secs(spec.lease_duration_seconds.unwrap_or(duration_s).max(1) as u64);
    if holder.is_some() && !ours && unchanged_for < held_duration {
        return Ok(false);
    }
    if !ours {
        spec.acquire_time = Some(now_micro());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.holder_identity = Some(cfg.identity.clone());
    spec.lease_duration_seconds = Some(duration_s);
    spec.renew_time = Some(now_micro());
    // `replace` sends the resourceVersion we read: a concurrent writer wins, we get 409.
    match api.replace(&cfg.name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.is_conflict() => Ok(false),
        Err(e) => Err(lease_error(e)),
    }
}

/// Gives a held lease up on shutdown so a standby takes over at once
/// (client-go's `ReleaseOnCancel`).
async fn release(api: &Api<Lease>, cfg: &LeaseConfig) {
    let Ok(Some(mut lease)) = api.get_opt(&cfg.name).await else {
        return;
    };
    let Some(spec) = lease.spec.as_mut() else {
        return;
    };
    if spec.holder_identity.as_deref() != Some(cfg.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(now_micro());
    match api.replace(&cfg.name, &PostParams::default(), &lease).await {
        Ok(_) => tracing::info!(identity = %cfg.identity, "released the lease"),
        Err(e) => tracing::warn!(error = %e, "could not release the lease"),
    }
}
