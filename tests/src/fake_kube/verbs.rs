//! The verbs on collections (list, create, delete-collection) and objects (get, replace, patch,
//! server-side apply, delete, and the `scale`/`status` subresources).

use base64::Engine;
use http::Method;
use serde_json::{Value, json};

use super::kinds::KindDef;
use super::managed::{self, display_path};
use super::patch::{json_patch, merge_patch, strategic_merge};
use super::selectors::{FieldSelector, LabelSelector};
use super::server::{Call, Shared};
use super::status::{self, ApiError};
use super::store::{Ownership, Propagation, Store, Write, now};

type Answer = Result<(u16, Value), ApiError>;

/// Verbs on `/…/{plural}`.
pub fn collection(
    shared: &Shared,
    call: &Call,
    kind: &'static KindDef,
    namespace: Option<&str>,
) -> Answer {
    let mut store = shared.store.lock().expect("store");
    match call.method {
        Method::GET => list(&store, call, kind, namespace),
        Method::POST => {
            let namespace = match (kind.namespaced, namespace) {
                (true, Some(ns)) => ns,
                (true, None) => return Err(status::method_not_allowed("POST")),
                (false, _) => "",
            };
            let created = store.create(
                kind,
                namespace,
                call.json()?,
                Ownership::Update(&call.manager()),
                call.dry_run(),
            )?;
            Ok((201, created))
        }
        Method::DELETE => {
            let (_, listed) = list(&store, call, kind, namespace)?;
            let mut deleted = Vec::new();
            for item in listed["items"].as_array().into_iter().flatten() {
                let ns = item["metadata"]["namespace"].as_str().unwrap_or("");
                let name = item["metadata"]["name"].as_str().unwrap_or("");
                deleted.push(store.delete(
                    kind,
                    ns,
                    name,
                    Propagation::Background,
                    (None, None),
                    call.dry_run(),
                )?);
            }
            Ok((
                200,
                list_document(kind, store.resource_version(), deleted, None),
            ))
        }
        _ => Err(status::method_not_allowed(call.method.as_str())),
    }
}

fn list_document(
    kind: &KindDef,
    rv: u64,
    items: Vec<Value>,
    page: Option<(String, usize)>,
) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some((token, remaining)) = page {
        metadata["continue"] = json!(token);
        metadata["remainingItemCount"] = json!(remaining);
    }
    // Items in a list carry no apiVersion/kind: the list's own says what they are.
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut i| {
            if let Some(map) = i.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
            i
        })
        .collect();
    json!({"kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(), "metadata": metadata, "items": items})
}

fn list(store: &Store, call: &Call, kind: &'static KindDef, namespace: Option<&str>) -> Answer {
    let labels = LabelSelector::parse(call.param("labelSelector").unwrap_or(""))
        .map_err(status::bad_request)?;
    let fields = FieldSelector::parse(call.param("fieldSelector").unwrap_or(""), kind)
        .map_err(status::bad_request)?;
    let limit: usize = match call.param("limit") {
        Some(l) => l
            .parse()
            .map_err(|_| status::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
    };
    let after = match call.param("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(decode_continue(token)?),
        None => None,
    };
    let key = |o: &Value| {
        format!(
            "{}/{}",
            o["metadata"]["namespace"].as_str().unwrap_or(""),
            o["metadata"]["name"].as_str().unwrap_or("")
        )
    };
    let matching: Vec<&Value> = store
        .list(kind, namespace)
        .into_iter()
        .filter(|o| labels.matches(o["metadata"]["labels"].as_object()) && fields.matches(o))
        .filter(|o| after.as_ref().is_none_or(|a| key(o) > *a))
        .collect();
    let take = if limit == 0 {
        matching.len()
    } else {
        limit.min(matching.len())
    };
    let page = (take < matching.len()).then(|| {
        (
            encode_continue(&key(matching[take - 1])),
            matching.len() - take,
        )
    });
    let items = matching[..take].iter().map(|o| (*o).clone()).collect();
    Ok((
        200,
        list_document(kind, store.resource_version(), items, page),
    ))
}

fn encode_continue(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"v": "meta.k8s.io/v1", "start": last}).to_string())
}

