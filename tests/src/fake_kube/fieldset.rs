//! Field sets in the `FieldsV1` format of `metadata.managedFields`: which fields an object sets,
//! reading, removing and printing a field by its path.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::kinds::{ListType, list_type};

/// A field path in `FieldsV1` element syntax: `f:spec`, `k:{"name":"fe"}`, `v:"x"`.
pub type FieldPath = Vec<String>;
/// A set of field paths.
pub type FieldSet = BTreeSet<FieldPath>;

/// The fields an object sets, skipping what no manager owns (identity, status, server metadata).
pub fn field_set(object: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(map) = object.as_object() else {
        return out;
    };
    for (key, value) in map {
        match key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                for owned in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(v) = value.get(owned) {
                        let single = json!({ owned: v });
                        let mut prefix = vec!["f:metadata".to_string()];
                        collect(&single, &mut prefix, &mut vec!["metadata".into()], &mut out);
                    }
                }
            }
            _ => {
                let single = json!({ key: value });
                collect(&single, &mut vec![], &mut vec![], &mut out);
            }
        }
    }
    out
}

fn collect(value: &Value, prefix: &mut FieldPath, names: &mut Vec<String>, out: &mut FieldSet) {
    let Value::Object(map) = value else { return };
    for (key, v) in map {
        prefix.push(format!("f:{key}"));
        match v {
            Value::Array(items) => match list_type(names, key) {
                ListType::Atomic => {
                    out.insert(prefix.clone());
                }
                ListType::Set => {
                    for item in items {
                        prefix.push(format!("v:{item}"));
                        out.insert(prefix.clone());
                        prefix.pop();
                    }
                }
                ListType::Map(keys) => {
                    names.push(key.clone());
                    for item in items {
                        prefix.push(format!("k:{}", item_key(item, keys)));
                        out.insert(prefix.clone());
                        collect(item, prefix, names, out);
                        prefix.pop();
                    }
                    names.pop();
                }
            },
            Value::Object(inner) if !inner.is_empty() => {
                names.push(key.clone());
                collect(v, prefix, names, out);
                names.pop();
            }
            _ => {
                out.insert(prefix.clone());
            }
        }
        prefix.pop();
    }
}

fn item_key(item: &Value, keys: &[&str]) -> String {
    let map: Map<String, Value> = keys
        .iter()
        .map(|k| (k.to_string(), item.get(*k).cloned().unwrap_or(Value::Null)))
        .collect();
    Value::Object(map).to_string()
}

/// The value at a field path; keyed items and set members answer `true` when present.
pub fn value_at(object: &Value, path: &[String]) -> Option<Value> {
    let mut node = object;
    for (i, element) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        if let Some(field) = element.strip_prefix("f:") {
            node = node.get(field)?;
        } else if let Some(key) = element.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).ok()?;
            node = node
                .as_array()?
                .iter()
                .find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)))?;
            if last {
                return Some(Value::Bool(true));
            }
        } else if let Some(member) = element.strip_prefix("v:") {
            let member: Value = serde_json::from_str(member).ok()?;
            return node
                .as_array()?
                .contains(&member)
                .then_some(Value::Bool(true));
        }
    }
    Some(node.clone())
}

/// Removes the field at a path, if present.
pub fn remove_at(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = object;
    for element in parents {
        let next = if let Some(field) = element.strip_prefix("f:") {
            node.get_mut(field)
        } else if let Some(key) = element.strip_prefix("k:") {
            let Ok(key) = serde_json::from_str::<Map<String, Value>>(key) else {
                return;
            };
            node.as_array_mut().and_then(|items| {
                items
                    .iter_mut()
                    .find(|i| key.iter().all(|(k, v)| i.get(k) == Some(v)))
            })
        } else {
            None
        };
        let Some(next) = next else { return };
        node = next;
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Some(map) = node.as_object_mut() {
            map.remove(field);
        }
    } else if let Some(key) = last.strip_prefix("k:") {
        if let (Ok(key), Some(items)) = (
            serde_json::from_str::<Map<String, Value>>(key),
            node.as_array_mut(),
        ) {
            items.retain(|i| !key.iter().all(|(k, v)| i.get(k) == Some(v)));
        }
    } else if let Some(member) = last.strip_prefix("v:")
        && let (Ok(member), Some(items)) =
            (serde_json::from_str::<Value>(member), node.as_array_mut())
    {
        items.retain(|i| *i != member);
    }
}

/// Encodes a field set as `fieldsV1`.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Value::Object(Map::new());
    for path in set {
        let mut node = &mut root;
        for element in path {
            node = node
                .as_object_mut()
                .expect("object")
                .entry(element.clone())
                .or_insert_with(|| json!({}));
        }
        // A path that is also a parent (a keyed item) marks itself with ".".
        if !node.as_object().expect("object").is_empty()
            || set
                .iter()
                .any(|p| p.len() > path.len() && p.starts_with(path))
        {
            node.as_object_mut()
                .expect("object")
                .insert(".".into(), json!({}));
        }
    }
    root
}

/// Decodes `fieldsV1` into a field set.
pub fn from_fields_v1(value: &Value) -> FieldSet {
    fn walk(node: &Value, prefix: &mut FieldPath, out: &mut FieldSet) {
        let Some(map) = node.as_object() else { return };
        for (key, child) in map {
            if key == "." {
                out.insert(prefix.clone());
                continue;
            }
            prefix.push(key.clone());
            if child.as_object().is_none_or(Map::is_empty) {
                out.insert(prefix.clone());
            } else {
                walk(child, prefix, out);
            }
            prefix.pop();
        }
    }
    let mut out = FieldSet::new();
    walk(value, &mut vec![], &mut out);
    out
}

/// A field path as conflict messages print it: `.spec.template.spec.containers[name="fe"].image`.
pub fn display_path(path: &[String]) -> String {
    let mut text = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            text.push('.');
            text.push_str(field);
        } else if let Some(key) = element.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            text.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(member) = element.strip_prefix("v:") {
            text.push_str(&format!("[{member}]"));
        }
    }
    text
}
