//! An in-process Kubernetes API server for tests. It speaks the real REST/JSON
//! protocol over plain HTTP on 127.0.0.1, so that the real `kube::Client`
//! (through a generated kubeconfig) and the real `kubectl` talk to it as to a
//! cluster: discovery, list/get/create/replace/patch/delete with
//! resourceVersion preconditions, watches that replay from a resourceVersion,
//! the Deployment `/scale` and `/status` subresources, server-side Tables for
//! `kubectl get`, Status errors, and a minimal deployment controller that
//! keeps Ready pods and status in step with `spec.replicas`.
//!
//! Served: `apps/v1` deployments, `v1` pods, `v1` events and
//! `events.k8s.io/v1` events (one store, as on a cluster),
//! `coordination.k8s.io/v1` leases, `autoscaling/v2` horizontalpodautoscalers
//! (all namespaced), and the cluster-scoped `v1` namespaces: as on a cluster,
//! a client cannot write into a namespace that does not exist (`put` and
//! `ensure_namespace` create them; "default" and the kube-* ones exist).
//!
//! Tests also reach in directly: `put`/`get`/`delete` objects (with the same
//! resourceVersion bumps and watch events as a client write), read every
//! request received, and inject failures with `fail_next`.
//!
//! Include it with `#[path = "support/apiserver.rs"] mod apiserver;`.
#![allow(dead_code)]

#[path = "apiserver/controller.rs"]
mod controller;
#[path = "apiserver/errors.rs"]
mod errors;
#[path = "apiserver/http.rs"]
mod http;
#[path = "apiserver/patch.rs"]
mod patch;
#[path = "apiserver/resources.rs"]
mod resources;
#[path = "apiserver/selector.rs"]
mod selector;
#[path = "apiserver/store.rs"]
mod store;
#[path = "apiserver/strategy.rs"]
mod strategy;
#[path = "apiserver/table.rs"]
mod table;
#[path = "apiserver/watch.rs"]
mod watch;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use self::http::{lock, Fault, Shared};

/// One HTTP request the server received, with the status it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The URL path, without the query.
    pub path: String,
    /// The raw query string, without `?` (still percent-encoded).
    pub query: String,
    pub body: String,
    /// The response status (200 for a watch, whose stream may still be open).
    pub status: u16,
    pub user_agent: String,
}

impl Request {
    /// Anything other than GET/HEAD/OPTIONS (a watch is a GET).
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }

    /// Whether this is a watch (`watch=true`/`watch=1`, or a `/watch/` path).
    pub fn is_watch(&self) -> bool {
        self.query
            .split('&')
            .any(|p| p == "watch=true" || p == "watch=1")
            || self.path.contains("/watch/")
    }

    /// The identity a client named in its user agent's parentheses
    /// (`scalepilot/0.1 (a)` → `a`), or "".
    pub fn identity(&self) -> String {
        let inner = self.user_agent.split_once('(');
        let inner = inner.and_then(|(_, rest)| rest.strip_suffix(')'));
        inner.unwrap_or_default().to_string()
    }
}

/// A `/scale` write made by someone other than the holder of its target's
/// Lease at that point of the log.
#[derive(Debug)]
pub struct UnfencedWrite {
    pub target: String,
    pub writer: String,
    pub lease: String,
    /// None: the Lease was released or never written through the API.
    pub holder: Option<String>,
}

