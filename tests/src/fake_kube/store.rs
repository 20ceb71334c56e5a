//! The object store: objects by kind/namespace/name with uid, resourceVersion, generation and
//! timestamps, and an event history for watches. Deletion lives in `deletion.rs`.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::defaults;
use super::kinds::KindDef;
use super::ownership::{Ownership, Write, own};
use super::status::{self, ApiError};

/// The history kept for watches that resume from a resourceVersion.
const HISTORY: usize = 4096;

/// A watch event as stored.
#[derive(Debug, Clone)]
pub struct Event {
    /// resourceVersion after the change.
    pub rv: u64,
    /// The object's kind.
    pub kind: &'static KindDef,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind_of_change: &'static str,
    /// The object after the change (for DELETED: its last state).
    pub object: Value,
    /// The object before the change, for selector transitions.
    pub previous: Option<Value>,
}

pub(super) type Key = (&'static str, &'static str, String, String);

/// All objects and their history.
pub struct Store {
    pub(super) objects: BTreeMap<Key, Value>,
    rv: u64,
    pub(super) next_uid: u64,
    pub(super) next_ip: u32,
    pub(super) history: VecDeque<Event>,
    pub(super) events: broadcast::Sender<Event>,
    /// Whether Deployments report their replicas ready at once (a simulated controller).
    pub auto_ready: bool,
}

pub(super) fn key(kind: &'static KindDef, namespace: &str, name: &str) -> Key {
    (
        kind.group,
        kind.plural,
        if kind.namespaced {
            namespace.to_string()
        } else {
            String::new()
        },
        name.to_string(),
    )
}

