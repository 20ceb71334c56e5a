//! The three PATCH flavours: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes
//! strategic merge patch (keyed lists, `$patch`, `$retainKeys`, `$deleteFromPrimitiveList`).

use serde_json::{Map, Value};

use super::kinds::{ListType, list_type};

/// RFC 7386: objects merge, `null` deletes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("object");
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// RFC 6902: applies the operations in order; fails without changing `doc` when any fails.
pub fn json_patch(doc: &Value, ops: &Value) -> Result<Value, String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be an array of operations")?;
    let mut out = doc.clone();
    for op in ops {
        let name = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or("operation without `op`")?;
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or("operation without `path`")?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or(format!("`{name}` operation without `value`"))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or(format!("`{name}` operation without `from`"))
        };
        match name {
            "add" => add(&mut out, path, value()?)?,
            "remove" => {
                remove(&mut out, path)?;
            }
            "replace" => {
                remove(&mut out, path)?;
                add(&mut out, path, value()?)?;
            }
            "move" => {
                let moved = remove(&mut out, from()?)?;
                add(&mut out, path, moved)?;
            }
            "copy" => {
                let copied = out
                    .pointer(from()?)
                    .cloned()
                    .ok_or(format!("missing path {:?}", from()?))?;
                add(&mut out, path, copied)?;
            }
            "test" => {
                if out.pointer(path) != Some(&value()?) {
                    return Err(format!("testing value {path} failed"));
                }
            }
            other => return Err(format!("unexpected operation {other:?}")),
        }
    }
    Ok(out)
}

fn split_pointer(path: &str) -> Result<(String, String), String> {
    let idx = path
        .rfind('/')
        .ok_or(format!("invalid JSON pointer {path:?}"))?;
    let last = path[idx + 1..].replace("~1", "/").replace("~0", "~");
    Ok((path[..idx].to_string(), last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(map)) => {
            map.insert(last, value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let at = if last == "-" {
                items.len()
            } else {
                last.parse().map_err(|_| format!("bad index {last:?}"))?
            };
            if at > items.len() {
                return Err(format!("index {at} out of range in {path:?}"));
            }
            items.insert(at, value);
            Ok(())
        }
        _ => Err(format!(
            "add operation does not apply: doc is missing path: {path:?}"
        )),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    let missing = || format!("remove operation does not apply: doc is missing path: {path:?}");
    match doc.pointer_mut(&parent) {
        Some(Value::Object(map)) => map.remove(&last).ok_or_else(missing),
        Some(Value::Array(items)) => {
            let at: usize = last.parse().map_err(|_| missing())?;
            (at < items.len())
                .then(|| items.remove(at))
                .ok_or_else(missing)
        }
        _ => Err(missing()),
    }
}

/// Kubernetes strategic merge patch of `patch` into `target`; `path` is the field path of `target`.
pub fn strategic_merge(
    target: &mut Value,
    patch: &Value,
    path: &mut Vec<String>,
) -> Result<(), String> {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = Value::Object(without_directives(patch));
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some(other) => return Err(format!("unknown patch type {other:?}")),
        None => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("object");
    if let Some(keep) = patch.get("$retainKeys").and_then(Value::as_array) {
        map.retain(|k, _| keep.iter().any(|v| v.as_str() == Some(k)));
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Some(drop)) = (map.get_mut(field), value.as_array())
            {
                items.retain(|i| !drop.contains(i));
            }
            continue;
        }
        if key.starts_with('$') {
            continue; // $setElementOrder/..., $retainKeys: ordering hints we do not need.
        }
        if value.is_null() {
            map.remove(key);
            continue;
        }
        let slot = map.entry(key.clone()).or_insert(Value::Null);
        match value {
            Value::Object(_) => {
                path.push(key.clone());
                strategic_merge(slot, value, path)?;
                path.pop();
                if slot.is_null() {
                    map.remove(key);
                }
            }
            Value::Array(items) => merge_list(slot, items, list_type(path, key), path, key)?,
            scalar => *slot = scalar.clone(),
        }
    }
    Ok(())
}

fn without_directives(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn merge_list(
    slot: &mut Value,
    items: &[Value],
    kind: ListType,
    path: &mut Vec<String>,
    key: &str,
) -> Result<(), String> {
    let replace = items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"));
    let current = match slot {
        Value::Array(current) if !replace => current,
        _ => {
            let kept = items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .cloned()
                .collect();
            *slot = Value::Array(kept);
            return Ok(());
        }
    };
    match kind {
        ListType::Atomic => *current = items.to_vec(),
        ListType::Set => {
            for item in items {
                if !current.contains(item) {
                    current.push(item.clone());
                }
            }
        }
        ListType::Map(keys) => {
            path.push(key.to_string());
            for item in items {
                let same = |c: &Value| keys.iter().all(|k| c.get(*k) == item.get(*k));
                if item.get("$patch").and_then(Value::as_str) == Some("delete") {
                    current.retain(|c| !same(c));
                } else if let Some(existing) = current.iter_mut().find(|c| same(c)) {
                    strategic_merge(existing, item, path)?;
                } else {
                    let mut fresh = Value::Null;
                    strategic_merge(&mut fresh, item, path)?;
                    current.push(fresh);
                }
            }
            path.pop();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn json_patch_follows_rfc_6902_and_is_all_or_nothing() {
        let doc = json!({"spec": {"replicas": 1, "list": [1, 2]}});
        let ops = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "test", "path": "/spec/replicas", "value": 3},
            {"op": "move", "from": "/spec/list", "path": "/items"},
        ]);
        assert_eq!(
            json_patch(&doc, &ops).unwrap(),
            json!({"spec": {"replicas": 3}, "items": [1, 2, 3]})
        );
        let failing = json!([{"op": "remove", "path": "/spec/absent"}]);
        assert!(
            json_patch(&doc, &failing)
                .unwrap_err()
                .contains("missing path")
        );
    }

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let mut doc = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "fe", "image": "a:1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "s:1"}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "fe", "image": "a:2", "ports": [{"containerPort": 443}]},
            {"name": "sidecar", "$patch": "delete"}
        ]}}}});
        strategic_merge(&mut doc, &patch, &mut vec![]).unwrap();
        assert_eq!(
            doc,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "fe", "image": "a:2", "ports": [{"containerPort": 80}, {"containerPort": 443}]}
            ]}}}})
        );
    }

    #[test]
    fn strategic_merge_directives() {
        let mut doc = json!({"metadata": {"finalizers": ["a", "b"], "labels": {"x": "1", "y": "2"}}, "data": {"k": "v"}});
        let patch = json!({
            "metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"], "labels": {"$patch": "replace", "z": "3"}},
            "data": {"k": null}
        });
        strategic_merge(&mut doc, &patch, &mut vec![]).unwrap();
        assert_eq!(
            doc,
            json!({"metadata": {"finalizers": ["b", "c"], "labels": {"z": "3"}}, "data": {}})
        );
    }
}
