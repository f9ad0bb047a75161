//! The dashboard on the controller's HTTP port: `/` (a page and its script
//! and style, embedded in the binary: nothing is fetched from elsewhere, and
//! the Content-Security-Policy says so), `/api/state?since=N` (the
//! [`Board`]'s targets changed after N, as JSON) and `/api/events` (the same
//! as server-sent events, pushed as the controller decides). Read-only.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;

use super::board::Board;

const PAGE: &str = include_str!("assets/dashboard.html");
const SCRIPT: &str = include_str!("assets/dashboard.js");
const STYLE: &str = include_str!("assets/dashboard.css");

/// Only this origin, no inline script: the page works air-gapped and loads nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Pushes are at most this frequent; changes in between arrive together.
const MIN_PUSH_INTERVAL: Duration = Duration::from_millis(200);

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

/// The page's routes, to merge into the port's router.
pub fn routes(board: Arc<Board>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/dashboard.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/dashboard.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/api/state",
            get(
                |State(b): State<Arc<Board>>, Query(q): Query<Since>| async move {
                    Json(b.update(q.since))
                },
            ),
        )
        .route("/api/events", get(events))
        .with_state(board)
}

/// Server-sent events: the first carries everything (or what changed after
/// the `Last-Event-ID` a reconnecting page sends), then one per change.
async fn events(
    State(board): State<Arc<Board>>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let since = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let rx = board.subscribe();
    // An id from before a restart: start over.
    let since = if since > *rx.borrow() { 0 } else { since };
    let stream = futures::stream::unfold(
        (board, rx, since, true),
        |(board, mut rx, since, first)| async move {
            if !first {
                tokio::time::sleep(MIN_PUSH_INTERVAL).await;
                while *rx.borrow_and_update() <= since {
                    rx.changed().await.ok()?;
                }
            }
            rx.borrow_and_update();
            let update = board.update(since);
            let seq = update.header.seq;
            let data = serde_json::to_string(&update).unwrap_or_else(|_| "{}".into());
            let event = Event::default()
                .event("update")
                .id(seq.to_string())
                .data(data);
            Some((Ok(event), (board, rx, seq, false)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