/// Replays `requests` in order: each successful Lease create or replace sets
/// that Lease's holder (none on release), and each successful `/scale` write
/// of a target whose Lease `lease_of` names must come from that holder.
/// Returns the writes that did not, and how many writes were checked.
pub fn unfenced_writes(
    requests: &[Request],
    lease_of: impl Fn(&str) -> Option<String>,
) -> (Vec<UnfencedWrite>, usize) {
    let mut holder: std::collections::HashMap<String, Option<String>> = Default::default();
    let (mut bad, mut checked) = (Vec::new(), 0);
    for r in requests.iter().filter(|r| r.is_write() && r.status < 300) {
        if r.path.contains("/leases") {
            let body: Value = serde_json::from_str(&r.body).unwrap_or_default();
            if let Some(name) = body["metadata"]["name"].as_str() {
                let who = body["spec"]["holderIdentity"].as_str();
                let who = who.filter(|w| !w.is_empty()).map(str::to_string);
                holder.insert(name.to_string(), who);
            }
            continue;
        }
        let target = r
            .path
            .strip_suffix("/scale")
            .and_then(|p| p.rsplit('/').next());
        let Some((target, lease)) = target.and_then(|t| Some((t, lease_of(t)?))) else {
            continue;
        };
        checked += 1;
        let held = holder.get(&lease).cloned().flatten();
        if held.as_deref() != Some(r.identity().as_str()) {
            bad.push(UnfencedWrite {
                target: target.to_string(),
                writer: r.identity(),
                lease,
                holder: held,
            });
        }
    }
    (bad, checked)
}

