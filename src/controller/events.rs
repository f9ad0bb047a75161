//! Kubernetes Events on the targets (events.k8s.io/v1), written as kube's
//! `Recorder` writes them: a new Event, and while the same type and reason
//! repeat on the same object within 6 minutes, a merge patch that counts the
//! repeat in the Event's `series` (and carries the latest note, so `kubectl
//! describe` shows why the last change happened).
//!
//! Unlike the `Recorder`, the memory of recent Events is small and bounded:
//! per (object, type, reason) only the Event's name, its count and when it was
//! last seen, swept once a minute, and at most [`MAX_RECENT`] of them (past
//! that, a repeat is a new Event). The `Recorder` keeps a whole copy of every
//! Event for 6 minutes and scans all of them on every publish, under one lock:
//! at 10 000 targets, tens of MB and a full scan per write.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;

/// How long a repeat still counts into the same Event (kube's and client-go's 6 minutes).
pub const SERIES_TTL: Duration = Duration::from_secs(360);
/// How often stale entries are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The most (object, type, reason) entries remembered.
pub const MAX_RECENT: usize = 100_000;

/// The Event a key last went to.
struct Last {
    name: String,
    count: i32,
    seen: Instant,
}

/// The recent Events by key, bounded in age and number.
pub struct Recent {
    by_key: HashMap<String, Last>,
    swept: Option<Instant>,
    max: usize,
}

impl Recent {
    pub fn new(max: usize) -> Self {
        Recent {
            by_key: HashMap::new(),
            swept: None,
            max,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The Event a repeat of `key` at `now` counts into, and its count with
    /// this repeat; `None` when `key` was not seen within [`SERIES_TTL`].
    /// Drops the stale entries first, at most once per [`SWEEP_EVERY`].
    pub fn repeat(&mut self, key: &str, now: Instant) -> Option<(String, i32)> {
        if self
            .swept
            .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY)
        {
            self.by_key
                .retain(|_, l| now.saturating_duration_since(l.seen) < SERIES_TTL);
            self.swept = Some(now);
        }
        self.by_key
            .get(key)
            .filter(|l| now.saturating_duration_since(l.seen) < SERIES_TTL)
            .map(|l| (l.name.clone(), l.count.saturating_add(1)))
    }

    /// Remembers that `key` went to Event `name`, now counted `count` times
    /// (a key new past the ceiling is not remembered).
    pub fn record(&mut self, key: &str, name: String, count: i32, now: Instant) {
        let last = Last {
            name,
            count,
            seen: now,
        };
        if let Some(l) = self.by_key.get_mut(key) {
            *l = last;
        } else if self.by_key.len() < self.max {
            self.by_key.insert(key.to_string(), last);
        }
    }
}

/// Writes Events as one controller instance.
pub struct Events {
    client: Client,
    controller: String,
    instance: String,
    recent: Mutex<Recent>,
}

impl Events {
    pub fn new(client: Client, controller: String, instance: String) -> Self {
        Events {
            client,
            controller,
            instance,
            recent: Mutex::new(Recent::new(MAX_RECENT)),
        }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `reason` (with `note`, at most 1 kB as events.k8s.io allows)
    /// on `regarding`, action `Scale`.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        warning: bool,
        reason: &str,
        note: String,
    ) -> Result<(), kube::Error> {
        let ns = regarding.namespace.as_deref().unwrap_or("default");
        let field = |f: &Option<String>| f.clone().unwrap_or_default();
        let key = [
            ns.to_string(),
            field(&regarding.api_version),
            field(&regarding.kind),
            field(&regarding.name),
            field(&regarding.uid),
            warning.to_string(),
            reason.to_string(),
        ]
        .join("\u{1f}");
        let note = truncate(note, 1024);
        let api: Api<Event> = Api::namespaced(self.client.clone(), ns);
        let repeat = self.recent().repeat(&key, Instant::now());
        if let Some((name, count)) = repeat {
            let patch = serde_json::json!({
                "note": note,
                "series": EventSeries {
                    count,
                    last_observed_time: MicroTime(Timestamp::now()),
                },
            });
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    self.recent().record(&key, name, count, Instant::now());
                    return Ok(());
                }
                // Gone (the API server keeps Events an hour): start a new one.
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let now = Timestamp::now();
        let event = Event {
            action: Some("Scale".into()),
            reason: Some(reason.to_string()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            note: Some(note),
            metadata: ObjectMeta {
                namespace: Some(ns.to_string()),
                name: Some(format!(
                    "{}.{:x}",
                    regarding.name.as_deref().unwrap_or(&self.controller),
                    now.as_nanosecond()
                )),
                ..ObjectMeta::default()
            },
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(if warning { "Warning" } else { "Normal" }.into()),
            ..Event::default()
        };
        let created = api.create(&PostParams::default(), &event).await?;
        if let Some(name) = created.metadata.name {
            self.recent().record(&key, name, 1, Instant::now());
        }
        Ok(())
    }
}

/// `text` cut to at most `max` bytes, on a character boundary, ending in `…`
/// when cut.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_within_the_ttl_counts_into_the_same_event() {
        let t0 = Instant::now();
        let mut r = Recent::new(10);
        assert_eq!(r.repeat("a", t0), None);
        r.record("a", "web.1".into(), 1, t0);
        let t1 = t0 + Duration::from_secs(100);
        assert_eq!(r.repeat("a", t1), Some(("web.1".into(), 2)));
        r.record("a", "web.1".into(), 2, t1);
        // Six minutes after the last repeat, not after the first Event.
        let t2 = t1 + SERIES_TTL - Duration::from_secs(1);
        assert_eq!(r.repeat("a", t2), Some(("web.1".into(), 3)));
        assert_eq!(r.repeat("a", t1 + SERIES_TTL), None);
        assert_eq!(r.repeat("b", t1), None, "another key is another Event");
    }

    #[test]
    fn stale_entries_are_swept_and_the_number_is_capped() {
        let t0 = Instant::now();
        let mut r = Recent::new(3);
        for k in ["a", "b", "c", "d"] {
            r.record(k, format!("{k}.1"), 1, t0);
        }
        assert_eq!(r.len(), 3, "past the ceiling a new key is not remembered");
        assert_eq!(r.repeat("d", t0), None);
        r.record("a", "a.1".into(), 2, t0 + Duration::from_secs(300));
        // The sweep at 6 min 40 s keeps only what was seen within 6 minutes.
        let later = t0 + Duration::from_secs(400);
        assert_eq!(r.repeat("zz", later), None);
        assert_eq!(r.len(), 1);
        assert_eq!(r.repeat("a", later), Some(("a.1".into(), 3)));
    }

    #[test]
    fn notes_are_cut_on_a_character_boundary() {
        let cut = truncate("é".repeat(600), 1024);
        assert_eq!(cut.len(), 1023);
        assert!(cut.ends_with("é…"));
        assert_eq!(truncate("abcdef".into(), 5), "ab…");
        assert_eq!(truncate("short".into(), 1024), "short");
    }
}
