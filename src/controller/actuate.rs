//! Writing decisions to Kubernetes, idempotently and fenced: read `/scale`,
//! write only when the desired count differs, write the absolute count with
//! the resourceVersion that was read as a precondition (a writer that acted on
//! stale state gets 409 and recomputes), field manager `scalepilot`. After a
//! write: the decision and the history in annotations, and an Event (see
//! `events`).
//!
//! Dry-run gets a client whose transport refuses every method but GET and
//! HEAD: a write cannot reach the API server whatever the code above does.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::client::{Body, ClientBuilder};
use kube::core::ApiResource;
use kube::{Client, Config};
use serde::Serialize;

use super::events::Events;
use super::targets::{read_scale, ScaleRead};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "scalepilot";
/// The annotation with the last decision.
pub const LAST_DECISION: &str = "scalepilot.io/last-decision";
/// `"true"` stops every write to the target.
pub const PAUSED: &str = "scalepilot.io/paused";

/// A client for `config`: one that can only read when `read_only` (dry-run),
/// and with at most `limit` requests in flight when given (tower's
/// `ConcurrencyLimit`: a request waits for a permit, held until its response
/// arrives or it is dropped; the client's clones share the permits).
pub fn client(
    config: Config,
    read_only: bool,
    limit: Option<usize>,
) -> Result<Client, kube::Error> {
    let builder = ClientBuilder::try_from(config)?;
    let limit = tower::util::option_layer(limit.map(tower::limit::ConcurrencyLimitLayer::new));
    if !read_only {
        return Ok(builder.with_layer(&limit).build());
    }
    let refuse_writes = tower::filter::FilterLayer::new(|req: http::Request<Body>| {
        if matches!(*req.method(), http::Method::GET | http::Method::HEAD) {
            Ok(req)
        } else {
            Err(format!(
                "dry-run: refusing {} {}",
                req.method(),
                req.uri().path()
            ))
        }
    });
    Ok(builder
        .with_layer(&refuse_writes)
        .with_layer(&limit)
        .build())
}

/// What the last decision annotation says.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastDecision<'a> {
    pub time: String,
    pub replicas: i32,
    pub from: i32,
    pub reason: &'a str,
    pub decision_id: &'a str,
    pub leader: &'a str,
}

/// Reads and writes the targets (any kind with `/scale`).
pub struct Actuator {
    pub client: Client,
    events: Events,
}

impl Actuator {
    pub fn new(client: Client, identity: String) -> Self {
        Actuator {
            events: Events::new(client.clone(), FIELD_MANAGER.into(), identity),
            client,
        }
    }

    fn targets(&self, ar: &ApiResource, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, ar)
    }

    pub async fn read_scale(
        &self,
        ar: &ApiResource,
        ns: &str,
        name: &str,
    ) -> Result<ScaleRead, kube::Error> {
        read_scale(&self.client, ar, ns, name).await
    }

    /// Whether the target is paused now, read from the API server (not the
    /// watch: a write must honour a pause its watch has not delivered yet).
    pub async fn is_paused(
        &self,
        ar: &ApiResource,
        ns: &str,
        name: &str,
    ) -> Result<bool, kube::Error> {
        let d = self.targets(ar, ns).get(name).await?;
        Ok(d.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(PAUSED))
            .is_some_and(|v| v == "true"))
    }

    /// Writes `replicas` with the precondition that the target is still at
    /// `resource_version`.
    pub async fn write_scale(
        &self,
        ar: &ApiResource,
        ns: &str,
        name: &str,
        resource_version: &str,
        replicas: i32,
    ) -> Result<(), kube::Error> {
        let scale = Scale {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(ns.to_string()),
                resource_version: Some(resource_version.to_string()),
                ..ObjectMeta::default()
            },
            spec: Some(ScaleSpec {
                replicas: Some(replicas),
            }),
            status: None,
        };
        let pp = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        self.targets(ar, ns)
            .replace_scale(name, &pp, &scale)
            .await?;
        Ok(())
    }

    /// Records the decision and the history on the target (merge patch).
    pub async fn annotate(
        &self,
        ar: &ApiResource,
        ns: &str,
        name: &str,
        annotations: BTreeMap<&str, String>,
    ) -> Result<(), kube::Error> {
        let patch = serde_json::json!({"metadata": {"annotations": annotations}});
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        self.targets(ar, ns)
            .patch(name, &pp, &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Records an Event on the target (a repeat of the same reason within 6
    /// minutes counts into the same Event's series; see `events`).
    pub async fn event(
        &self,
        ar: &ApiResource,
        object: &DynamicObject,
        warning: bool,
        reason: &str,
        note: String,
    ) -> Result<(), kube::Error> {
        let regarding = ObjectReference {
            api_version: Some(ar.api_version.clone()),
            kind: Some(ar.kind.clone()),
            name: object.metadata.name.clone(),
            namespace: object.metadata.namespace.clone(),
            uid: object.metadata.uid.clone(),
            ..ObjectReference::default()
        };
        self.events.publish(&regarding, warning, reason, note).await
    }
}
