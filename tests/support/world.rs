//! The world of the controller tests: a test API server, a kubeconfig, a
//! policy folder and a topic; `scalepilot run` processes spawned into it;
//! load produced into the broker; and the RBAC requests the controllers made,
//! recorded for `scripts/chart-check.sh`. Include with `#[path]` beside the
//! `broker` and `apiserver` modules.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::process::Controller;

use super::apiserver::{self, TestApiServer};
use super::broker::{brokers, create_topic, root, unique};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::{json, Value};

pub const NS: &str = "shop";

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A policy for `name` with these metrics (YAML list items, indented four
/// spaces), ticking every second, scale-up unrestricted, and the scale-down
/// stabilization window given.
pub fn policy_with(name: &str, metrics: &str, down_window_s: u32) -> String {
    format!(
        "apiVersion: scalepilot.io/v1alpha1
kind: ScalingPolicy
metadata: {{name: {name}, namespace: {NS}}}
spec:
  target: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  minReplicas: 1
  maxReplicas: 20
  tickSeconds: 1
  metrics:
{metrics}  behavior:
    scaleUp: {{stabilizationWindowSeconds: 0, policies: [{{type: Pods, value: 100, periodSeconds: 1}}]}}
    scaleDown: {{stabilizationWindowSeconds: {down_window_s}, policies: [{{type: Pods, value: 100, periodSeconds: 1}}]}}
"
    )
}

/// External `http_requests` from the stream, as the rate over 2 s tumbling windows.
pub const HTTP_REQUESTS: &str = "    - type: External
      external:
        metric: {name: http_requests}
        target: {type: AverageValue, averageValue: \"10\"}
      stream: {window: 2s, aggregate: rate}
";

/// A policy: External `http_requests`, rate over 2 s tumbling windows,
/// 10 requests/s per replica; scale-down stabilization as given.
pub fn policy(name: &str, down_window_s: u32) -> String {
    policy_with(name, HTTP_REQUESTS, down_window_s)
}

pub fn deployment(name: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "web:1"}]}}
        }
    })
}

