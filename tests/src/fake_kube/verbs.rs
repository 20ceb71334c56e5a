//! The verbs on one object: get, replace, patch (merge, JSON, strategic), delete, and the `scale`
//! and `status` subresources. Collections: `collection.rs`; server-side apply: `apply.rs`.

use http::Method;
use serde_json::{Value, json};

use super::deletion::Propagation;
use super::kinds::KindDef;
use super::ownership::{Ownership, Write};
use super::patch::{json_patch, merge_patch, strategic_merge};
use super::route::ObjectRef;
use super::server::{Call, Shared};
use super::status::{self, ApiError};
use super::store::Store;

/// A status code and body, or a Status error.
pub(super) type Answer = Result<(u16, Value), ApiError>;

/// Verbs on `/…/{plural}/{name}[/{sub}]`.
pub fn object(shared: &Shared, call: &Call, object: &ObjectRef) -> Answer {
    let (kind, namespace, name) = (object.kind, object.namespace.as_str(), object.name.as_str());
    let mut store = shared.store.lock().expect("store");
    let current = || {
        store
            .get(kind, namespace, name)
            .cloned()
            .ok_or_else(|| status::not_found(kind, name))
    };
    match (&call.method, object.sub.as_deref()) {
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
        (&Method::PATCH, _) => patch(&mut store, call, object),
        (&Method::DELETE, None) => delete(&mut store, call, object),
        _ => Err(status::method_not_allowed(call.method.as_str())),
    }
}

fn patch(store: &mut Store, call: &Call, object: &ObjectRef) -> Answer {
    let (kind, namespace, name) = (object.kind, object.namespace.as_str(), object.name.as_str());
    let sub = object.sub.as_deref();
    let content_type = call
        .header("content-type")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if content_type == "application/apply-patch+yaml" {
        return super::apply::apply(store, call, object);
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

fn delete(store: &mut Store, call: &Call, object: &ObjectRef) -> Answer {
    let (kind, namespace, name) = (object.kind, object.namespace.as_str(), object.name.as_str());
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
