//! What the controller watches: per namespace, reflectors (list, then watch
//! from the list's resourceVersion) of Deployments, their Pods, and
//! HorizontalPodAutoscalers (to refuse targets an HPA also scales). No polling.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{self, reflector, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use tokio::task::JoinHandle;

/// The reflectors of one namespace.
struct Namespace {
    deployments: Store<Deployment>,
    pods: Store<Pod>,
    hpas: Store<HorizontalPodAutoscaler>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Namespace {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn reflect<K>(client: &Client, ns: &str) -> (Store<K>, JoinHandle<()>)
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
    let ns = ns.to_string();
    let task = tokio::spawn(async move {
        let stream = reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff()
            .applied_objects();
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                tracing::warn!(namespace = %ns, kind = %K::kind(&Default::default()), error = %e, "watch failed; retrying");
            }
        }
    });
    (reader, task)
}

/// Reflectors for every namespace the policies name.
pub struct Cluster {
    client: Client,
    namespaces: BTreeMap<String, Namespace>,
}

impl Cluster {
    pub fn new(client: Client) -> Self {
        Cluster {
            client,
            namespaces: BTreeMap::new(),
        }
    }

    /// Starts watching `wanted` namespaces and stops watching the others.
    pub fn watch(&mut self, wanted: &[String]) {
        self.namespaces.retain(|ns, _| wanted.contains(ns));
        for ns in wanted {
            if self.namespaces.contains_key(ns) {
                continue;
            }
            let (deployments, d) = reflect::<Deployment>(&self.client, ns);
            let (pods, p) = reflect::<Pod>(&self.client, ns);
            let (hpas, h) = reflect::<HorizontalPodAutoscaler>(&self.client, ns);
            tracing::info!(namespace = %ns, "watching deployments, pods and HPAs");
            self.namespaces.insert(
                ns.clone(),
                Namespace {
                    deployments,
                    pods,
                    hpas,
                    tasks: vec![d, p, h],
                },
            );
        }
    }

    /// True once every watch has listed its namespace.
    pub fn synced(&self) -> bool {
        self.namespaces.values().all(|n| {
            n.deployments
                .wait_until_ready()
                .now_or_never()
                .is_some_and(|r| r.is_ok())
                && n.pods
                    .wait_until_ready()
                    .now_or_never()
                    .is_some_and(|r| r.is_ok())
                && n.hpas
                    .wait_until_ready()
                    .now_or_never()
                    .is_some_and(|r| r.is_ok())
        })
    }

    pub fn deployment(&self, ns: &str, name: &str) -> Option<Arc<Deployment>> {
        self.namespaces
            .get(ns)?
            .deployments
            .get(&ObjectRef::new(name).within(ns))
    }

    /// The pods the Deployment selects.
    pub fn pods(&self, ns: &str, d: &Deployment) -> Vec<Arc<Pod>> {
        let Some(n) = self.namespaces.get(ns) else {
            return Vec::new();
        };
        n.pods
            .state()
            .into_iter()
            .filter(|p| {
                p.metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| super::objects::selects(d, l))
            })
            .collect()
    }

    /// The HPA that also scales Deployment `name`, if any.
    pub fn hpa_for(&self, ns: &str, name: &str) -> Option<Arc<HorizontalPodAutoscaler>> {
        let n = self.namespaces.get(ns)?;
        n.hpas.state().into_iter().find(|h| {
            h.spec.as_ref().is_some_and(|s| {
                let r = &s.scale_target_ref;
                r.kind == "Deployment" && r.name == name
            })
        })
    }
}