fn decode_continue(token: &str) -> Result<String, ApiError> {
    let invalid = || {
        status::bad_request("continue key is not valid: incorrect encoded start resourceVersion")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    value["start"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(invalid)
}

/// Verbs on `/…/{plural}/{name}[/{sub}]`.
pub fn object(
    shared: &Shared,
    call: &Call,
    kind: &'static KindDef,
    namespace: &str,
    name: &str,
    sub: Option<&str>,
) -> Answer {
    let mut store = shared.store.lock().expect("store");
    let current = || {
        store
            .get(kind, namespace, name)
            .cloned()
            .ok_or_else(|| status::not_found(kind, name))
    };
    match (&call.method, sub) {
        (&Method::GET, Some("scale")) => Ok((200, scale_of(&current()?))),
        (&Method::GET, _) => Ok((200, current()?)),
        (&Method::PUT, Some("scale")) => {
            let live = current()?;
            write_scale(&mut store, call, kind, &live, &call.json()?)
        }
        (&Method::PUT, sub) => {
            let body = call.json()?;
            let expected = body["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_string);
            let manager = call.manager();
            if store.get(kind, namespace, name).is_none()
                && matches!(kind.kind, "Lease" | "Endpoints")
            {
                return Ok((
                    201,
                    store.create(
                        kind,
                        namespace,
                        body,
                        Ownership::Update(&manager),
                        call.dry_run(),
                    )?,
                ));
            }
            let replaced = store.replace(
                kind,
                namespace,
                name,
                body,
                Write::by(Ownership::Update(&manager))
                    .expecting(expected.as_deref())
                    .through(sub)
                    .dry(call.dry_run()),
            )?;
            Ok((200, replaced))
        }
        (&Method::PATCH, sub) => patch(&mut store, call, kind, namespace, name, sub),
        (&Method::DELETE, None) => delete(&mut store, call, kind, namespace, name),
        _ => Err(status::method_not_allowed(call.method.as_str())),
    }
}

fn patch(
    store: &mut Store,
    call: &Call,
    kind: &'static KindDef,
    namespace: &str,
    name: &str,
    sub: Option<&str>,
) -> Answer {
    let content_type = call
        .header("content-type")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if content_type == "application/apply-patch+yaml" {
        return apply(store, call, kind, namespace, name, sub);
    }
    let live = store
        .get(kind, namespace, name)
        .cloned()
        .ok_or_else(|| status::not_found(kind, name))?;
    let document = if sub == Some("scale") {
        scale_of(&live)
    } else {
        live.clone()
    };
    let patch = call.json()?;
    let patched = match content_type.as_str() {
        "application/merge-patch+json" => {
            let mut doc = document.clone();
            merge_patch(&mut doc, &patch);
            doc
        }
        "application/strategic-merge-patch+json" => {
            let mut doc = document.clone();
            strategic_merge(&mut doc, &patch, &mut vec![]).map_err(status::bad_request)?;
            doc
        }
        "application/json-patch+json" => {
            json_patch(&document, &patch).map_err(|e| status::invalid(kind, name, "patch", &e))?
        }
        other => return Err(status::unsupported_media_type(other)),
    };
    // A patch that names a resourceVersion is an optimistic-concurrency precondition.
    let expected = patched["metadata"]["resourceVersion"]
        .as_str()
        .filter(|rv| Some(*rv) != document["metadata"]["resourceVersion"].as_str());
    if expected.is_some() {
        return Err(status::conflict(kind, name));
    }
    if sub == Some("scale") {
        return write_scale(store, call, kind, &live, &patched);
    }
    let replaced = store.replace(
        kind,
        namespace,
        name,
        patched,
        Write::by(Ownership::Update(&call.manager()))
            .through(sub)
            .dry(call.dry_run()),
    )?;
    Ok((200, replaced))
}

fn apply(
    store: &mut Store,
    call: &Call,
    kind: &'static KindDef,
    namespace: &str,
    name: &str,
    sub: Option<&str>,
) -> Answer {
    let Some(manager) = call.param("fieldManager").filter(|m| !m.is_empty()) else {
        return Err(status::failure(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            None,
        ));
    };
    if sub.is_some() {
        return Err(status::method_not_allowed("PATCH (apply) on a subresource"));
    }
    let text = std::str::from_utf8(&call.body)
        .map_err(|_| status::bad_request("the apply body is not UTF-8"))?;
    let mut config: Value = serde_saphyr::from_str(text)
        .map_err(|e| status::bad_request(format!("error decoding YAML: {e}")))?;
    if config["metadata"]["name"]
        .as_str()
        .is_some_and(|n| n != name)
    {
        let sent = config["metadata"]["name"].as_str().unwrap_or_default();
        return Err(status::bad_request(format!(
            "the name of the object ({sent}) does not match the name on the URL ({name})"
        )));
    }
    config["metadata"]["name"] = json!(name);
    let force = call.param("force") == Some("true");
    let Some(live) = store.get(kind, namespace, name).cloned() else {
        let created = store.create(
            kind,
            namespace,
            config.clone(),
            Ownership::Apply(manager, &config),
            call.dry_run(),
        )?;
        return Ok((201, created));
    };
    let merge = |target: &mut Value, config: &Value| strategic_merge(target, config, &mut vec![]);
    match managed::apply(&live, &config, manager, force, &now(), merge)
        .map_err(status::bad_request)?
    {
        Ok(result) => {
            let replaced = store.replace(
                kind,
                namespace,
                name,
                result,
                Write::by(Ownership::AsGiven).dry(call.dry_run()),
            )?;
            Ok((200, replaced))
        }
        Err(conflicts) => {
            let manager_of = |c: &managed::Conflict| match &c.subresource {
                Some(sub) => format!(
                    "conflict with \"{}\" with subresource \"{sub}\" using {}",
                    c.manager, c.api_version
                ),
                None => format!("conflict with \"{}\" using {}", c.manager, c.api_version),
            };
            let fields: Vec<String> = conflicts.iter().map(|c| display_path(&c.path)).collect();
            let message = if conflicts.len() == 1 {
                format!(
                    "Apply failed with 1 conflict: {}: {}",
                    manager_of(&conflicts[0]),
                    fields[0]
                )
            } else {
                let lines: Vec<String> = conflicts
                    .iter()
                    .map(|c| format!("{}: {}", manager_of(c), display_path(&c.path)))
                    .collect();
                format!(
                    "Apply failed with {} conflicts: {}",
                    conflicts.len(),
                    lines.join("\n")
                )
            };
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| json!({"reason": "FieldManagerConflict", "message": manager_of(c), "field": display_path(&c.path)}))
                .collect();
            let details =
                json!({"name": name, "group": kind.group, "kind": kind.plural, "causes": causes});
            Err(status::failure(409, "Conflict", message, Some(details)))
        }
    }
}

/// The autoscaling/v1 Scale view of a Deployment.
fn scale_of(object: &Value) -> Value {
    let meta = &object["metadata"];
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        });
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                     "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector.unwrap_or_default()}
    })
}