/// The current time as Kubernetes writes it.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Store {
    /// An empty cluster with the namespaces every cluster has.
    pub fn new() -> Self {
        Self::starting_at(1000)
    }

    /// An empty cluster whose resourceVersions continue after `rv` (an API server restarted
    /// on the same etcd: old versions are no longer resumable, new ones are larger).
    pub fn starting_at(rv: u64) -> Self {
        let (events, _) = broadcast::channel(8192);
        let mut store = Self {
            objects: BTreeMap::new(),
            rv,
            next_uid: 1,
            next_ip: 10,
            history: VecDeque::new(),
            events,
            auto_ready: true,
        };
        let ns = super::kinds::find("", "v1", "namespaces").expect("namespaces");
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let object =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            store
                .create(ns, "", object, Ownership::Update("kube-apiserver"), false)
                .expect("namespace");
        }
        store
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch can resume from.
    pub fn oldest_resumable(&self) -> u64 {
        self.history.front().map(|e| e.rv - 1).unwrap_or(self.rv)
    }

    /// Events newer than `rv`, oldest first, and a receiver for the ones after them.
    pub fn subscribe_after(&self, rv: u64) -> (Vec<Event>, broadcast::Receiver<Event>) {
        (
            self.history.iter().filter(|e| e.rv > rv).cloned().collect(),
            self.events.subscribe(),
        )
    }

    /// One object.
    pub fn get(&self, kind: &'static KindDef, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&key(kind, namespace, name))
    }

    /// Objects of a kind, in one namespace or all, sorted by namespace and name.
    pub fn list(&self, kind: &'static KindDef, namespace: Option<&str>) -> Vec<&Value> {
        self.objects
            .iter()
            .filter(|((g, p, ns, _), _)| {
                *g == kind.group && *p == kind.plural && namespace.is_none_or(|n| n == ns)
            })
            .map(|(_, v)| v)
            .collect()
    }

    pub(super) fn namespace_exists(&self, namespace: &str) -> bool {
        self.objects
            .contains_key(&("", "namespaces", String::new(), namespace.to_string()))
    }

    pub(super) fn emit(
        &mut self,
        kind: &'static KindDef,
        change: &'static str,
        object: Value,
        previous: Option<Value>,
    ) {
        let event = Event {
            rv: self.rv,
            kind,
            kind_of_change: change,
            object,
            previous,
        };
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(event.clone());
        let _ = self.events.send(event);
    }

    pub(super) fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Creates an object (POST, or apply/PUT of a missing one). With `dry_run` nothing is stored.
    pub fn create(
        &mut self,
        kind: &'static KindDef,
        namespace: &str,
        mut object: Value,
        ownership: Ownership,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        defaults::prepare_new(kind, namespace, &mut object)?;
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if kind.namespaced && !self.namespace_exists(namespace) {
            return Err(status::namespace_not_found(namespace));
        }
        if self.get(kind, namespace, &name).is_some() {
            return Err(status::already_exists(kind, &name));
        }
        let uid = format!("00000000-0000-4000-8000-{:012x}", self.next_uid);
        let meta = object["metadata"]
            .as_object_mut()
            .expect("prepared metadata");
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(now()));
        if kind.has_generation() {
            meta.insert("generation".into(), json!(1));
        }
        for server_set in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
        ] {
            meta.remove(server_set);
        }
        defaults::reconcile(kind, &mut object, self.auto_ready, &mut self.next_ip);
        own(ownership, None, &mut object, kind, None);
        if dry_run {
            return Ok(object);
        }
        self.next_uid += 1;
        object["metadata"]["resourceVersion"] = json!(self.bump().to_string());
        self.objects
            .insert(key(kind, namespace, &name), object.clone());
        self.emit(kind, "ADDED", object.clone(), None);
        Ok(object)
    }

    /// Replaces an existing object, keeping server-owned metadata.
    pub fn replace(
        &mut self,
        kind: &'static KindDef,
        namespace: &str,
        name: &str,
        mut object: Value,
        write: Write,
    ) -> Result<Value, ApiError> {
        let Write {
            expected_rv,
            ownership,
            subresource,
            dry_run,
        } = write;
        let current = self
            .get(kind, namespace, name)
            .ok_or_else(|| status::not_found(kind, name))?
            .clone();
        if let Some(rv) = expected_rv.filter(|rv| !rv.is_empty())
            && current["metadata"]["resourceVersion"].as_str() != Some(rv)
        {
            return Err(status::conflict(kind, name));
        }
        defaults::prepare_update(kind, namespace, name, &mut object)?;
        match subresource {
            // A status write changes only status; a main-resource write never changes status.
            Some("status") => {
                let mut merged = current.clone();
                merged["status"] = object.get("status").cloned().unwrap_or(Value::Null);
                object = merged;
            }
            _ => match current.get("status") {
                Some(status) => object["status"] = status.clone(),
                None => {
                    object.as_object_mut().expect("object").remove("status");
                }
            },
        }
        let meta = object["metadata"]
            .as_object_mut()
            .expect("prepared metadata");
        let mut server_owned = vec![
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ];
        if !matches!(ownership, Ownership::AsGiven) {
            server_owned.push("managedFields");
        }
        for keep in server_owned {
            match current["metadata"].get(keep) {
                Some(v) => meta.insert(keep.into(), v.clone()),
                None => meta.remove(keep),
            };
        }
        if kind.has_generation() && object.get("spec") != current.get("spec") {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
            object["metadata"]["generation"] = json!(generation);
        }
        // A status write is the controller speaking: do not recompute status over it.
        defaults::reconcile(
            kind,
            &mut object,
            self.auto_ready && subresource != Some("status"),
            &mut self.next_ip,
        );
        own(ownership, Some(&current), &mut object, kind, subresource);
        if dry_run {
            return Ok(object);
        }
        object["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        // No-op writes do not bump the resourceVersion; like the real server (its
        // IgnoreManagedFieldsTimestampsTransformer), a write that would only move managedFields
        // timestamps is a no-op too.
        if without_field_times(&object) == without_field_times(&current) {
            return Ok(current);
        }
        object["metadata"]["resourceVersion"] = json!(self.bump().to_string());
        let finished = self.finished_deleting(&object);
        self.objects
            .insert(key(kind, namespace, name), object.clone());
        self.emit(kind, "MODIFIED", object.clone(), Some(current));
        if finished {
            self.remove(kind, namespace, name);
        }
        Ok(object)
    }

    /// An object marked for deletion whose last finalizer is gone is deleted.
    pub(super) fn finished_deleting(&self, object: &Value) -> bool {
        object["metadata"].get("deletionTimestamp").is_some()
            && object["metadata"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty)
    }

    pub(super) fn remove(
        &mut self,
        kind: &'static KindDef,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let object = self.objects.remove(&key(kind, namespace, name))?;
        let mut gone = object.clone();
        gone["metadata"]["resourceVersion"] = json!(self.bump().to_string());
        self.emit(kind, "DELETED", gone.clone(), Some(object));
        Some(gone)
    }
}

/// The object with its managedFields entries' `time` left out.
fn without_field_times(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(entries) = object["metadata"]["managedFields"].as_array_mut() {
        for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
            entry.remove("time");
        }
    }
    object
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}
