//! Watched objects found by a key without scanning them all for every
//! target's tick: an index (key → objects), rebuilt from a reflector's store
//! at most every [`MAX_AGE`]. Pods are indexed by label pair (`app=web` →
//! its pods): a selector with an equality requirement is narrowed to the
//! pods carrying that label and the full selector is matched on those alone
//! (with 10 000 targets of two pods each, a scan per target is 200 million
//! label matches per round of ticks; the index makes it one rebuild a second
//! plus a few matches per target; a selector without an equality
//! requirement is matched on every pod, as before). HPAs are indexed by the
//! kind and name they scale (in shadow mode every target has one).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::core::{Expression, Selector};
use kube::runtime::reflector::Store;
use kube::Resource;

use super::watched_pod::{Labels, WatchedPod as Pod};

/// How stale an index may be (a change reaches the decision at most this
/// much later than through the store itself).
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// A key of the index: the hash of a label and its value, or of a kind and a
/// name ([`key`]). Hashes, not the strings, so that a rebuild copies no
/// string; two pairs may share one, so whoever looks up checks what it finds.
pub type Key = u64;

/// The index key of a pair of strings.
pub fn key(a: &str, b: &str) -> Key {
    let mut h = DefaultHasher::new();
    (a, b).hash(&mut h);
    h.finish()
}

struct Built<K> {
    at: Option<Instant>,
    by_key: HashMap<Key, Vec<Arc<K>>>,
}

/// A store of `K` with its index.
pub struct Indexed<K: Resource + 'static>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store: Store<K>,
    keys: fn(&K, &mut dyn FnMut(Key)),
    index: Arc<Mutex<Built<K>>>,
}

impl<K: Resource + 'static> Clone for Indexed<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    fn clone(&self) -> Self {
        Indexed {
            store: self.store.clone(),
            keys: self.keys,
            index: Arc::clone(&self.index),
        }
    }
}

impl<K: Resource + Clone + 'static> Indexed<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    /// Indexes `store` by the keys `keys` gives each object.
    pub fn new(store: Store<K>, keys: fn(&K, &mut dyn FnMut(Key))) -> Self {
        let built = Built {
            at: None,
            by_key: HashMap::new(),
        };
        Indexed {
            store,
            keys,
            index: Arc::new(Mutex::new(built)),
        }
    }

    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// Rebuilds the index now (the next `get` would after [`MAX_AGE`]).
    pub fn refresh(&self) {
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.at = None;
    }

    /// The objects under `key` (as of at most [`MAX_AGE`] ago) that `keep`
    /// keeps.
    pub fn get(&self, key: Key, keep: impl Fn(&K) -> bool) -> Vec<Arc<K>> {
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        if index.at.is_none_or(|at| at.elapsed() >= MAX_AGE) {
            // Each key's vector is emptied and refilled, not dropped and
            // grown again: a rebuild of an unchanged store regrows no vector.
            let by_key = &mut index.by_key;
            by_key.values_mut().for_each(Vec::clear);
            for o in self.store.state() {
                (self.keys)(&o, &mut |k| {
                    by_key.entry(k).or_default().push(Arc::clone(&o))
                });
            }
            by_key.retain(|_, v| !v.is_empty());
            index.at = Some(Instant::now());
        }
        let found = index
            .by_key
            .get(&key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        found.iter().filter(|o| keep(o)).cloned().collect()
    }
}

/// The Pods of one namespace, as watched, indexed by label pair.
pub type Pods = Indexed<Pod>;

/// The label pairs of a pod.
pub fn labels(p: &Pod, out: &mut dyn FnMut(Key)) {
    for (k, v) in p.labels.iter() {
        out(key(k, v));
    }
}

