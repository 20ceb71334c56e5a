//! Field ownership for server-side apply: `managedFields` entries per manager, conflicts between
//! managers, and fields an applier stopped sending. Field paths themselves: `fieldset.rs`.

use serde_json::{Value, json};

pub use super::fieldset::{
    FieldPath, FieldSet, display_path, field_set, from_fields_v1, remove_at, to_fields_v1, value_at,
};

/// One `managedFields` entry, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Manager name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// apiVersion the fields were written with.
    pub api_version: String,
    /// Subresource written through, if any.
    pub subresource: Option<String>,
    /// Owned fields.
    pub fields: FieldSet,
    /// When last changed.
    pub time: String,
}

/// Reads `metadata.managedFields`.
pub fn entries(object: &Value) -> Vec<Entry> {
    let Some(items) = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return vec![];
    };
    items
        .iter()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or_default().into(),
            operation: e["operation"].as_str().unwrap_or("Update").into(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
            subresource: e["subresource"].as_str().map(Into::into),
            fields: from_fields_v1(&e["fieldsV1"]),
            time: e["time"].as_str().unwrap_or_default().into(),
        })
        .collect()
}

/// Writes `metadata.managedFields`, dropping entries that own nothing.
pub fn set_entries(object: &mut Value, entries: &[Entry]) {
    let items: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if let Some(sub) = &e.subresource {
                v["subresource"] = json!(sub);
            }
            v
        })
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if items.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(items));
        }
    }
}

/// Records a non-apply write by `manager`: it takes every field whose value changed; fields that
/// disappeared are owned by no one any more.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    now: &str,
) {
    let mut list = old.map(entries).unwrap_or_default();
    let after = field_set(new);
    let before = old.map(field_set).unwrap_or_default();
    let changed: FieldSet = after
        .iter()
        .filter(|p| old.and_then(|o| value_at(o, p)) != value_at(new, p))
        .cloned()
        .collect();
    let removed: FieldSet = before.difference(&after).cloned().collect();
    for entry in &mut list {
        entry
            .fields
            .retain(|p| !changed.contains(p) && !removed.contains(p));
    }
    if !changed.is_empty() {
        let position = list.iter().position(|e| {
            e.manager == manager
                && e.operation == "Update"
                && e.subresource.as_deref() == subresource
        });
        let entry = match position {
            Some(i) => &mut list[i],
            None => {
                list.push(Entry {
                    manager: manager.into(),
                    operation: "Update".into(),
                    api_version: api_version.into(),
                    subresource: subresource.map(Into::into),
                    fields: FieldSet::new(),
                    time: now.into(),
                });
                list.last_mut().expect("just pushed")
            }
        };
        entry.fields.extend(changed);
        entry.time = now.into();
    }
    set_entries(new, &list);
}

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The other manager.
    pub manager: String,
    /// The apiVersion it used.
    pub api_version: String,
    /// The subresource it wrote through, if any.
    pub subresource: Option<String>,
    /// The contested field.
    pub path: FieldPath,
}

/// Server-side apply of `config` by `manager` onto `live`; returns the new object or the conflicts.
///
/// `merge` merges the config into the live object (strategic merge with the kind's list rules).
pub fn apply(
    live: &Value,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
    merge: impl Fn(&mut Value, &Value) -> Result<(), String>,
) -> Result<Result<Value, Vec<Conflict>>, String> {
    let mut list = entries(live);
    let applied = field_set(config);
    let mut conflicts = Vec::new();
    for entry in list
        .iter()
        .filter(|e| !(e.manager == manager && e.operation == "Apply"))
    {
        for path in applied.intersection(&entry.fields) {
            if value_at(live, path) != value_at(config, path) {
                conflicts.push(Conflict {
                    manager: entry.manager.clone(),
                    api_version: entry.api_version.clone(),
                    subresource: entry.subresource.clone(),
                    path: path.clone(),
                });
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Ok(Err(conflicts));
    }
    for entry in &mut list {
        if !(entry.manager == manager && entry.operation == "Apply") {
            entry
                .fields
                .retain(|p| !conflicts.iter().any(|c| &c.path == p));
        }
    }
    let mut result = live.clone();
    let previous = list
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply")
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    // Fields this manager applied before and no longer sends go, unless someone else owns them too.
    // Deepest first, so an item's fields go before the item itself.
    let dropped: Vec<&FieldPath> = previous.difference(&applied).collect();
    for dropped in dropped.into_iter().rev() {
        let shared = list.iter().any(|e| {
            !(e.manager == manager && e.operation == "Apply") && e.fields.contains(dropped)
        });
        if !shared {
            remove_at(&mut result, dropped);
        }
    }
    merge(&mut result, config)?;
    match list
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Apply")
    {
        Some(entry) => {
            entry.fields = applied;
            entry.time = now.into();
            entry.api_version = config["apiVersion"].as_str().unwrap_or_default().into();
        }
        None => list.push(Entry {
            manager: manager.into(),
            operation: "Apply".into(),
            api_version: config["apiVersion"].as_str().unwrap_or_default().into(),
            subresource: None,
            fields: applied,
            time: now.into(),
        }),
    }
    set_entries(&mut result, &list);
    Ok(Ok(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_kube::patch::strategic_merge;

    fn merge(target: &mut Value, config: &Value) -> Result<(), String> {
        strategic_merge(target, config, &mut vec![])
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fe", "labels": {"app": "fe"}},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "fe", "image": image}]}}}})
    }

    #[test]
    fn fields_v1_round_trips_with_keyed_items() {
        let set = field_set(&deployment(1, "a"));
        let encoded = to_fields_v1(&set);
        assert_eq!(
            encoded["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"fe\"}"],
            json!({".": {}, "f:image": {}, "f:name": {}})
        );
        assert_eq!(from_fields_v1(&encoded), set);
    }

    #[test]
    fn apply_conflicts_with_another_manager_unless_forced() {
        let mut live = deployment(1, "a");
        record_update(None, &mut live, "kubectl-create", "apps/v1", None, "t0");
        let config = deployment(3, "a");
        let conflicts = apply(&live, &config, "kubectl", false, "t1", merge)
            .unwrap()
            .unwrap_err();
        assert_eq!(conflicts.len(), 1);
        assert_eq!(display_path(&conflicts[0].path), ".spec.replicas");
        let forced = apply(&live, &config, "kubectl", true, "t1", merge)
            .unwrap()
            .unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        let owners: Vec<_> = entries(&forced).into_iter().map(|e| e.manager).collect();
        assert_eq!(owners, ["kubectl-create", "kubectl"]);
    }

    #[test]
    fn apply_removes_fields_the_manager_stopped_sending() {
        let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let live = apply(
            &json!({"metadata": {"name": "c"}}),
            &first,
            "m",
            false,
            "t0",
            merge,
        )
        .unwrap()
        .unwrap();
        let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let live = apply(&live, &second, "m", false, "t1", merge)
            .unwrap()
            .unwrap();
        assert_eq!(live["data"], json!({"a": "1"}));
    }
}
