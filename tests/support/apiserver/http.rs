//! The HTTP side: one handler that records the request, applies injected
//! faults, routes the Kubernetes REST paths (discovery, collections, objects,
//! subresources) to the store and renders JSON, Table and metadata responses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use super::errors::ApiError;
use super::patch::{self, PatchType};
use super::resources::{self, ResourceType};
use super::selector::Selectors;
use super::store::{Store, Target};
use super::table::{self, Format, Include};
use super::watch::{self, WatchRequest};
use super::Request;

/// An injected fault: the next `remaining` matching requests wait `delay`,
/// then fail with `status` (0: are served normally, only late).
#[derive(Clone)]
pub struct Fault {
    pub method: String,
    pub path_suffix: String,
    pub status: u16,
    pub remaining: usize,
    pub delay: std::time::Duration,
}

/// Requests received; `base` counts the ones cleared, so that a request's
/// status can be filled in after `clear_requests`.
#[derive(Default)]
pub struct Requests {
    pub base: usize,
    pub list: Vec<Request>,
}

/// State shared by the server thread and the test's handle.
pub struct Shared {
    pub store: Mutex<Store>,
    pub requests: Mutex<Requests>,
    pub faults: Mutex<Vec<Fault>>,
    /// host:port, for `/api`'s serverAddressByClientCIDRs.
    pub address: String,
    /// Bumped to end every open watch (as an apiserver restart does).
    pub watch_epoch: tokio::sync::watch::Sender<u64>,
    /// Watches from a resourceVersion below this get 410 Gone (the history
    /// was compacted).
    pub compacted_rv: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub fn new(address: String) -> Shared {
        Shared {
            store: Mutex::new(Store::new()),
            requests: Mutex::new(Requests::default()),
            faults: Mutex::new(Vec::new()),
            address,
            watch_epoch: tokio::sync::watch::channel(0).0,
            compacted_rv: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

/// Locks, ignoring poisoning (a panicking test must not wedge the server).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One parsed request.
struct Ctx {
    method: String,
    query: HashMap<String, String>,
    accept: String,
    content_type: String,
    body: Vec<u8>,
}

impl Ctx {
    fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.q(key), Some("true") | Some("1"))
    }

    fn dry_run(&self) -> bool {
        self.q("dryRun") == Some("All")
    }

    /// The body of a POST or PUT, which must be JSON. (Typed client-go
    /// clients, e.g. `kubectl create deployment`, send protobuf: 415.)
    fn object_body(&self) -> Result<Value, ApiError> {
        let media = self.content_type.split(';').next().unwrap_or("").trim();
        if !(media.is_empty() || media == "application/json" || media.ends_with("+json")) {
            return Err(ApiError::new(
                415,
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json (this test server does not decode {media})"
                ),
            ));
        }
        self.json_body()
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body of the request could not be decoded as JSON: {e}"
            ))
        })
    }

    fn format(&self) -> Format {
        if self.accept.contains("as=Table") {
            Format::Table(Include::parse(self.q("includeObject")))
        } else if self.accept.contains("as=PartialObjectMetadata") {
            Format::Metadata
        } else {
            Format::Object
        }
    }

    fn selectors(&self) -> Result<Selectors, ApiError> {
        Selectors::parse(self.q("labelSelector"), self.q("fieldSelector"))
            .map_err(ApiError::bad_request)
    }
}

enum Reply {
    Json(u16, Value),
    Text(u16, String),
    Stream(Body),
    Error(ApiError),
}

impl Reply {
    fn status(&self) -> u16 {
        match self {
            Reply::Json(s, _) | Reply::Text(s, _) => *s,
            Reply::Stream(_) => 200,
            Reply::Error(e) => e.code,
        }
    }