/// Whether `labels` meet every requirement: what kube's
/// `Selector::matches` does on a `BTreeMap`, on a Pod's compact labels (the
/// tests hold the two to the same answers).
fn labels_match(requirements: &[Expression], labels: &Labels) -> bool {
    requirements.iter().all(|e| match e {
        Expression::In(k, values) => labels.get(k).is_some_and(|v| values.contains(v)),
        Expression::NotIn(k, values) => labels.get(k).is_none_or(|v| !values.contains(v)),
        Expression::Exists(k) => labels.get(k).is_some(),
        Expression::DoesNotExist(k) => labels.get(k).is_none(),
        Expression::Equal(k, v) => labels.get(k) == Some(v.as_str()),
        Expression::NotEqual(k, v) => labels.get(k) != Some(v.as_str()),
    })
}

/// A selector as a target's ticks use it again and again: parsed once, with
/// the index key of its first equality requirement.
#[derive(Clone, Debug)]
pub struct PodSelector {
    requirements: Box<[Expression]>,
    equal: Option<Key>,
}

impl PodSelector {
    pub fn new(selector: Selector) -> Self {
        let requirements: Box<[Expression]> = selector.into_iter().collect();
        let equal = requirements.iter().find_map(|e| match e {
            Expression::Equal(k, v) => Some(key(k, v)),
            _ => None,
        });
        PodSelector {
            requirements,
            equal,
        }
    }
}

/// The pods `selector` selects; an empty selector selects none (a target
/// reports none only when it has no pods).
pub fn select(pods: &Pods, selector: &PodSelector) -> Vec<Arc<Pod>> {
    let PodSelector {
        requirements,
        equal,
    } = selector;
    if requirements.is_empty() {
        return Vec::new();
    }
    let matches = |p: &Pod| labels_match(requirements, &p.labels);
    match equal {
        Some(k) => pods.get(*k, matches),
        None => {
            let all = pods.store().state().into_iter();
            all.filter(|p| matches(p)).collect()
        }
    }
}

/// The HPAs of one namespace, indexed by the kind and name they scale.
pub type Hpas = Indexed<HorizontalPodAutoscaler>;

/// The HPA of `hpas` that scales the object `name` of `kind` in API group
/// `group` (any version), if any.
pub fn hpa_scaling(
    hpas: &Hpas,
    kind: &str,
    group: &str,
    name: &str,
) -> Option<Arc<HorizontalPodAutoscaler>> {
    let found = hpas.get(key(kind, name), |h| {
        let r = h.spec.as_ref().map(|s| &s.scale_target_ref);
        r.is_some_and(|r| {
            let in_group = |v: &str| v.split_once('/').map_or("", |(g, _)| g) == group;
            r.kind == kind && r.name == name && r.api_version.as_deref().is_none_or(in_group)
        })
    });
    found.into_iter().next()
}

