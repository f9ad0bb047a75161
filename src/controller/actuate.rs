//! Writing decisions to Kubernetes, idempotently and fenced: read `/scale`,
//! write only when the desired count differs, write the absolute count with
//! the resourceVersion that was read as a precondition (a writer that acted on
//! stale state gets 409 and recomputes), field manager `scalepilot`. After a
//! write: the decision and the history in annotations, and an Event.
//!
//! Dry-run gets a client whose transport refuses every method but GET and
//! HEAD: a write cannot reach the API server whatever the code above does.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time as K8sTime};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::client::{Body, ClientBuilder};
use kube::{Client, Config};
use serde::Serialize;

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "scalepilot";
/// The annotation with the last decision.
pub const LAST_DECISION: &str = "scalepilot.io/last-decision";
/// `"true"` stops every write to the Deployment.
pub const PAUSED: &str = "scalepilot.io/paused";

/// A client that can only read (dry-run).
pub fn read_only_client(config: Config) -> Result<Client, kube::Error> {
    let layer = tower::filter::FilterLayer::new(|req: http::Request<Body>| {
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
    Ok(ClientBuilder::try_from(config)?.with_layer(&layer).build())
}

/// The `/scale` of a Deployment as read.
#[derive(Clone, Debug)]
pub struct ScaleRead {
    pub replicas: i32,
    pub status_replicas: i32,
    pub resource_version: String,
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

/// Reads and writes one namespace's Deployments.
pub struct Actuator {
    pub client: Client,
    pub identity: String,
}

impl Actuator {
    fn deployments(&self, ns: &str) -> Api<k8s_openapi::api::apps::v1::Deployment> {
        Api::namespaced(self.client.clone(), ns)
    }

    pub async fn read_scale(&self, ns: &str, name: &str) -> Result<ScaleRead, kube::Error> {
        let s = self.deployments(ns).get_scale(name).await?;
        Ok(ScaleRead {
            replicas: s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
            status_replicas: s.status.as_ref().map_or(0, |s| s.replicas),
            resource_version: s.metadata.resource_version.unwrap_or_default(),
        })
    }

    /// Whether the Deployment is paused now, read from the API server (not
    /// the watch: a write must honour a pause its watch has not delivered yet).
    pub async fn is_paused(&self, ns: &str, name: &str) -> Result<bool, kube::Error> {
        let d = self.deployments(ns).get(name).await?;
        Ok(d.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(PAUSED))
            .is_some_and(|v| v == "true"))
    }

    /// Writes `replicas` with the precondition that the Deployment is still at
    /// `resource_version`.
    pub async fn write_scale(
        &self,
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
        self.deployments(ns)
            .replace_scale(name, &pp, &scale)
            .await?;
        Ok(())
    }

    /// Records the decision and the history on the Deployment (merge patch).
    pub async fn annotate(
        &self,
        ns: &str,
        name: &str,
        annotations: BTreeMap<&str, String>,
    ) -> Result<(), kube::Error> {
        let patch = serde_json::json!({"metadata": {"annotations": annotations}});
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        self.deployments(ns)
            .patch(name, &pp, &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Records an Event on the Deployment (`Normal` or `Warning`).
    pub async fn event(
        &self,
        ns: &str,
        name: &str,
        uid: Option<String>,
        kind: &str,
        reason: &str,
        message: String,
    ) -> Result<(), kube::Error> {
        let now = k8s_openapi::jiff::Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                // client-go's naming: the object's name and the time in hex nanoseconds.
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(ns.to_string()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("apps/v1".into()),
                kind: Some("Deployment".into()),
                name: Some(name.to_string()),
                namespace: Some(ns.to_string()),
                uid,
                ..ObjectReference::default()
            },
            reason: Some(reason.to_string()),
            message: Some(message),
            type_: Some(kind.to_string()),
            source: Some(EventSource {
                component: Some(FIELD_MANAGER.into()),
                host: None,
            }),
            reporting_component: Some(FIELD_MANAGER.into()),
            reporting_instance: Some(self.identity.clone()),
            first_timestamp: Some(K8sTime(now)),
            last_timestamp: Some(K8sTime(now)),
            count: Some(1),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), ns);
        api.create(&PostParams::default(), &event).await?;
        Ok(())
    }
}
