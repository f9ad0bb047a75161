//! The workloads policies scale, whatever their kind, as the HPA's
//! `scaleTargetRef` does: a policy's `spec.target` (`apiVersion`, `kind`) is
//! resolved once through the API server's discovery to its resource, which
//! must serve a `/scale` subresource (Deployments, StatefulSets, ReplicaSets,
//! custom resources such as Argo Rollouts); replicas and the pods' selector
//! come from `/scale`, read again only when the object's resourceVersion
//! (which `/scale` shares) has moved.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use kube::Client;

use crate::policy::TargetRef;

/// Failed resolutions are tried again this often.
const RETRY: Duration = Duration::from_secs(30);

/// Why a policy's target kind cannot be scaled.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("spec.target.apiVersion is missing (e.g. apps/v1)")]
    NoApiVersion,
    #[error("the API server serves no kind {kind} in {api_version}")]
    UnknownKind { api_version: String, kind: String },
    #[error("{api_version} {kind} has no /scale subresource: it cannot be scaled")]
    NotScalable { api_version: String, kind: String },
    #[error("discovering {api_version} {kind}: {source}")]
    Discovery {
        api_version: String,
        kind: String,
        #[source]
        source: kube::Error,
    },
}

/// `(apiVersion, kind)`, the part of a target that names its resource.
pub fn kind_of(t: &TargetRef) -> (String, String) {
    (t.api_version.clone().unwrap_or_default(), t.kind.clone())
}

/// Resolves a target kind through discovery; it must serve `/scale`.
pub async fn resolve(client: &Client, t: &TargetRef) -> Result<ApiResource, TargetError> {
    let (api_version, kind) = kind_of(t);
    if api_version.is_empty() {
        return Err(TargetError::NoApiVersion);
    }
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let gvk = GroupVersionKind::gvk(group, version, &kind);
    let unknown = || TargetError::UnknownKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    };
    let (ar, caps) = match kube::discovery::pinned_kind(client, &gvk).await {
        Ok(found) => found,
        Err(kube::Error::Discovery(_)) => return Err(unknown()),
        Err(kube::Error::Api(s)) if s.code == 404 => return Err(unknown()),
        Err(source) => {
            return Err(TargetError::Discovery {
                api_version,
                kind,
                source,
            })
        }
    };
    if !caps.subresources.iter().any(|(s, _)| s.plural == "scale") {
        return Err(TargetError::NotScalable { api_version, kind });
    }
    Ok(ar)
}

/// The resolved kinds of the policies in force.
#[derive(Default)]
pub struct Kinds {
    resolved: HashMap<(String, String), (Instant, Result<ApiResource, String>)>,
}

impl Kinds {
    /// Resolves every kind not yet resolved (and failures older than
    /// [`RETRY`]); returns the new failures, to be logged once each.
    pub async fn refresh<'a>(
        &mut self,
        client: &Client,
        targets: impl IntoIterator<Item = &'a TargetRef>,
    ) -> Vec<(TargetRef, String)> {
        let mut failed = Vec::new();
        for t in targets {
            let k = kind_of(t);
            let stale = match self.resolved.get(&k) {
                None => true,
                Some((at, r)) => r.is_err() && at.elapsed() >= RETRY,
            };
            if !stale {
                continue;
            }
            let r = resolve(client, t).await.map_err(|e| e.to_string());
            if let Err(e) = &r {
                failed.push((t.clone(), e.clone()));
            }
            self.resolved.insert(k, (Instant::now(), r));
        }
        failed
    }

    /// The resource of a target's kind, or why it cannot be scaled (None:
    /// not resolved yet).
    pub fn get(&self, t: &TargetRef) -> Option<Result<&ApiResource, &str>> {
        self.resolved
            .get(&kind_of(t))
            .map(|(_, r)| r.as_ref().map_err(String::as_str))
    }
}

/// A target's `/scale` as read.
#[derive(Clone, Debug)]
pub struct ScaleRead {
    pub replicas: i32,
    pub status_replicas: i32,
    /// `status.selector`: the label selector of the target's pods.
    pub selector: Option<String>,
    pub resource_version: String,
}

/// Reads `/scale` of `name`.
pub async fn read_scale(
    client: &Client,
    ar: &ApiResource,
    ns: &str,
    name: &str,
) -> Result<ScaleRead, kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, ar);
    let s = api.get_scale(name).await?;
    let status = s.status.as_ref();
    Ok(ScaleRead {
        replicas: s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
        status_replicas: status.map_or(0, |s| s.replicas),
        selector: status
            .and_then(|s| s.selector.clone())
            .filter(|s| !s.is_empty()),
        resource_version: s.metadata.resource_version.unwrap_or_default(),
    })
}
