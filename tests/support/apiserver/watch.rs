//! Watches: a chunked stream of newline-delimited `{"type","object"}` events.
//! Each watch keeps a cursor into the store's change log, so that a watch from
//! resourceVersion X first replays every logged change newer than X and then
//! follows live ones; a watch from "" or "0" starts with ADDED for every
//! current object. Bookmarks (about every second when allowed, and right
//! after the replay or initial events), timeoutSeconds, and selectors
//! (an object leaving the selection is a DELETED, entering it an ADDED) work
//! as on the real server.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::{json, Value};
use tokio::sync::watch as notify;
use tokio::time::Instant;

use super::errors::ApiError;
use super::http::{lock, Shared};
use super::resources::ResourceType;
use super::selector::Selectors;
use super::store::{EventType, LogEvent, Store};
use super::table::{self, Format};

const BOOKMARK_INTERVAL: Duration = Duration::from_secs(1);

/// Where a watch starts.
#[derive(Clone, Copy, Debug)]
pub enum Start {
    /// Replay changes newer than this resourceVersion, then follow.
    After(u64),
    /// ADDED for every current object, then follow ("" or "0").
    Current,
    /// `sendInitialEvents=true`: like `Current`, then a bookmark annotated
    /// `k8s.io/initial-events-end`.
    InitialEvents,
}

impl Start {
    pub fn parse(rv: Option<&str>, send_initial_events: bool) -> Result<Start, ApiError> {
        if send_initial_events {
            return Ok(Start::InitialEvents);
        }
        match rv.unwrap_or("") {
            "" | "0" => Ok(Start::Current),
            rv => rv
                .parse()
                .map(Start::After)
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}"))),
        }
    }
}

pub struct WatchRequest {
    pub rt: &'static ResourceType,
    pub namespace: Option<String>,
    pub selectors: Selectors,
    pub format: Format,
    pub bookmarks: bool,
    pub timeout: Option<Duration>,
    pub start: Start,
}

struct WatchState {
    shared: Arc<Shared>,
    req: WatchRequest,
    cursor: u64,
    pending: VecDeque<Bytes>,
    rx: notify::Receiver<u64>,
    /// Changes when the server drops every watch.
    epoch: notify::Receiver<u64>,
    deadline: Option<Instant>,
    next_bookmark: Instant,
    caught_up: bool,
}

/// The streaming body of a watch.
pub fn stream(shared: Arc<Shared>, req: WatchRequest) -> Body {
    let mut pending = VecDeque::new();
    let compacted = shared
        .compacted_rv
        .load(std::sync::atomic::Ordering::SeqCst);
    if let Start::After(rv) = req.start {
        if rv < compacted {
            // As the real server: 200, then one ERROR event with 410 Gone.
            let status =
                ApiError::new(410, format!("too old resource version: {rv} ({compacted})"));
            let chunk = line("ERROR", status.to_status());
            return Body::from_stream(futures::stream::iter([Ok::<_, Infallible>(chunk)]));
        }
    }
    let mut epoch = shared.watch_epoch.subscribe();
    epoch.borrow_and_update();
    let (cursor, rx) = {
        let store = lock(&shared.store);
        let rx = store.subscribe();
        match req.start {
            Start::After(rv) => (rv, rx),
            Start::Current | Start::InitialEvents => {
                let rv = store.resource_version();
                for obj in store.list(req.rt, req.namespace.as_deref(), &req.selectors) {
                    pending.push_back(line("ADDED", render(&req, obj, rv)));
                }
                if let (Start::InitialEvents, true) = (req.start, req.bookmarks) {
                    pending.push_back(bookmark(&req, rv, true));
                }
                (rv, rx)
            }
        }
    };
    let now = Instant::now();
    let state = WatchState {
        deadline: req.timeout.map(|t| now + t),
        next_bookmark: now + BOOKMARK_INTERVAL,
        caught_up: matches!(req.start, Start::InitialEvents),
        shared,
        req,
        cursor,
        pending,
        rx,
        epoch,
    };
    Body::from_stream(futures::stream::unfold(state, next_chunk))
}