fn write_scale(
    store: &mut Store,
    call: &Call,
    kind: &'static KindDef,
    live: &Value,
    scale: &Value,
) -> Answer {
    let name = live["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = live["metadata"]["namespace"].as_str().unwrap_or_default();
    if let Some(rv) = scale["metadata"]["resourceVersion"].as_str()
        && Some(rv) != live["metadata"]["resourceVersion"].as_str()
    {
        return Err(status::conflict(kind, name));
    }
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .filter(|r| *r >= 0);
    let Some(replicas) = replicas else {
        return Err(status::invalid(
            kind,
            name,
            "spec.replicas",
            "Invalid value: must be greater than or equal to 0",
        ));
    };
    let mut updated = live.clone();
    updated["spec"]["replicas"] = json!(replicas);
    let result = store.replace(
        kind,
        namespace,
        name,
        updated,
        Write::by(Ownership::Update(&call.manager()))
            .through(Some("scale"))
            .dry(call.dry_run()),
    )?;
    Ok((200, scale_of(&result)))
}

fn delete(
    store: &mut Store,
    call: &Call,
    kind: &'static KindDef,
    namespace: &str,
    name: &str,
) -> Answer {
    let options = call.json()?;
    let policy = options["propagationPolicy"]
        .as_str()
        .map(str::to_string)
        .or_else(|| call.param("propagationPolicy").map(str::to_string));
    let propagation = match policy.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            let message = format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": \
                 supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            );
            return Err(status::failure(422, "Invalid", message, None));
        }
    };
    let dry_run = call.dry_run()
        || options["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    let uid = options
        .pointer("/preconditions/uid")
        .and_then(Value::as_str);
    let rv = options
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str);
    Ok((
        200,
        store.delete(kind, namespace, name, propagation, (uid, rv), dry_run)?,
    ))
}
