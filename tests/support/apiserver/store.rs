//! The object store: one map of JSON objects keyed by (storage, namespace,
//! name), one global resourceVersion counter, and a log of every change that
//! watches replay from. Writes follow the real registry's rules: system
//! metadata, resourceVersion preconditions, status/spec split for types with
//! a status subresource, generation, no-op updates, finalizers, garbage
//! collection of dependents. The deployment controller lives in `controller`.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};

use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::errors::ApiError;
use super::patch::{self, PatchError, PatchType};
use super::resources::{self, ResourceType};
use super::selector::Selectors;
use super::strategy::{
    apply_defaults, check_identity, prepare_create_status, scale_of, validate, validate_name,
};

/// (storage, namespace, name)
pub type Key = (&'static str, String, String);

/// Cluster-scoped objects are stored under namespace "".
fn key(rt: &ResourceType, ns: &str, name: &str) -> Key {
    let ns = if rt.namespaced { ns } else { "" };
    (rt.storage, ns.to_string(), name.to_string())
}

fn namespace_key(name: &str) -> Key {
    ("namespaces", String::new(), name.to_string())
}

/// Namespaces a new cluster has.
const INITIAL_NAMESPACES: &[&str] = &["default", "kube-node-lease", "kube-public", "kube-system"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change, in stored form. `object` carries the change's
/// resourceVersion (for a deletion: the last state with a new version);
/// `prev` is the state before a modification (watches with selectors need it).
#[derive(Clone, Debug)]
pub struct LogEvent {
    pub rv: u64,
    pub ty: EventType,
    pub storage: &'static str,
    pub namespace: String,
    pub object: Value,
    pub prev: Option<Value>,
}

/// Which part of an object an update may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The main resource: everything but `status` (for types with a status subresource).
    Main,
    /// The `/status` subresource: only `status`.
    Status,
}

pub struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    log: Vec<LogEvent>,
    pub deployment_controller: bool,
    seq: u64,
    notify: watch::Sender<u64>,
}

// ---- small JSON helpers --------------------------------------------------

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let map = obj.as_object_mut().expect("object");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("object")
}

fn generation(obj: &Value) -> i64 {
    obj.pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// `metav1.Time` now: RFC 3339, seconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn owned_by(obj: &Value, uid: &str) -> bool {
    !uid.is_empty() && owner_uids(obj).iter().any(|u| u == uid)
}