/// A running test API server. It runs on its own thread with its own tokio
/// runtime, so sync and async tests can both use it, and stops on drop.
pub struct TestApiServer {
    url: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestApiServer {
    /// Starts a server on 127.0.0.1 and a free port.
    pub fn start() -> TestApiServer {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the test API server");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared::new(addr.to_string()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server_state = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("test-apiserver-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("test API server runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
                        http::handle(server_state.clone(), req)
                    });
                    let server = std::future::IntoFuture::into_future(axum::serve(listener, app));
                    tokio::select! {
                        _ = server => {}
                        _ = rx => {}
                    }
                });
                // Drops open connections and watch streams.
                runtime.shutdown_background();
            })
            .expect("spawn the test API server thread");
        TestApiServer {
            url: format!("http://{addr}"),
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Writes a kubeconfig whose current context points at this server, with
    /// a token user and namespace "default".
    pub fn write_kubeconfig(&self, path: &Path) {
        let text = format!(
            "apiVersion: v1
kind: Config
clusters:
- name: test-apiserver
  cluster:
    server: {url}
users:
- name: test-user
  user:
    token: test-token
contexts:
- name: test
  context:
    cluster: test-apiserver
    user: test-user
    namespace: default
current-context: test
preferences: {{}}
",
            url = self.url
        );
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the kubeconfig's directory");
        }
        std::fs::write(path, text).expect("write the kubeconfig");
    }

    /// A `kube::Config` for this server (namespace "default"), without a
    /// kubeconfig file. `kube::Client::try_from(server.kube_config())` needs a
    /// tokio runtime.
    pub fn kube_config(&self) -> kube::Config {
        kube::Config::new(self.url.parse().expect("server URL"))
    }

    /// Creates or replaces an object directly (apiVersion, kind,
    /// metadata.namespace (default "default") and metadata.name decide
    /// where), bumping resourceVersion and sending the watch event a client
    /// write would; the deployment controller reacts as to a client write.
    /// Unlike a client write, status is stored as given and no precondition
    /// applies. Returns the stored object. Panics on an unserved kind.
    pub fn put(&self, obj: Value) -> Value {
        lock(&self.shared.store)
            .put(obj)
            .unwrap_or_else(|e| panic!("TestApiServer::put: {e}"))
    }

    /// `put` for another thread, usable after this server is moved or
    /// borrowed elsewhere (a writer outside the test, renewing a Lease).
    pub fn putter(&self) -> impl Fn(Value) -> Value + Send + 'static {
        let shared = self.shared.clone();
        move |obj| {
            lock(&shared.store)
                .put(obj)
                .unwrap_or_else(|e| panic!("TestApiServer::put: {e}"))
        }
    }

    pub fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let rt = resource(api_version, kind);
        lock(&self.shared.store).get(rt, ns, name).ok()
    }

    /// Every object of a kind, in one namespace or (None) all, sorted by
    /// namespace and name.
    pub fn list(&self, api_version: &str, kind: &str, ns: Option<&str>) -> Vec<Value> {
        let rt = resource(api_version, kind);
        lock(&self.shared.store).list(rt, ns, &selector::Selectors::default())
    }

    /// Deletes an object at once (finalizers ignored), with a DELETED watch
    /// event; its dependents (ownerReferences) are garbage-collected. No-op
    /// if absent.
    pub fn delete(&self, api_version: &str, kind: &str, ns: &str, name: &str) {
        let rt = resource(api_version, kind);
        lock(&self.shared.store).remove(rt, ns, name);
    }

    /// Creates a namespace if it is missing. Client writes into a namespace
    /// that does not exist fail with 404 `namespaces "x" not found`, as on a
    /// cluster; `put` creates the namespace of what it puts. "default",
    /// "kube-system", "kube-public" and "kube-node-lease" exist from the start.
    pub fn ensure_namespace(&self, name: &str) {
        lock(&self.shared.store).ensure_namespace(name);
    }

    /// The current (last written) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.store).resource_version()
    }

    /// Turns the built-in deployment controller (pods and status follow
    /// `spec.replicas`) on or off; on by default.
    pub fn set_deployment_controller(&self, on: bool) {
        lock(&self.shared.store).deployment_controller = on;
    }

    /// Every HTTP request received since start (or the last
    /// `clear_requests`), in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).list.clone()
    }

    /// How many requests `requests()` holds, and how many of those from
    /// index `from` on match `pred` (without copying the log).
    pub fn count_requests(&self, from: usize, pred: impl Fn(&Request) -> bool) -> (usize, usize) {
        let r = lock(&self.shared.requests);
        let tail = r.list.get(from..).unwrap_or_default();
        (r.list.len(), tail.iter().filter(|r| pred(r)).count())
    }

    pub fn clear_requests(&self) {
        let mut r = lock(&self.shared.requests);
        r.base += r.list.len();
        r.list.clear();
    }

    /// Waits (polling, up to `timeout`) for a received request that matches.
    pub fn wait_for_request(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&Request) -> bool,
    ) -> Option<Request> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.requests().into_iter().find(|r| pred(r)) {
                return Some(r);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Fault injection: the next `times` requests with this method (e.g.
    /// "PUT") whose path ends with `path_suffix` (e.g. "/deployments/web/scale")
    /// fail with a Status of code `status` (409 -> Conflict, 500 ->
    /// InternalError, ...) and have no effect.
    pub fn fail_next(&self, method: &str, path_suffix: &str, status: u16, times: usize) {
        lock(&self.shared.faults).push(Fault {
            method: method.to_string(),
            path_suffix: path_suffix.to_string(),
            status,
            remaining: times,
            delay: Duration::ZERO,
        });
    }

    /// The next `times` matching requests are answered `delay` late (and
    /// otherwise served normally).
    pub fn slow_next(&self, method: &str, path_suffix: &str, delay: Duration, times: usize) {
        lock(&self.shared.faults).push(Fault {
            method: method.to_string(),
            path_suffix: path_suffix.to_string(),
            status: 0,
            remaining: times,
            delay,
        });
    }

    /// Ends every open watch stream, as an API server restart does.
    pub fn drop_watches(&self) {
        self.shared.watch_epoch.send_modify(|e| *e += 1);
    }

    /// Compacts the watch history: a watch resuming from any resourceVersion
    /// seen so far gets 410 Gone (as after etcd compaction), and the client
    /// must list again.
    pub fn compact_history(&self) {
        let rv = lock(&self.shared.store).resource_version();
        self.shared
            .compacted_rv
            .store(rv + 1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn resource(api_version: &str, kind: &str) -> &'static resources::ResourceType {
    resources::by_kind(api_version, kind)
        .unwrap_or_else(|| panic!("the test API server does not serve {api_version} {kind}"))
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