    fn into_response(self) -> Response<Body> {
        let status = self.status();
        let (content_type, body) = match self {
            Reply::Json(_, v) => ("application/json", Body::from(v.to_string())),
            Reply::Error(e) => ("application/json", Body::from(e.to_status().to_string())),
            Reply::Text(_, t) => ("text/plain; charset=utf-8", Body::from(t)),
            Reply::Stream(b) => ("application/json", b),
        };
        let mut resp = Response::new(body);
        *resp.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if status == 429 {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

impl From<Result<Reply, ApiError>> for Reply {
    fn from(r: Result<Reply, ApiError>) -> Reply {
        r.unwrap_or_else(Reply::Error)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(percent_decode(k))
            .or_insert_with(|| percent_decode(v));
    }
    out
}

/// The axum handler for every path.
pub async fn handle(shared: Arc<Shared>, req: axum::extract::Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let body = axum::body::to_bytes(body, 64 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let index = {
        let mut r = lock(&shared.requests);
        r.list.push(Request {
            method: method.clone(),
            path: path.clone(),
            query: raw_query.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            status: 0,
            user_agent: header(header::USER_AGENT),
        });
        r.base + r.list.len() - 1
    };
    let ctx = Ctx {
        method: method.clone(),
        query: parse_query(&raw_query),
        accept: header(header::ACCEPT),
        content_type: header(header::CONTENT_TYPE),
        body,
    };
    let reply = match injected_fault(&shared, &method, &path) {
        Some((delay, err)) => {
            tokio::time::sleep(delay).await;
            match err {
                Some(err) => Reply::Error(err),
                None => route(&shared, &ctx, &path),
            }
        }
        None => route(&shared, &ctx, &path),
    };
    {
        let mut r = lock(&shared.requests);
        if let Some(i) = index.checked_sub(r.base) {
            if let Some(rec) = r.list.get_mut(i) {
                rec.status = reply.status();
            }
        }
    }
    reply.into_response()
}

/// The delay and the error (None: serve it) of the fault matching a request.
fn injected_fault(
    shared: &Shared,
    method: &str,
    path: &str,
) -> Option<(std::time::Duration, Option<ApiError>)> {
    let mut faults = lock(&shared.faults);
    let fault = faults.iter_mut().find(|f| {
        f.remaining > 0 && f.method.eq_ignore_ascii_case(method) && path.ends_with(&f.path_suffix)
    })?;
    fault.remaining -= 1;
    let (code, delay) = (fault.status, fault.delay);
    faults.retain(|f| f.remaining > 0);
    if code == 0 {
        return Some((delay, None));
    }
    let target = parse_resource_path(path);
    let rt = target.as_ref().and_then(|t| t.rt);
    let name = target.as_ref().and_then(|t| t.name.clone());
    Some((delay, Some(ApiError::injected(code, rt, name.as_deref()))))
}

/// A path under a served group version.
struct ResourcePath {
    rt: Option<&'static ResourceType>,
    watch_prefix: bool,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_resource_path(path: &str) -> Option<ResourcePath> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", "v1", rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
        _ => return None,
    };
    if !resources::is_group_version(group, version) {
        return None;
    }
    let (watch_prefix, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let served = |plural: &str| resources::by_path(group, version, plural);
    let (rt, ns, name, sub) = match rest {
        [plural] => (served(plural), None, None, None),
        ["namespaces", ns, plural, tail @ ..] if tail.len() <= 2 && served(plural).is_some() => {
            let rt = served(plural).filter(|rt| rt.namespaced);
            (rt, Some(*ns), tail.first().copied(), tail.get(1).copied())
        }
        [plural, name, tail @ ..] if tail.len() <= 1 => {
            let rt = served(plural).filter(|rt| !rt.namespaced);
            (rt, None, Some(*name), tail.first().copied())
        }
        _ => return None,
    };
    Some(ResourcePath {
        rt,
        watch_prefix,
        namespace: ns.map(String::from),
        name: name.map(String::from),
        sub: sub.map(String::from),
    })
}

fn route(shared: &Arc<Shared>, ctx: &Ctx, path: &str) -> Reply {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let discovery = match segs.as_slice() {
        ["version"] => Some(resources::version_doc()),
        ["api"] => Some(resources::core_versions_doc(&shared.address)),
        ["apis"] => Some(resources::group_list_doc()),
        ["api", "v1"] => resources::resource_list_doc("", "v1"),
        ["apis", g] => resources::api_group_doc(g),
        ["apis", g, v] => resources::resource_list_doc(g, v),
        ["healthz"] | ["livez"] | ["readyz"] => return Reply::Text(200, "ok".into()),
        _ => None,
    };
    if let Some(doc) = discovery {
        return match ctx.method.as_str() {
            "GET" | "HEAD" => Reply::Json(200, doc),
            _ => Reply::Error(ApiError::method_not_allowed()),
        };
    }
    match parse_resource_path(path) {
        Some(ResourcePath {
            rt: Some(rt),
            watch_prefix,
            namespace,
            name,
            sub,
        }) => {
            let watch = watch_prefix || ctx.flag("watch");
            if !rt.verbs().contains(&"create") && (ctx.method != "GET" || watch) {
                // A read-only API (metrics.k8s.io): no writes, no watches.
                return Reply::Error(ApiError::method_not_allowed());
            }
            let ns = namespace.as_deref();
            match (name.as_deref(), sub.as_deref()) {
                (None, _) => collection(shared, ctx, rt, ns, watch).into(),
                (Some(name), None) => object(shared, ctx, rt, ns.unwrap_or(""), name, watch).into(),
                (Some(name), Some(sub)) => {
                    subresource(shared, ctx, rt, ns.unwrap_or(""), name, sub).into()
                }
            }
        }
        _ => Reply::Error(ApiError::no_route()),
    }
}

fn collection(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    rt: &'static ResourceType,
    ns: Option<&str>,
    watch: bool,
) -> Result<Reply, ApiError> {
    match ctx.method.as_str() {
        "GET" if watch => start_watch(shared, ctx, rt, ns, None),
        "GET" => {
            let sel = ctx.selectors()?;
            let (items, rv) = {
                let store = lock(&shared.store);
                (
                    store.list(rt, ns, &sel),
                    store.resource_version().to_string(),
                )
            };
            Ok(Reply::Json(200, render_list(rt, &items, &rv, ctx.format())))
        }
        "POST" => {
            if rt.namespaced && ns.is_none() {
                return Err(ApiError::method_not_allowed());
            }
            let ns = ns.unwrap_or("");
            let body = ctx.object_body()?;
            let created = lock(&shared.store).create(rt, ns, body, ctx.dry_run())?;
            Ok(Reply::Json(201, created))
        }
        "DELETE" => {
            let sel = ctx.selectors()?;
            let options = delete_options(ctx)?;
            let (items, rv) = {
                let mut store = lock(&shared.store);
                let items = store.delete_collection(rt, ns, &sel, &options, ctx.dry_run())?;
                (items, store.resource_version().to_string())
            };
            Ok(Reply::Json(
                200,
                render_list(rt, &items, &rv, Format::Object),
            ))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn object(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    watch: bool,
) -> Result<Reply, ApiError> {
    let dry_run = ctx.dry_run();
    match ctx.method.as_str() {
        "GET" if watch => start_watch(shared, ctx, rt, Some(ns), Some(name)),
        "GET" => {
            let (obj, rv) = {
                let store = lock(&shared.store);
                (
                    store.get(rt, ns, name)?,
                    store.resource_version().to_string(),
                )
            };
            Ok(Reply::Json(
                200,
                render_one(Some(rt), obj, &rv, ctx.format()),
            ))
        }
        "PUT" => {
            let body = ctx.object_body()?;
            let obj = lock(&shared.store).update(rt, ns, name, body, Target::Main, dry_run)?;
            Ok(Reply::Json(200, obj))
        }
        "PATCH" => {
            let kind = patch_type(ctx)?;
            let body = ctx.json_body()?;
            let (obj, created) = lock(&shared.store).patch(
                rt,
                ns,
                name,
                kind,
                &body,
                Target::Main,
                ctx.q("fieldManager"),
                dry_run,
            )?;
            Ok(Reply::Json(if created { 201 } else { 200 }, obj))
        }
        "DELETE" => {
            let options = delete_options(ctx)?;
            let (obj, gone) = lock(&shared.store).delete(rt, ns, name, &options, dry_run)?;
            Ok(Reply::Json(if gone { 200 } else { 202 }, obj))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn subresource(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    sub: &str,
) -> Result<Reply, ApiError> {
    if !rt.has_subresource(sub) {
        return Err(ApiError::no_route());
    }
    let dry_run = ctx.dry_run();
    let mut store = lock(&shared.store);
    let rv = store.resource_version().to_string();
    match (sub, ctx.method.as_str()) {
        ("scale", "GET") => {
            let scale = store.get_scale(rt, ns, name)?;
            Ok(Reply::Json(200, render_one(None, scale, &rv, ctx.format())))
        }
        ("scale", "PUT") => {
            let body = ctx.object_body()?;
            Ok(Reply::Json(
                200,
                store.update_scale(rt, ns, name, &body, dry_run)?,
            ))
        }
        ("scale", "PATCH") => {
            let kind = patch_type(ctx)?;
            let body = ctx.json_body()?;
            Ok(Reply::Json(
                200,
                store.patch_scale(rt, ns, name, kind, &body, dry_run)?,
            ))
        }
        ("status", "GET") => {
            let obj = store.get(rt, ns, name)?;
            Ok(Reply::Json(
                200,
                render_one(Some(rt), obj, &rv, ctx.format()),
            ))
        }
        ("status", "PUT") => {
            let body = ctx.object_body()?;
            Ok(Reply::Json(
                200,
                store.update(rt, ns, name, body, Target::Status, dry_run)?,
            ))
        }
        ("status", "PATCH") => {
            let kind = patch_type(ctx)?;
            let body = ctx.json_body()?;
            let (obj, _) = store.patch(
                rt,
                ns,
                name,
                kind,
                &body,
                Target::Status,
                ctx.q("fieldManager"),
                dry_run,
            )?;
            Ok(Reply::Json(200, obj))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn patch_type(ctx: &Ctx) -> Result<PatchType, ApiError> {
    PatchType::from_content_type(&ctx.content_type).ok_or_else(|| {
        ApiError::new(
            415,
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                patch::ACCEPTED
            ),
        )
    })
}

/// DeleteOptions from the body, with the query's propagationPolicy.
fn delete_options(ctx: &Ctx) -> Result<Value, ApiError> {
    // A body that is not JSON (a typed client's protobuf) is taken as no options.
    let mut options: Value = serde_json::from_slice(&ctx.body).unwrap_or_else(|_| json!({}));
    if let Some(p) = ctx.q("propagationPolicy") {
        options["propagationPolicy"] = json!(p);
    }
    Ok(options)
}

/// A list in the negotiated format. Items of a typed list carry no
/// apiVersion/kind, as the real server sends them.
fn render_list(rt: &ResourceType, items: &[Value], rv: &str, format: Format) -> Value {
    match format {
        Format::Object => {
            let items: Vec<Value> = items
                .iter()
                .map(|o| {
                    let mut o = o.clone();
                    if let Some(m) = o.as_object_mut() {
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    o
                })
                .collect();
            json!({
                "kind": rt.list_kind(),
                "apiVersion": rt.api_version(),
                "metadata": {"resourceVersion": rv},
                "items": items,
            })
        }
        Format::Metadata => table::partial_metadata_list(items, rv),
        Format::Table(include) => table::table(Some(rt), items, rv, include),
    }
}

/// One object in the negotiated format; `rt` None for a Scale.
fn render_one(rt: Option<&ResourceType>, obj: Value, rv: &str, format: Format) -> Value {
    match format {
        Format::Object => obj,
        Format::Metadata => table::partial_metadata(&obj),
        Format::Table(include) => table::table(rt, &[obj], rv, include),
    }
}

fn start_watch(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    rt: &'static ResourceType,
    ns: Option<&str>,
    name: Option<&str>,
) -> Result<Reply, ApiError> {
    let mut selectors = ctx.selectors()?;
    if let Some(name) = name {
        selectors = selectors.with_name(name);
    }
    let start = watch::Start::parse(ctx.q("resourceVersion"), ctx.flag("sendInitialEvents"))?;
    let timeout = match ctx.q("timeoutSeconds") {
        Some(t) => Some(
            t.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
        ),
        None => None,
    };
    let req = WatchRequest {
        rt,
        namespace: ns.map(String::from),
        selectors,
        format: ctx.format(),
        bookmarks: ctx.flag("allowWatchBookmarks"),
        timeout: timeout.map(std::time::Duration::from_secs),
        start,
    };
    Ok(Reply::Stream(watch::stream(shared.clone(), req)))
}