async fn next_chunk(mut st: WatchState) -> Option<(Result<Bytes, Infallible>, WatchState)> {
    loop {
        if st.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        if st.epoch.has_changed().unwrap_or(true) {
            return None; // dropped: deliver nothing more
        }
        if let Some(chunk) = st.pending.pop_front() {
            return Some((Ok(chunk), st));
        }
        // Mark the notification seen before reading the log, so that a write
        // landing in between wakes the wait below.
        st.rx.borrow_and_update();
        {
            let store = lock(&st.shared.store);
            drain(&store, &st.req, &mut st.cursor, &mut st.pending);
        }
        if !st.pending.is_empty() {
            continue;
        }
        if !st.caught_up {
            st.caught_up = true;
            if st.req.bookmarks {
                st.pending.push_back(bookmark(&st.req, st.cursor, false));
                st.next_bookmark = Instant::now() + BOOKMARK_INTERVAL;
            }
            continue;
        }
        let far = Instant::now() + Duration::from_secs(24 * 3600);
        let bookmark_at = if st.req.bookmarks {
            st.next_bookmark
        } else {
            far
        };
        let deadline = st.deadline.unwrap_or(far);
        tokio::select! {
            changed = st.rx.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
            _ = tokio::time::sleep_until(bookmark_at) => {
                st.pending.push_back(bookmark(&st.req, st.cursor, false));
                st.next_bookmark = Instant::now() + BOOKMARK_INTERVAL;
            }
            _ = tokio::time::sleep_until(deadline) => return None,
            _ = st.epoch.changed() => return None,
        }
    }
}

/// Moves the logged changes after `cursor` that this watch sees into `pending`.
fn drain(store: &Store, req: &WatchRequest, cursor: &mut u64, pending: &mut VecDeque<Bytes>) {
    for ev in store.events_after(*cursor) {
        *cursor = ev.rv;
        if let Some((ty, obj)) = visible(req, ev) {
            pending.push_back(line(ty, render(req, obj, ev.rv)));
        }
    }
}

/// How a change looks to this watch, if it sees it at all.
fn visible(req: &WatchRequest, ev: &LogEvent) -> Option<(&'static str, Value)> {
    if ev.storage != req.rt.storage {
        return None;
    }
    if req.namespace.as_ref().is_some_and(|ns| *ns != ev.namespace) {
        return None;
    }
    let obj = req.rt.to_view(&ev.object);
    let now_in = req.selectors.matches(&obj);
    match ev.ty {
        EventType::Added | EventType::Deleted => now_in.then_some((ev.ty.as_str(), obj)),
        EventType::Modified => {
            let prev = ev.prev.as_ref().map(|p| req.rt.to_view(p));
            let was_in = prev.as_ref().map_or(now_in, |p| req.selectors.matches(p));
            match (was_in, now_in) {
                (true, true) => Some(("MODIFIED", obj)),
                (false, true) => Some(("ADDED", obj)),
                (true, false) => {
                    // Left the selection: the previous state, at this change's version.
                    let mut prev = prev.unwrap_or(obj);
                    prev["metadata"]["resourceVersion"] = json!(ev.rv.to_string());
                    Some(("DELETED", prev))
                }
                (false, false) => None,
            }
        }
    }
}

fn render(req: &WatchRequest, obj: Value, rv: u64) -> Value {
    match req.format {
        Format::Object => obj,
        Format::Metadata => table::partial_metadata(&obj),
        Format::Table(include) => table::table(Some(req.rt), &[obj], &rv.to_string(), include),
    }
}

fn bookmark(req: &WatchRequest, rv: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let object = match req.format {
        Format::Object => json!({
            "kind": req.rt.kind,
            "apiVersion": req.rt.api_version(),
            "metadata": metadata,
        }),
        Format::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata,
        }),
        Format::Table(_) => json!({
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata,
            "columnDefinitions": [],
            "rows": [],
        }),
    };
    line("BOOKMARK", object)
}

fn line(ty: &str, object: Value) -> Bytes {
    let mut bytes = serde_json::to_vec(&json!({"type": ty, "object": object})).expect("json");
    bytes.push(b'\n');
    Bytes::from(bytes)
}