/// Produces `rate` requests per second for `target`, as samples stamped now,
/// every 100 ms, until dropped.
pub struct Load {
    pub rate: Arc<AtomicU64>,
    pub stop: Arc<AtomicBool>,
    pub thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    pub fn start(topic: &str, target: &str, rate: u64) -> Load {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("linger.ms", "5")
            // Kafka's default (Java) partitioner, which the shards follow.
            .set("partitioner", "murmur2_random")
            .create()
            .unwrap();
        let (rate, stop) = (
            Arc::new(AtomicU64::new(rate)),
            Arc::new(AtomicBool::new(false)),
        );
        let (r, s, topic, target) = (
            rate.clone(),
            stop.clone(),
            topic.to_string(),
            target.to_string(),
        );
        let thread = std::thread::spawn(move || {
            let mut i = 0u64;
            while !s.load(Ordering::Relaxed) {
                let per_tick = r.load(Ordering::Relaxed) as f64 / 10.0;
                let body = json!({"id": format!("{target}-{i}"), "ts": now_ms(), "target": target,
                    "metric": "http_requests", "value": per_tick});
                let payload = body.to_string();
                let _ = producer.send(BaseRecord::to(&topic).key(&target).payload(&payload));
                producer.poll(Duration::ZERO);
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = producer.flush(Duration::from_secs(5));
        });
        Load {
            rate,
            stop,
            thread: Some(thread),
        }
    }

    pub fn set(&self, rate: u64) {
        self.rate.store(rate, Ordering::Relaxed);
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A test world: API server, kubeconfig, policy folder and topic. On drop it
/// appends the RBAC permissions the controllers used to
/// `target/rbac-observed.jsonl` (see `rbac_attributes`).
pub struct World {
    pub server: TestApiServer,
    pub dir: PathBuf,
    pub topic: String,
    /// Controllers get `--brokers` (and the topic exists).
    pub broker: bool,
    /// The controllers' RBAC requests seen so far, kept across `clear_requests`.
    pub observed: RefCell<BTreeSet<RbacRequest>>,
}

impl World {
    pub fn new(name: &str, policy_text: &str) -> World {
        let mut w = World::without_broker(name, policy_text);
        create_topic(&w.topic, 3);
        w.broker = true;
        w
    }

    /// A world with no broker: controllers run without `--brokers`.
    pub fn without_broker(name: &str, policy_text: &str) -> World {
        let server = TestApiServer::start();
        server.ensure_namespace("scalepilot");
        let dir = std::env::temp_dir().join(unique(name));
        std::fs::create_dir_all(dir.join("policies")).unwrap();
        std::fs::write(dir.join("policies/web.yaml"), policy_text).unwrap();
        server.write_kubeconfig(&dir.join("kubeconfig"));
        let topic = unique("metrics");
        World {
            server,
            dir,
            topic,
            broker: false,
            observed: RefCell::new(BTreeSet::new()),
        }
    }

    /// Forgets the requests received so far, after noting the controllers'
    /// RBAC requests among them.
    pub fn clear_requests(&self) {
        self.note_rbac();
        self.server.clear_requests();
    }

    /// Notes the RBAC request of every request a controller process made
    /// (user agent `scalepilot/...`); discovery and other non-resource paths
    /// are not RBAC resources and are left out.
    pub fn note_rbac(&self) {
        let mut observed = self.observed.borrow_mut();
        for r in self.server.requests() {
            if !r.user_agent.starts_with("scalepilot/") {
                continue;
            }
            if let Some(mut a) = rbac_attributes(&r.method, &r.path, &r.query) {
                // Namespace and name matter for the Lease Role (one namespace,
                // resourceNames); everything else is granted cluster-wide.
                if !(a.api_group == "coordination.k8s.io" && a.resource == "leases") {
                    a.namespace = None;
                    a.name = None;
                }
                observed.insert(a);
            }
        }
    }

    pub fn spawn(&self, identity: &str, extra: &[&str]) -> Controller {
        self.spawn_in(identity, &unique("g"), extra)
    }

    /// A controller in consumer group `group` (shared by replicas that
    /// shard by partition).
    pub fn spawn_in(&self, identity: &str, group: &str, extra: &[&str]) -> Controller {
        let log = self.dir.join(format!("{identity}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scalepilot"));
        cmd.args(["--log", "scalepilot=info", "run", "--policies"])
            .arg(self.dir.join("policies"));
        if self.broker {
            cmd.args(["--brokers", &brokers()]);
        }
        let child = cmd
            .args(["--topic", &self.topic, "--group", group])
            .args(["--checkpoint-topic", &format!("{}.cp", self.topic)])
            .args(["--identity", identity, "--lease-namespace", "scalepilot"])
            .args([
                "--lease-duration",
                "4s",
                "--renew-deadline",
                "3s",
                "--retry-period",
                "1s",
            ])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--allowed-lateness",
                "1s",
                "--session-timeout",
                "3s",
            ])
            .args(extra)
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Controller { child, log }
    }

    pub fn replicas(&self, name: &str) -> i64 {
        self.server
            .get("apps/v1", "Deployment", NS, name)
            .and_then(|d| d["spec"]["replicas"].as_i64())
            .unwrap_or(-1)
    }

    /// Waits until the Deployment has `want` replicas; returns when it did.
    pub fn wait_replicas(
        &self,
        name: &str,
        want: i64,
        within: Duration,
        who: &[&Controller],
    ) -> Instant {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.replicas(name) == want {
                return Instant::now();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        for c in who {
            eprintln!(
                "--- {}:\n{}",
                c.log.display(),
                std::fs::read_to_string(&c.log).unwrap_or_default()
            );
        }
        panic!(
            "{name} did not reach {want} replicas within {within:?} (has {})",
            self.replicas(name)
        );
    }

    /// `scalepilot status --output json` on this world's policies, by target.
    pub fn status(&self) -> std::collections::BTreeMap<String, Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_scalepilot"))
            .args(["status", "--output", "json", "--policies"])
            .arg(self.dir.join("policies"))
            .arg("--kubeconfig")
            .arg(self.dir.join("kubeconfig"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "status failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (v["target"].as_str().unwrap().to_string(), v)
            })
            .collect()
    }

    pub fn scale_writes(&self) -> Vec<apiserver::Request> {
        self.writes()
            .into_iter()
            .filter(|r| r.path.ends_with("/scale"))
            .collect()
    }

    /// Every write request the server saw (of any resource).
    pub fn writes(&self) -> Vec<apiserver::Request> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.is_write())
            .collect()
    }
}

