//! DELETE in the store: preconditions, finalizers and `deletionTimestamp`, propagation to
//! dependents (by ownerReferences) and namespace contents.
//!
//! NB: garbage collection runs at once, inside the delete call; the real collector is asynchronous.

use serde_json::{Value, json};

use super::kinds::{KINDS, KindDef};
use super::ownership::{Ownership, Write};
use super::status::{self, ApiError};
use super::store::{Key, Store, key, now};

/// How dependents are treated when their owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the owner now, then its dependents.
    Background,
    /// Delete dependents, then the owner.
    Foreground,
    /// Keep dependents, dropping their owner reference.
    Orphan,
}

impl Store {
    /// DELETE: honours preconditions, finalizers, propagation and namespace contents.
    pub fn delete(
        &mut self,
        kind: &'static KindDef,
        namespace: &str,
        name: &str,
        propagation: Propagation,
        preconditions: (Option<&str>, Option<&str>),
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let current = self
            .get(kind, namespace, name)
            .ok_or_else(|| status::not_found(kind, name))?
            .clone();
        let meta = &current["metadata"];
        if let Some(uid) = preconditions.0
            && meta["uid"].as_str() != Some(uid)
        {
            return Err(status::precondition_failed(
                kind,
                name,
                "UID",
                uid,
                meta["uid"].as_str().unwrap_or(""),
            ));
        }
        if let Some(rv) = preconditions.1
            && meta["resourceVersion"].as_str() != Some(rv)
        {
            let actual = meta["resourceVersion"].as_str().unwrap_or("");
            return Err(status::precondition_failed(
                kind,
                name,
                "ResourceVersion",
                rv,
                actual,
            ));
        }
        if dry_run {
            return Ok(current);
        }
        let uid = meta["uid"].as_str().unwrap_or_default().to_string();
        if kind.kind == "Namespace" {
            self.delete_namespace_contents(name);
        }
        match propagation {
            Propagation::Orphan => self.orphan_dependents(&uid),
            Propagation::Background | Propagation::Foreground => self.delete_dependents(&uid),
        }
        if meta["finalizers"].as_array().is_some_and(|f| !f.is_empty()) {
            // Finalizers hold the object until whoever owns them removes them.
            if meta.get("deletionTimestamp").is_some() {
                return Ok(current);
            }
            let mut marked = current.clone();
            marked["metadata"]["deletionTimestamp"] = json!(now());
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            marked["metadata"]["resourceVersion"] = json!(self.bump().to_string());
            self.objects
                .insert(key(kind, namespace, name), marked.clone());
            self.emit(kind, "MODIFIED", marked.clone(), Some(current));
            return Ok(marked);
        }
        Ok(self.remove(kind, namespace, name).expect("present"))
    }

    /// The objects (kind, namespace, name) for which `keep` holds.
    fn objects_where(
        &self,
        keep: impl Fn(&Key, &Value) -> bool,
    ) -> Vec<(&'static KindDef, String, String)> {
        self.objects
            .iter()
            .filter(|(key, object)| keep(key, object))
            .filter_map(|((group, plural, ns, name), _)| {
                KINDS
                    .iter()
                    .find(|k| k.group == *group && k.plural == *plural)
                    .map(|k| (k, ns.clone(), name.clone()))
            })
            .collect()
    }

    fn dependents(&self, owner_uid: &str) -> Vec<(&'static KindDef, String, String)> {
        self.objects_where(|_, object| {
            object["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == owner_uid))
        })
    }

    /// Deletes objects as the garbage collector does: background propagation, no preconditions.
    fn collect(&mut self, targets: Vec<(&'static KindDef, String, String)>) {
        for (kind, ns, name) in targets {
            let _ = self.delete(
                kind,
                &ns,
                &name,
                Propagation::Background,
                (None, None),
                false,
            );
        }
    }

    fn delete_dependents(&mut self, owner_uid: &str) {
        self.collect(self.dependents(owner_uid));
    }

    fn orphan_dependents(&mut self, owner_uid: &str) {
        for (kind, ns, name) in self.dependents(owner_uid) {
            let mut object = self.get(kind, &ns, &name).expect("listed").clone();
            if let Some(refs) = object["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|r| r["uid"] != owner_uid);
            }
            let _ = self.replace(
                kind,
                &ns,
                &name,
                object,
                Write::by(Ownership::Update("garbage-collector")),
            );
        }
    }

    fn delete_namespace_contents(&mut self, namespace: &str) {
        self.collect(self.objects_where(|(_, _, ns, _), _| ns == namespace));
    }
}