/// The kind and name an HPA scales.
pub fn scaled(h: &HorizontalPodAutoscaler, out: &mut dyn FnMut(Key)) {
    if let Some(r) = h.spec.as_ref().map(|s| &s.scale_target_ref) {
        out(key(&r.kind, &r.name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::SelectorExt;
    use kube::runtime::{reflector, watcher};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn pod(name: &str, labels: &[(&str, &str)]) -> Pod {
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect();
        let meta = serde_json::json!({"name": name, "namespace": "shop", "labels": labels});
        serde_json::from_value(serde_json::json!({ "metadata": meta })).unwrap()
    }

    fn names(pods: Vec<Arc<Pod>>) -> Vec<String> {
        let mut n: Vec<String> = pods
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        n.sort();
        n
    }

    fn as_map(labels: &Labels) -> BTreeMap<String, String> {
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    proptest! {
        /// Compact labels are matched as kube's `Selector::matches` matches
        /// the same labels in a `BTreeMap`, for every kind of requirement.
        #[test]
        fn compact_labels_match_as_kube_matches(
            labels in proptest::collection::btree_map("[abc]", "[xyz]", 0..4),
            requirements in proptest::collection::vec((0..6u8, "[abcd]", proptest::collection::btree_set("[xyzw]", 0..3)), 0..4),
        ) {
            let mut selector = Selector::default();
            selector.extend(requirements.into_iter().map(|(op, k, values)| {
                let one = values.iter().next().cloned().unwrap_or_else(|| "x".into());
                match op {
                    0 => Expression::In(k, values),
                    1 => Expression::NotIn(k, values),
                    2 => Expression::Exists(k),
                    3 => Expression::DoesNotExist(k),
                    4 => Expression::Equal(k, one),
                    _ => Expression::NotEqual(k, one),
                }
            }));
            let compact = Labels::from(labels.clone());
            let ours = PodSelector::new(selector.clone());
            prop_assert_eq!(labels_match(&ours.requirements, &compact), selector.matches(&labels));
        }
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
        let pods = Pods::new(reader.clone(), labels);
        let sel = |s: &str| crate::controller::selector::parse(s).unwrap();
        let pod_sel = |s: &str| PodSelector::new(sel(s));
        for s in [
            "app=web",
            "app=web,tier=front",
            "tier in (front),app=api",
            "app=none",
            "tier!=back",
            "!canary",
        ] {
            let scan = pods.store().state().into_iter();
            let want = names(
                scan.filter(|p| sel(s).matches(&as_map(&p.labels)))
                    .collect(),
            );
            assert_eq!(names(select(&pods, &pod_sel(s))), want, "{s}");
        }
        assert_eq!(
            names(select(&pods, &pod_sel("app=web"))),
            ["web-1", "web-2"]
        );
        assert!(
            select(&pods, &PodSelector::new(Selector::default())).is_empty(),
            "empty selects none"
        );
        // Keys are hashes: pods filed under a key not theirs (as a collision
        // would) are still matched against the whole selector.
        let collided = Pods::new(reader, |_, out| out(key("app", "web")));
        assert_eq!(
            names(select(&collided, &pod_sel("app=web"))),
            ["web-1", "web-2"]
        );
        assert_eq!(
            names(select(&collided, &pod_sel("app=web,tier=back"))),
            ["web-2"]
        );
    }

    #[test]
    fn hpas_are_found_by_the_kind_and_name_they_scale() {
        let hpa = |name: &str, kind: &str, target: &str| -> HorizontalPodAutoscaler {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {"maxReplicas": 5, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target}}
            }))
            .unwrap()
        };
        let (reader, mut writer) = reflector::store::<HorizontalPodAutoscaler>();
        writer.apply_watcher_event(&watcher::Event::Init);
        for h in [
            hpa("h1", "Deployment", "web"),
            hpa("h2", "StatefulSet", "web"),
            hpa("h3", "Deployment", "api"),
        ] {
            writer.apply_watcher_event(&watcher::Event::InitApply(h));
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let hpas = Hpas::new(reader, scaled);
        let found = |kind: &str, name: &str| -> Vec<String> {
            let got = hpas.get(key(kind, name), |_| true);
            got.iter()
                .map(|h| h.metadata.name.clone().unwrap())
                .collect()
        };
        assert_eq!(found("Deployment", "web"), ["h1"]);
        assert_eq!(found("StatefulSet", "web"), ["h2"]);
        assert!(found("Deployment", "cart").is_empty());
        // Every HPA filed under one key, as a collision would: still only
        // the one scaling that kind and name, in that group.
        let collided = Hpas::new(hpas.store().clone(), |_, out| out(key("Deployment", "web")));
        let scaling = |kind: &str, group: &str, name: &str| {
            hpa_scaling(&collided, kind, group, name).and_then(|h| h.metadata.name.clone())
        };
        assert_eq!(scaling("Deployment", "apps", "web").as_deref(), Some("h1"));
        assert_eq!(
            scaling("Deployment", "apps", "api"),
            None,
            "filed elsewhere"
        );
        assert_eq!(scaling("Deployment", "batch", "web"), None, "another group");
        let under_its_key = |kind: &str, name: &str| {
            hpa_scaling(&hpas, kind, "apps", name).and_then(|h| h.metadata.name.clone())
        };
        assert_eq!(under_its_key("StatefulSet", "web").as_deref(), Some("h2"));
        assert_eq!(under_its_key("Deployment", "api").as_deref(), Some("h3"));
    }
}
