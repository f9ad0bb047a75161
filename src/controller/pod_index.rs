//! A namespace's watched Pods, found by label selector without scanning them
//! all for every target: an index by label pair (`app=web` → its pods),
//! rebuilt from the reflector's store at most every [`MAX_AGE`], narrows a
//! selector with an equality requirement to the pods carrying that label;
//! the full selector is then matched on those alone. With 10 000 targets of
//! two pods each, a scan per target is 200 million label matches per round
//! of ticks; the index makes it one rebuild a second plus a few matches per
//! target. A selector without an equality requirement is matched on every
//! pod, as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::core::{Expression, Selector, SelectorExt};
use kube::runtime::reflector::Store;

/// How stale the index may be (a pod's readiness reaches the decision at
/// most this much later than through the store itself).
pub const MAX_AGE: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Index {
    built: Option<Instant>,
    by_label: HashMap<(String, String), Vec<Arc<Pod>>>,
}

/// The Pods of one namespace, as watched, with the label index.
#[derive(Clone)]
pub struct Pods {
    store: Store<Pod>,
    index: Arc<Mutex<Index>>,
}

fn labels_match(p: &Pod, selector: &Selector) -> bool {
    let labels = p.metadata.labels.as_ref();
    labels.is_some_and(|l| selector.matches(l))
}

impl Pods {
    pub fn new(store: Store<Pod>) -> Self {
        Pods {
            store,
            index: Arc::default(),
        }
    }

    pub fn store(&self) -> &Store<Pod> {
        &self.store
    }

    /// The pods `selector` selects; an empty selector selects none (a
    /// target reports none only when it has no pods).
    pub fn select(&self, selector: &Selector) -> Vec<Arc<Pod>> {
        if selector.selects_all() {
            return Vec::new();
        }
        let equal = selector.clone().into_iter().find_map(|e| match e {
            Expression::Equal(k, v) => Some((k, v)),
            _ => None,
        });
        let Some(key) = equal else {
            let all = self.store.state().into_iter();
            return all.filter(|p| labels_match(p, selector)).collect();
        };
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        if index.built.is_none_or(|at| at.elapsed() >= MAX_AGE) {
            index.by_label.clear();
            for p in self.store.state() {
                for (k, v) in p.metadata.labels.iter().flatten() {
                    let pods = index.by_label.entry((k.clone(), v.clone()));
                    pods.or_default().push(Arc::clone(&p));
                }
            }
            index.built = Some(Instant::now());
        }
        let candidates = index.by_label.get(&key).into_iter().flatten();
        candidates
            .filter(|p| labels_match(p, selector))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::{reflector, watcher};

    fn pod(name: &str, labels: &[(&str, &str)]) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("shop".into());
        p.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        p
    }

    fn names(pods: Vec<Arc<Pod>>) -> Vec<String> {
        let mut n: Vec<String> = pods
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn the_index_selects_what_a_full_scan_selects() {
        let (reader, mut writer) = reflector::store::<Pod>();
        writer.apply_watcher_event(&watcher::Event::Init);
        for p in [
            pod("web-1", &[("app", "web"), ("tier", "front")]),
            pod("web-2", &[("app", "web"), ("tier", "back")]),
            pod("api-1", &[("app", "api"), ("tier", "front")]),
            pod("bare", &[]),
        ] {
            writer.apply_watcher_event(&watcher::Event::InitApply(p));
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let pods = Pods::new(reader);
        let sel = |s: &str| crate::controller::selector::parse(s).unwrap();
        for s in [
            "app=web",
            "app=web,tier=front",
            "tier in (front),app=api",
            "app=none",
            "tier!=back",
            "!canary",
        ] {
            let scan = pods.store().state().into_iter();
            let want = names(scan.filter(|p| labels_match(p, &sel(s))).collect());
            assert_eq!(names(pods.select(&sel(s))), want, "{s}");
        }
        assert_eq!(names(pods.select(&sel("app=web"))), ["web-1", "web-2"]);
        assert!(
            pods.select(&Selector::default()).is_empty(),
            "empty selects none"
        );
    }
}