fn has_finalizers(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

fn patch_error(e: PatchError) -> ApiError {
    match e {
        PatchError::BadRequest(m) => ApiError::bad_request(m),
        PatchError::Unprocessable(m) => ApiError::new(422, m),
    }
}

impl Store {
    pub fn new() -> Store {
        let rv = 1;
        let mut store = Store {
            rv,
            objects: BTreeMap::new(),
            log: Vec::new(),
            deployment_controller: true,
            seq: 0,
            notify: watch::channel(rv).0,
        };
        for ns in INITIAL_NAMESPACES {
            store.ensure_namespace(ns);
        }
        store
    }

    /// Creates a namespace if it does not exist (test fixtures only: client
    /// writes into a missing namespace are refused, as on a cluster).
    pub fn ensure_namespace(&mut self, name: &str) {
        if name.is_empty() || self.objects.contains_key(&namespace_key(name)) {
            return;
        }
        let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        let uid = self.new_uid();
        let meta = meta_mut(&mut ns);
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        prepare_create_status(
            resources::by_storage("namespaces").expect("namespaces"),
            &mut ns,
        );
        self.commit(namespace_key(name), EventType::Added, ns, None);
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    /// Every logged change newer than `rv`, oldest first.
    pub fn events_after(&self, rv: u64) -> &[LogEvent] {
        let i = self.log.partition_point(|e| e.rv <= rv);
        &self.log[i..]
    }

    /// A fresh pseudo-random number (uids, generated names, pod IPs).
    pub fn random(&mut self) -> u64 {
        self.seq += 1;
        let mut h = RandomState::new().build_hasher();
        h.write_u64(self.seq);
        h.finish()
    }

    pub fn new_uid(&mut self) -> String {
        let a = self.random();
        let b = self.random();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    fn generate_name(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut r = self.random();
        let mut name = prefix.to_string();
        for _ in 0..5 {
            name.push(ALPHABET[(r % ALPHABET.len() as u64) as usize] as char);
            r /= ALPHABET.len() as u64;
        }
        name
    }

    pub fn stored(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Stored objects of one storage key in a namespace (or all namespaces).
    /// (A range of the ordered keys, not a scan: a bench puts 10 000
    /// Deployments, each reconciled against its namespace's pods.)
    pub fn stored_in<'a>(
        &'a self,
        storage: &'static str,
        ns: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        let from: Key = (storage, ns.unwrap_or_default().to_string(), String::new());
        self.objects
            .range(from..)
            .take_while(move |((s, n, _), _)| *s == storage && ns.is_none_or(|ns| ns == n))
    }

    /// Stored objects of one storage key in a namespace whose names start
    /// with `prefix` (a range of the ordered keys).
    pub fn stored_named<'a>(
        &'a self,
        storage: &'static str,
        ns: &'a str,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        let from: Key = (storage, ns.to_string(), prefix.to_string());
        self.objects
            .range(from..)
            .take_while(move |((s, n, name), _)| {
                *s == storage && n == ns && name.starts_with(prefix)
            })
    }

    /// Records a change: bumps the global resourceVersion, stores (or drops)
    /// the object, logs the event and wakes the watches.
    pub fn commit(
        &mut self,
        key: Key,
        ty: EventType,
        mut obj: Value,
        prev: Option<Value>,
    ) -> Value {
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        if ty == EventType::Deleted {
            self.objects.remove(&key);
        } else {
            self.objects.insert(key.clone(), obj.clone());
        }
        self.log.push(LogEvent {
            rv: self.rv,
            ty,
            storage: key.0,
            namespace: key.1,
            object: obj.clone(),
            prev,
        });
        self.notify.send_replace(self.rv);
        obj
    }

    // ---- reads -----------------------------------------------------------

    pub fn list(&self, rt: &ResourceType, ns: Option<&str>, sel: &Selectors) -> Vec<Value> {
        self.stored_in(rt.storage, ns)
            .map(|(_, o)| rt.to_view(o))
            .filter(|o| sel.matches(o))
            .collect()
    }

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&key(rt, ns, name))
            .map(|o| rt.to_view(o))
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    // ---- writes ------------------------------------------------------------

    pub fn create(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        body: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not a JSON object",
            ));
        }
        let mut obj = rt.to_stored(body);
        let ns = if rt.namespaced { ns } else { "" };
        let body_ns = meta_str(&obj, "namespace");
        if rt.namespaced && !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if rt.namespaced && !self.objects.contains_key(&namespace_key(ns)) {
            return Err(ApiError::not_found(
                resources::by_storage("namespaces").expect("namespaces"),
                ns,
            ));
        }
        if !meta_str(&obj, "resourceVersion").is_empty() {
            return Err(ApiError {
                code: 500,
                reason: "",
                message: "resourceVersion should not be set on objects to be created".into(),
                details: None,
            });
        }
        let mut name = meta_str(&obj, "name").to_string();
        if name.is_empty() {
            let prefix = meta_str(&obj, "generateName").to_string();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
            loop {
                name = self.generate_name(&prefix);
                if !self.objects.contains_key(&key(rt, ns, &name)) {
                    break;
                }
            }
        }
        validate_name(rt, &name)?;
        let k = key(rt, ns, &name);
        if self.objects.contains_key(&k) {
            return Err(ApiError::already_exists(rt, &name));
        }
        let uid = self.new_uid();
        let meta = meta_mut(&mut obj);
        meta.insert("name".into(), json!(name));
        set_namespace(meta, ns);
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        if rt.has_generation {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        prepare_create_status(rt, &mut obj);
        apply_defaults(rt, &mut obj);
        validate(rt, &name, &obj)?;
        if dry_run {
            return Ok(rt.to_view(&obj));
        }
        let stored = self.commit(k, EventType::Added, obj, None);
        self.after_write(rt.storage, ns, &name);
        Ok(rt.to_view(&stored))
    }

    /// PUT of the main resource or its status.
    pub fn update(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        body: Value,
        target: Target,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not a JSON object",
            ));
        }
        let obj = rt.to_stored(body);
        check_identity(&obj, if rt.namespaced { ns } else { "" }, name)?;
        let precondition =
            Some(meta_str(&obj, "resourceVersion").to_string()).filter(|s| !s.is_empty());
        let stored = self.update_stored(rt, ns, name, obj, target, precondition, dry_run)?;
        Ok(rt.to_view(&stored))
    }

    /// The update rules every write path shares; `new` is in stored form.
    #[allow(clippy::too_many_arguments)]
    fn update_stored(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        new: Value,
        target: Target,
        precondition: Option<String>,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let k = key(rt, ns, name);
        let old = self
            .objects
            .get(&k)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        let old_rv = meta_str(&old, "resourceVersion").to_string();
        if precondition.is_some_and(|p| p != old_rv) {
            return Err(ApiError::conflict(rt, name));
        }
        let mut new = match target {
            Target::Main => {
                let mut n = new;
                if rt.has_subresource("status") {
                    copy_field(&old, &mut n, "status");
                }
                n
            }
            Target::Status => {
                let mut n = old.clone();
                copy_field(&new, &mut n, "status");
                n
            }
        };
        let (api_version, kind) = rt.storage_type();
        new["apiVersion"] = json!(api_version);
        new["kind"] = json!(kind);
        let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
        let meta = meta_mut(&mut new);
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_meta.get(field) {
                Some(v) => meta.insert(field.into(), v.clone()),
                None => meta.remove(field),
            };
        }
        meta.insert("name".into(), json!(name));
        set_namespace(meta, &k.1);
        meta.insert("resourceVersion".into(), json!(old_rv));
        apply_defaults(rt, &mut new);
        validate(rt, name, &new)?;
        if rt.has_generation && old.get("spec") != new.get("spec") {
            meta_mut(&mut new).insert("generation".into(), json!(generation(&old) + 1));
        }
        if new == old {
            // A no-op update: the real server writes nothing and sends no event.
            return Ok(old);
        }
        if dry_run {
            return Ok(new);
        }
        let finished =
            new.pointer("/metadata/deletionTimestamp").is_some() && !has_finalizers(&new);
        let stored = self.commit(k.clone(), EventType::Modified, new, Some(old));
        if finished {
            // The last finalizer is gone from an object being deleted.
            self.commit(k, EventType::Deleted, stored.clone(), None);
            self.collect_garbage(meta_str(&stored, "uid"));
            return Ok(stored);
        }
        self.after_write(rt.storage, ns, name);
        Ok(stored)
    }

    /// PATCH of the main resource or its status. Returns the object and
    /// whether it was created (server-side apply of an absent object).
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        kind: PatchType,
        body: &Value,
        target: Target,
        field_manager: Option<&str>,
        dry_run: bool,
    ) -> Result<(Value, bool), ApiError> {
        if kind == PatchType::Apply && field_manager.is_none_or(str::is_empty) {
            return Err(ApiError::new(
                422,
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        let Some(old) = self.objects.get(&key(rt, ns, name)).cloned() else {
            if kind == PatchType::Apply && target == Target::Main {
                let mut obj = body.clone();
                if !obj.is_object() {
                    return Err(ApiError::bad_request(
                        "the apply patch is not a JSON object",
                    ));
                }
                meta_mut(&mut obj).insert("name".into(), json!(name));
                return self.create(rt, ns, obj, dry_run).map(|o| (o, true));
            }
            return Err(ApiError::not_found(rt, name));
        };
        let current = rt.to_view(&old);
        let patched = patch::apply(kind, &current, body).map_err(patch_error)?;
        let precondition =
            Some(meta_str(&patched, "resourceVersion").to_string()).filter(|s| !s.is_empty());
        let new = rt.to_stored(patched);
        let stored = self.update_stored(rt, ns, name, new, target, precondition, dry_run)?;
        Ok((rt.to_view(&stored), false))
    }

    /// DELETE. Returns the object and whether it is gone (false: it has
    /// finalizers and is now only marked with a deletionTimestamp).
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        options: &Value,
        dry_run: bool,
    ) -> Result<(Value, bool), ApiError> {
        let k = key(rt, ns, name);
        let old = self
            .objects
            .get(&k)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        if let Some(p) = options
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            let cur = meta_str(&old, "resourceVersion");
            if p != cur {
                return Err(ApiError::precondition_failed(rt, name, &format!(
                    "the ResourceVersion in the precondition ({p}) does not match the ResourceVersion in record ({cur}). The object might have been modified"
                )));
            }
        }
        if let Some(p) = options
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
        {
            let cur = meta_str(&old, "uid");
            if p != cur {
                return Err(ApiError::precondition_failed(rt, name, &format!(
                    "the UID in the precondition ({p}) does not match the UID in record ({cur}). The object might have been deleted and then recreated"
                )));
            }
        }
        if dry_run {
            return Ok((rt.to_view(&old), true));
        }
        let orphan = options.get("propagationPolicy").and_then(Value::as_str) == Some("Orphan")
            || options.get("orphanDependents").and_then(Value::as_bool) == Some(true);
        let (obj, gone) = self.delete_stored(k, orphan);
        Ok((rt.to_view(&obj), gone))
    }

    /// Deletes (or, with finalizers, marks for deletion) a stored object and
    /// collects its dependents. Returns the object as deleted and whether it is gone.
    fn delete_stored(&mut self, k: Key, orphan: bool) -> (Value, bool) {
        let Some(old) = self.objects.get(&k).cloned() else {
            return (Value::Null, true);
        };
        if has_finalizers(&old) {
            if old.pointer("/metadata/deletionTimestamp").is_some() {
                return (old, false);
            }
            let mut new = old.clone();
            let gen = generation(&old);
            let meta = meta_mut(&mut new);
            meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            if gen > 0 {
                meta.insert("generation".into(), json!(gen + 1));
            }
            let stored = self.commit(k, EventType::Modified, new, Some(old));
            return (stored, false);
        }
        if k.0 == "namespaces" {
            // The namespace controller: everything in it goes first.
            let content: Vec<Key> = self
                .objects
                .keys()
                .filter(|(s, n, _)| *s != "namespaces" && *n == k.2)
                .cloned()
                .collect();
            for item in content {
                if let Some(obj) = self.objects.get(&item).cloned() {
                    self.commit(item, EventType::Deleted, obj, None);
                }
            }
        }
        self.commit(k, EventType::Deleted, old.clone(), None);
        if !orphan {
            self.collect_garbage(meta_str(&old, "uid"));
        }
        (old, true)
    }

    /// DELETE of a collection: every object that matches.
    pub fn delete_collection(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        sel: &Selectors,
        options: &Value,
        dry_run: bool,
    ) -> Result<Vec<Value>, ApiError> {
        let names: Vec<(String, String)> = self
            .stored_in(rt.storage, ns)
            .filter(|(_, o)| sel.matches(&rt.to_view(o)))
            .map(|((_, n, name), _)| (n.clone(), name.clone()))
            .collect();
        let mut out = Vec::new();
        for (n, name) in names {
            match self.delete(rt, &n, &name, options, dry_run) {
                Ok((o, _)) => out.push(o),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The garbage collector: deletes the objects whose owners are all gone,
    /// after the object with `uid` was deleted.
    fn collect_garbage(&mut self, uid: &str) {
        if uid.is_empty() {
            return;
        }
        let mut gone = vec![uid.to_string()];
        while let Some(owner) = gone.pop() {
            let live: BTreeSet<String> = self
                .objects
                .values()
                .map(|o| meta_str(o, "uid").to_string())
                .collect();
            let orphans: Vec<Key> = self
                .objects
                .iter()
                .filter(|(_, o)| {
                    owned_by(o, &owner) && owner_uids(o).iter().all(|u| !live.contains(u))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in orphans {
                let (obj, deleted) = self.delete_stored(k, false);
                if deleted {
                    gone.push(meta_str(&obj, "uid").to_string());
                }
            }
        }
    }

    /// Reactions to a committed client write (the controllers of a cluster).
    fn after_write(&mut self, storage: &'static str, ns: &str, name: &str) {
        let workload = matches!(
            storage,
            "deployments.apps" | "statefulsets.apps" | "rollouts.argoproj.io"
        );
        if workload && self.deployment_controller {
            self.reconcile_workload(storage, ns, name);
        }
    }

    // ---- the scale subresource -----------------------------------------------

    pub fn get_scale(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        let dep = self
            .objects
            .get(&key(rt, ns, name))
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        Ok(scale_of(rt, dep))
    }

    pub fn update_scale(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        check_identity(body, ns, name)?;
        let replicas = body
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if replicas < 0 {
            return Err(ApiError {
                code: 422,
                reason: "Invalid",
                message: format!(
                    "Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
                ),
                details: Some(json!({
                    "name": name, "group": "autoscaling", "kind": "Scale",
                    "causes": [{"reason": "FieldValueInvalid", "field": "spec.replicas",
                                "message": format!("Invalid value: {replicas}: must be greater than or equal to 0")}],
                })),
            });
        }
        let old = self
            .objects
            .get(&key(rt, ns, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        let precondition =
            Some(meta_str(body, "resourceVersion").to_string()).filter(|s| !s.is_empty());
        let mut new = old;
        if !new.get("spec").is_some_and(Value::is_object) {
            new["spec"] = json!({});
        }
        new["spec"]["replicas"] = json!(replicas);
        let stored = self.update_stored(rt, ns, name, new, Target::Main, precondition, dry_run)?;
        Ok(scale_of(rt, &stored))
    }

    pub fn patch_scale(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        kind: PatchType,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let current = self.get_scale(rt, ns, name)?;
        let patched = patch::apply(kind, &current, body).map_err(patch_error)?;
        self.update_scale(rt, ns, name, &patched, dry_run)
    }

    // ---- direct access for tests -------------------------------------------

    /// Create-or-replace without preconditions or status rules, as a test
    /// fixture. Returns the served form.
    pub fn put(&mut self, obj: Value) -> Result<Value, String> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let rt = resources::by_kind(api_version, kind)
            .ok_or_else(|| format!("the test API server does not serve {api_version} {kind}"))?;
        let mut obj = rt.to_stored(obj);
        let name = meta_str(&obj, "name").to_string();
        if name.is_empty() {
            return Err("put: metadata.name is required".into());
        }
        let ns = if rt.namespaced {
            Some(meta_str(&obj, "namespace").to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "default".into())
        } else {
            String::new()
        };
        if rt.namespaced {
            self.ensure_namespace(&ns);
        }
        let k = key(rt, &ns, &name);
        let old = self.objects.get(&k).cloned();
        let uid = self.new_uid();
        let meta = meta_mut(&mut obj);
        set_namespace(meta, &ns);
        meta.remove("resourceVersion");
        match &old {
            Some(old) => {
                for field in ["uid", "creationTimestamp"] {
                    if !meta.contains_key(field) {
                        if let Some(v) = old.pointer(&format!("/metadata/{field}")) {
                            meta.insert(field.into(), v.clone());
                        }
                    }
                }
            }
            None => {
                meta.entry("uid").or_insert(json!(uid));
                meta.entry("creationTimestamp")
                    .or_insert(json!(now_rfc3339()));
            }
        }
        apply_defaults(rt, &mut obj);
        if rt.has_generation {
            let gen = match &old {
                Some(old) if old.get("spec") != obj.get("spec") => generation(old) + 1,
                Some(old) => generation(old).max(1),
                None => 1,
            };
            meta_mut(&mut obj).insert("generation".into(), json!(gen));
        }
        let ty = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        let stored = self.commit(k, ty, obj, old);
        self.after_write(rt.storage, &ns, &name);
        Ok(rt.to_view(&stored))
    }

    /// Immediate deletion (finalizers ignored), dependents collected.
    pub fn remove(&mut self, rt: &ResourceType, ns: &str, name: &str) -> bool {
        let k = key(rt, ns, name);
        let Some(mut obj) = self.objects.get(&k).cloned() else {
            return false;
        };
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("finalizers");
        }
        self.objects.insert(k.clone(), obj);
        self.delete_stored(k, false);
        true
    }
}

fn set_namespace(meta: &mut Map<String, Value>, ns: &str) {
    if ns.is_empty() {
        meta.remove("namespace");
    } else {
        meta.insert("namespace".into(), json!(ns));
    }
}

fn copy_field(from: &Value, to: &mut Value, field: &str) {
    let Some(map) = to.as_object_mut() else {
        return;
    };
    match from.get(field) {
        Some(v) => map.insert(field.into(), v.clone()),
        None => map.remove(field),
    };
}
