//! What the controller watches: per namespace, reflectors (list, then watch
//! from the list's resourceVersion) of the targets (one per kind the
//! namespace's policies scale), their Pods, and HorizontalPodAutoscalers (to
//! refuse targets an HPA also scales, and to shadow them). No polling. The
//! stores keep only the fields the controller reads (`objects::slim_target`,
//! `watched_pod`).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::DynamicObject;
use kube::core::ApiResource;
use kube::runtime::reflector::{self, reflector, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use tokio::task::JoinHandle;

use super::index::{self, Hpas, PodSelector, Pods};
use super::objects;
use super::watched_pod::WatchedPod;

/// The stores of one namespace's reflectors (cheap to clone: handles).
#[derive(Clone)]
struct Stores {
    /// Targets by `apiVersion/kind`.
    targets: BTreeMap<String, (ApiResource, Store<DynamicObject>)>,
    pods: Pods,
    hpas: Hpas,
}

/// The reflectors of one namespace.
struct Namespace {
    stores: Stores,
    tasks: Vec<JoinHandle<()>>,
}

fn kind_key(ar: &ApiResource) -> String {
    format!("{}/{}", ar.api_version, ar.kind)
}

/// Drives a reflector's watch until aborted, logging (and backing off from)
/// its failures.
fn drive<K>(
    stream: impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    ns: &str,
    kind: String,
) -> JoinHandle<()> {
    let ns = ns.to_string();
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                tracing::warn!(namespace = %ns, kind = %kind, error = %e, "watch failed; retrying");
            }
        }
    })
}

/// A reflector of one target kind (any resource, read as DynamicObject).
fn reflect_targets(
    client: &Client,
    ns: &str,
    ar: &ApiResource,
) -> (Store<DynamicObject>, JoinHandle<()>) {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, ar);
    let writer = reflector::store::Writer::new(ar.clone());
    let reader = writer.as_reader();
    let events = watcher(api, watcher::Config::default()).modify(objects::slim_target);
    let stream = reflector(writer, events)
        .default_backoff()
        .applied_objects();
    (reader, drive(stream, ns, ar.kind.clone()))
}

impl Drop for Namespace {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A reflector of `K`, each object passed through `slim` before it is stored.
fn reflect<K>(client: &Client, ns: &str, slim: fn(&mut K)) -> (Store<K>, JoinHandle<()>)
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let (reader, writer) = reflector::store();
    let events = watcher(api, watcher::Config::default()).modify(slim);
    let stream = reflector(writer, events)
        .default_backoff()
        .applied_objects();
    (
        reader,
        drive(stream, ns, K::kind(&Default::default()).into()),
    )
}

/// Reflectors for every namespace the policies name.
pub struct Cluster {
    client: Client,
    namespaces: BTreeMap<String, Namespace>,
    view: Arc<View>,
}

/// What the reflectors hold, readable from any task: the stores are live,
/// the set of namespaces is the one of the last [`Cluster::watch`].
#[derive(Default)]
pub struct View(BTreeMap<String, Stores>);

impl Cluster {
    pub fn new(client: Client) -> Self {
        Cluster {
            client,
            namespaces: BTreeMap::new(),
            view: Arc::default(),
        }
    }

    /// The stores as of now, for ticks running beside the watches.
    pub fn view(&self) -> Arc<View> {
        Arc::clone(&self.view)
    }

    /// Watches the `wanted` namespaces, each with the target kinds its
    /// policies scale, and stops watching the others.
    pub fn watch(&mut self, wanted: &BTreeMap<String, Vec<ApiResource>>) {
        let before = self.namespaces.len();
        self.namespaces.retain(|ns, _| wanted.contains_key(ns));
        let mut changed = before != self.namespaces.len();
        for (ns, kinds) in wanted {
            let n = self.namespaces.entry(ns.clone()).or_insert_with(|| {
                let (pods, p) = reflect::<WatchedPod>(&self.client, ns, |_| {});
                let (hpas, h) = reflect::<HorizontalPodAutoscaler>(&self.client, ns, |h| {
                    h.metadata.managed_fields = None;
                });
                tracing::info!(namespace = %ns, "watching pods and HPAs");
                changed = true;
                Namespace {
                    stores: Stores {
                        targets: BTreeMap::new(),
                        pods: Pods::new(pods, index::labels),
                        hpas: Hpas::new(hpas, index::scaled),
                    },
                    tasks: vec![p, h],
                }
            });
            for ar in kinds {
                if n.stores.targets.contains_key(&kind_key(ar)) {
                    continue;
                }
                let (store, task) = reflect_targets(&self.client, ns, ar);
                tracing::info!(namespace = %ns, kind = %ar.kind, "watching targets");
                n.stores.targets.insert(kind_key(ar), (ar.clone(), store));
                n.tasks.push(task);
                changed = true;
            }
        }
        if changed {
            let stores = self.namespaces.iter();
            self.view = Arc::new(View(
                stores
                    .map(|(ns, n)| (ns.clone(), n.stores.clone()))
                    .collect(),
            ));
        }
    }

    /// True once every watch has listed its namespace.
    pub fn synced(&self) -> bool {
        fn ready<K: Clone + Resource>(s: &Store<K>) -> bool
        where
            K::DynamicType: Eq + std::hash::Hash + Clone,
        {
            s.wait_until_ready()
                .now_or_never()
                .is_some_and(|r| r.is_ok())
        }
        self.namespaces.values().map(|n| &n.stores).all(|n| {
            ready(n.pods.store())
                && ready(n.hpas.store())
                && n.targets.values().all(|(_, s)| ready(s))
        })
    }
}

impl View {
    /// The target `name` of kind `ar` as last watched.
    pub fn target(&self, ar: &ApiResource, ns: &str, name: &str) -> Option<Arc<DynamicObject>> {
        let (_, store) = self.0.get(ns)?.targets.get(&kind_key(ar))?;
        store.get(&ObjectRef::new_with(name, ar.clone()).within(ns))
    }

    /// The pods of namespace `ns` that `selector` selects; an empty selector
    /// selects none (a target reports none only when it has no pods).
    pub fn pods(&self, ns: &str, selector: &PodSelector) -> Vec<Arc<WatchedPod>> {
        self.0
            .get(ns)
            .map_or_else(Vec::new, |n| index::select(&n.pods, selector))
    }

    /// The HPA that also scales the target `name` of kind `ar`, if any.
    pub fn hpa_for(
        &self,
        ar: &ApiResource,
        ns: &str,
        name: &str,
    ) -> Option<Arc<HorizontalPodAutoscaler>> {
        let n = self.0.get(ns)?;
        index::hpa_scaling(&n.hpas, &ar.kind, &ar.group, name)
    }
}