impl Drop for World {
    /// Appends the RBAC requests the controllers made, one JSON object a
    /// line, to `target/rbac-observed.jsonl`, for `scripts/chart-check.sh` to
    /// check against the chart's Role and ClusterRole. Never panics (this may
    /// run while a failed test unwinds).
    fn drop(&mut self) {
        self.note_rbac();
        let text: String = self
            .observed
            .borrow()
            .iter()
            .map(|a| {
                let mut line = json!({
                    "apiGroup": a.api_group,
                    "resource": a.resource,
                    "verb": a.verb,
                    "namespace": a.namespace,
                });
                if let Some(name) = &a.name {
                    line["name"] = json!(name);
                }
                format!("{line}\n")
            })
            .collect();
        let path = root().join("target/rbac-observed.jsonl");
        let appended = std::fs::create_dir_all(root().join("target")).and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?
                .write_all(text.as_bytes())
        });
        if let Err(e) = appended {
            eprintln!("could not append to {}: {e}", path.display());
        }
    }
}

/// What RBAC authorizes a resource request by, as the API server's
/// request-info resolver (k8s.io/apiserver `RequestInfoFactory`) derives it
/// from the method, path and query.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RbacRequest {
    pub api_group: String,
    /// With the subresource: `deployments/scale`.
    pub resource: String,
    pub verb: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// The RBAC attributes of a request, or None for a path that is no RBAC
/// resource (discovery: `/api`, `/apis`, `/apis/{group}`, group-version roots;
/// `/version`, `/openapi/...`, `/healthz` and the like).
///
/// Paths: `/api/v1/...` (group "") and `/apis/{group}/{version}/...`, then
/// optionally `watch/` (the deprecated watch paths), then optionally
/// `namespaces/{ns}/`, then `{resource}[/{name}[/{subresource}]]`.
/// `/api/v1/namespaces/{name}[/status|/finalize]` is the namespace itself.
/// Verbs: GET/HEAD on a name `get`, on a collection `list`, or `watch` with
/// `watch=true`/`watch=1`; POST `create`, PUT `update`, PATCH `patch`, DELETE
/// `delete` on a name and `deletecollection` on a collection.
pub fn rbac_attributes(method: &str, path: &str, query: &str) -> Option<RbacRequest> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_group, mut rest) = match parts.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    if rest.is_empty() || rest[0].is_empty() {
        return None; // a group-version root: discovery
    }
    let watch_path = rest[0] == "watch";
    if watch_path {
        rest = &rest[1..];
    }
    let mut namespace = None;
    if rest.len() > 1 && rest[0] == "namespaces" {
        namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
            rest = &rest[2..];
        }
    }
    let (resource, name) = match rest {
        [] => return None,
        [resource] => (resource.to_string(), None),
        [resource, name] => (resource.to_string(), Some(name.to_string())),
        [resource, name, sub, ..] => (format!("{resource}/{sub}"), Some(name.to_string())),
    };
    let watch_query = query.split('&').any(|p| {
        p.split_once('=')
            .is_some_and(|(k, v)| k == "watch" && (v == "1" || v.eq_ignore_ascii_case("true")))
    });
    let verb = match method {
        _ if watch_path => "watch".to_string(),
        "GET" | "HEAD" if name.is_some() => "get".to_string(),
        "GET" | "HEAD" if watch_query => "watch".to_string(),
        "GET" | "HEAD" => "list".to_string(),
        "POST" => "create".to_string(),
        "PUT" => "update".to_string(),
        "PATCH" => "patch".to_string(),
        "DELETE" if name.is_some() => "delete".to_string(),
        "DELETE" => "deletecollection".to_string(),
        other => other.to_ascii_lowercase(),
    };
    Some(RbacRequest {
        api_group: api_group.to_string(),
        resource,
        verb,
        namespace,
        name,
    })
}

pub fn identity_of(r: &apiserver::Request) -> String {
    r.identity()
}
