//! A minimal workload controller (standing in for the Deployment, ReplicaSet
//! and StatefulSet controllers, Argo Rollouts' and a kubelet): after every
//! client write to a Deployment, StatefulSet or Rollout it keeps pods
//! `{name}-{index}` for `spec.replicas` (Running and Ready at once) and writes
//! the status the real controller would once they are all available (a
//! Rollout's includes `status.selector`, which its `/scale` reports). It runs
//! synchronously, inside the write that triggered it, so tests see a settled
//! state as soon as the write returns.

use serde_json::{json, Value};

use super::selector::render_label_selector;
use super::store::{meta_str, now_rfc3339, owned_by, EventType, Key, Store};

impl Store {
    pub fn reconcile_workload(&mut self, storage: &'static str, ns: &str, name: &str) {
        let dkey: Key = (storage, ns.to_string(), name.to_string());
        let Some(dep) = self.stored(&dkey).cloned() else {
            return;
        };
        if dep.pointer("/metadata/deletionTimestamp").is_some() {
            return;
        }
        let replicas = dep
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0);
        let uid = meta_str(&dep, "uid").to_string();

        // Pods: scale down from the highest index, then create the missing ones.
        let desired: Vec<String> = (0..replicas).map(|i| format!("{name}-{i}")).collect();
        // The workload's pods are named NAME-INDEX.
        let prefix = format!("{name}-");
        let mut extra: Vec<(Key, Value)> = self
            .stored_named("pods", ns, &prefix)
            .filter(|(k, o)| owned_by(o, &uid) && !desired.contains(&k.2))
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        extra.sort_by_key(|(k, _)| std::cmp::Reverse(pod_index(&k.2)));
        for (k, pod) in extra {
            self.commit(k, EventType::Deleted, pod, None);
        }
        for pod_name in &desired {
            let k: Key = ("pods", ns.to_string(), pod_name.clone());
            if self.stored(&k).is_none() {
                let pod = self.make_pod(&dep, pod_name);
                self.commit(k, EventType::Added, pod, None);
            }
        }

        // Status, as the controller writes it once the rollout is complete.
        let mut status = dep
            .get("status")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        for field in [
            "replicas",
            "readyReplicas",
            "availableReplicas",
            "updatedReplicas",
        ] {
            // int32 fields with omitempty: zero is not serialized.
            if replicas > 0 {
                status[field] = json!(replicas);
            } else if let Some(m) = status.as_object_mut() {
                m.remove(field);
            }
        }
        if let Some(m) = status.as_object_mut() {
            m.remove("unavailableReplicas");
        }
        status["observedGeneration"] = dep
            .pointer("/metadata/generation")
            .cloned()
            .unwrap_or(json!(1));
        if storage == "rollouts.argoproj.io" {
            status["selector"] = json!(dep
                .pointer("/spec/selector")
                .map(render_label_selector)
                .unwrap_or_default());
        }
        if storage == "deployments.apps" && status.get("conditions").is_none() {
            let now = now_rfc3339();
            status["conditions"] = json!([
                {
                    "type": "Available", "status": "True",
                    "lastUpdateTime": now, "lastTransitionTime": now,
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability."
                },
                {
                    "type": "Progressing", "status": "True",
                    "lastUpdateTime": now, "lastTransitionTime": now,
                    "reason": "NewReplicaSetAvailable",
                    "message": format!("ReplicaSet \"{name}\" has successfully progressed.")
                }
            ]);
        }
        if dep.get("status") != Some(&status) {
            let mut new = dep.clone();
            new["status"] = status;
            self.commit(dkey, EventType::Modified, new, Some(dep));
        }
    }

    /// A Running, Ready pod for a workload, from its pod template.
    fn make_pod(&mut self, dep: &Value, pod_name: &str) -> Value {
        let now = now_rfc3339();
        let mut labels = dep
            .pointer("/spec/selector/matchLabels")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        if let Some(tl) = dep
            .pointer("/spec/template/metadata/labels")
            .and_then(Value::as_object)
        {
            for (k, v) in tl {
                labels[k] = v.clone();
            }
        }
        let mut containers: Vec<Value> = dep
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if containers.is_empty() {
            containers.push(json!({"name": "app", "image": "registry.k8s.io/pause:3.10"}));
        }
        for c in &mut containers {
            if c.pointer("/resources/requests/cpu").is_none() {
                if !c.get("resources").is_some_and(Value::is_object) {
                    c["resources"] = json!({});
                }
                if !c["resources"].get("requests").is_some_and(Value::is_object) {
                    c["resources"]["requests"] = json!({});
                }
                c["resources"]["requests"]["cpu"] = json!("100m");
            }
        }
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                json!({
                    "name": c.get("name").cloned().unwrap_or(json!("app")),
                    "image": c.get("image").cloned().unwrap_or(json!("")),
                    "imageID": "",
                    "containerID": format!("containerd://{:016x}", self.random()),
                    "ready": true,
                    "started": true,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                })
            })
            .collect();
        let condition = |ty: &str| json!({"type": ty, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
        let ip = format!("10.244.{}.{}", self.random() % 200, 2 + self.random() % 250);
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": meta_str(dep, "namespace"),
                "uid": self.new_uid(),
                "creationTimestamp": now,
                "generation": 1,
                "labels": labels,
                "ownerReferences": [{
                    "apiVersion": dep.get("apiVersion").cloned().unwrap_or(json!("apps/v1")),
                    "kind": dep.get("kind").cloned().unwrap_or(json!("Deployment")),
                    "name": meta_str(dep, "name"),
                    "uid": meta_str(dep, "uid"),
                    "controller": true,
                    "blockOwnerDeletion": true,
                }],
            },
            "spec": {
                "containers": containers,
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "serviceAccountName": "default",
                "nodeName": "test-node",
                "schedulerName": "default-scheduler",
            },
            "status": {
                "phase": "Running",
                "conditions": [
                    condition("PodReadyToStartContainers"),
                    condition("Initialized"),
                    condition("Ready"),
                    condition("ContainersReady"),
                    condition("PodScheduled"),
                ],
                "hostIP": "10.0.0.1",
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "startTime": now,
                "containerStatuses": statuses,
                "qosClass": "Burstable",
            },
        })
    }
}

fn pod_index(name: &str) -> i64 {
    name.rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1)
}
