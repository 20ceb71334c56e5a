//! Online endpoints and their deployments in the fake ARM: create/update (PUT, 201 +
//! `Azure-AsyncOperation`), scale and tags (PATCH), delete (202 + `Location`) — with the service's
//! own refusals: a busy resource (409), a compute that is not a Kubernetes compute, unknown assets,
//! traffic that does not add up to 100, deleting a deployment that still takes traffic.

use serde_json::{Map, Value, json};

use super::operations::{Answer, Family, start};
use super::routes::now;
use super::server::{Call, Reply, Shared, arm_error};
use super::state::{Effect, State, TENANT};

const ENDPOINT_TYPE: &str = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints";
const DEPLOYMENT_TYPE: &str =
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments";

pub(super) fn missing(what: &str, name: &str) -> Reply {
    arm_error(
        404,
        "ResourceNotFound",
        &format!("{what} '{name}' was not found."),
    )
}

pub(super) fn busy(state: &State, key: &str) -> bool {
    state.operations.values().any(|op| {
        !op.done
            && matches!(&op.effect, Effect::Provisioned(k) | Effect::Removed(k) if k == key || key.starts_with(&format!("{k}/")))
    })
}

pub(super) fn conflict(name: &str) -> Reply {
    arm_error(
        409,
        "Conflict",
        &format!("An operation on '{name}' is already in progress; retry when it has finished."),
    )
}

fn name_of(call: &Call) -> String {
    call.path.rsplit('/').next().unwrap_or("").to_string()
}

/// The traffic map of an endpoint.
fn traffic(endpoint: &Value) -> Map<String, Value> {
    endpoint
        .pointer("/properties/traffic")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn shown(key: &str) -> impl Fn(&State) -> Value + '_ {
    move |state: &State| state.endpoints.get(key).cloned().unwrap_or(Value::Null)
}

/// GET of an endpoint or a deployment, or a list of either.
pub(super) fn get(state: &State, call: &Call, list: bool) -> Reply {
    let key = call.path.to_ascii_lowercase();
    if list {
        // Like ARM, the deployments of an endpoint that does not exist are not an empty list.
        if let Some(parent) = key.strip_suffix("/deployments")
            && !state.endpoints.contains_key(parent)
        {
            return missing("Online endpoint", parent.rsplit('/').next().unwrap_or(""));
        }
        let prefix = format!("{key}/");
        let value: Vec<Value> = state
            .endpoints
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
            .map(|(_, v)| v.clone())
            .collect();
        return Reply::ok(200, json!({ "value": value }));
    }
    match state.endpoints.get(&key) {
        Some(v) => Reply::ok(200, v.clone()),
        None if key.contains("/deployments/") => missing("Deployment", &name_of(call)),
        None => missing("Online endpoint", &name_of(call)),
    }
}

/// PUT of an endpoint.
pub(super) fn put_endpoint(shared: &Shared, state: &mut State, call: &Call) -> Reply {
    let key = call.path.to_ascii_lowercase();
    let name = name_of(call);
    if busy(state, &key) {
        return conflict(&name);
    }
    let body = call.json();
    let props = &body["properties"];
    if let Some(compute) = props["compute"].as_str() {
        match state.computes.get(&compute.to_ascii_lowercase()) {
            Some(c)
                if c.pointer("/properties/computeType").and_then(Value::as_str)
                    == Some("Kubernetes") => {}
            Some(_) => {
                return arm_error(
                    400,
                    "BadRequest",
                    &format!("Compute '{compute}' is not a Kubernetes compute."),
                );
            }
            None => {
                return arm_error(
                    400,
                    "BadRequest",
                    &format!("Compute '{compute}' was not found."),
                );
            }
        }
    }
    let shares = props["traffic"].as_object().cloned().unwrap_or_default();
    for deployment in shares.keys() {
        if !state.endpoints.contains_key(&format!(
            "{key}/deployments/{}",
            deployment.to_ascii_lowercase()
        )) {
            return arm_error(
                400,
                "BadRequest",
                &format!("Traffic names deployment '{deployment}', which does not exist."),
            );
        }
    }
    let sum: i64 = shares.values().filter_map(Value::as_i64).sum();
    if !shares.is_empty() && sum != 100 && sum != 0 {
        return arm_error(
            400,
            "BadRequest",
            &format!("Traffic must add up to 100 (or 0); it adds up to {sum}."),
        );
    }
    let existing = state.endpoints.get(&key).cloned();
    let mut properties = props.clone();
    properties["provisioningState"] = json!(if existing.is_some() {
        "Updating"
    } else {
        "Creating"
    });
    let host = state.scoring_host.as_deref().unwrap_or("10.0.0.4");
    properties["scoringUri"] = json!(format!("http://{host}/api/v1/endpoint/{name}/score"));
    properties["swaggerUri"] = json!(format!("http://{host}/api/v1/endpoint/{name}/swagger.json"));
    properties["traffic"] = json!(shares);
    properties.as_object_mut().expect("object").remove("keys");
    let mut endpoint = json!({"id": call.path, "name": name, "type": ENDPOINT_TYPE,
        "location": body["location"], "properties": properties, "systemData": {"createdAt": now()}});
    if let Some(kind) = body.pointer("/identity/type").and_then(Value::as_str) {
        endpoint["identity"] =
            json!({"type": kind, "principalId": state.fresh_id(), "tenantId": TENANT});
    }
    if let Some(created) = existing
        .as_ref()
        .and_then(|e| e.pointer("/systemData/createdAt"))
    {
        endpoint["systemData"]["createdAt"] = created.clone();
    }
    if existing.is_none() {
        let keys = (
            state.fresh_id().replace('-', ""),
            state.fresh_id().replace('-', ""),
        );
        state.keys.insert(key.clone(), keys);
    }
    state.endpoints.insert(key.clone(), endpoint);
    operate(
        shared,
        state,
        call,
        &key,
        Effect::Provisioned(key.clone()),
        true,
    )
}

/// PUT of a deployment.
pub(super) fn put_deployment(shared: &Shared, state: &mut State, call: &Call) -> Reply {
    let key = call.path.to_ascii_lowercase();
    let name = name_of(call);
    let endpoint_key = key
        .rsplit_once("/deployments/")
        .map(|(e, _)| e.to_string())
        .unwrap_or_default();
    let Some(endpoint) = state.endpoints.get(&endpoint_key).cloned() else {
        return missing(
            "Online endpoint",
            endpoint_key.rsplit('/').next().unwrap_or(""),
        );
    };
    if busy(state, &key) {
        return conflict(&name);
    }
    let body = call.json();
    let props = &body["properties"];
    for field in ["model", "environmentId", "codeConfiguration/codeId"] {
        if let Some(id) = props.pointer(&format!("/{field}")).and_then(Value::as_str)
            && !state.assets.contains_key(&id.to_ascii_lowercase())
        {
            return arm_error(
                400,
                "BadRequest",
                &format!("Asset '{id}' ({field}) was not found in the workspace."),
            );
        }
    }
    if endpoint
        .pointer("/properties/compute")
        .is_some_and(Value::is_string)
        && props["endpointComputeType"] != "Kubernetes"
    {
        return arm_error(
            400,
            "BadRequest",
            "Deployments of an endpoint on a Kubernetes compute must have endpointComputeType Kubernetes.",
        );
    }
    let existing = state.endpoints.get(&key).cloned();
    let mut properties = props.clone();
    properties["provisioningState"] = json!(if existing.is_some() {
        "Updating"
    } else {
        "Creating"
    });
    let mut deployment = json!({"id": call.path, "name": name, "type": DEPLOYMENT_TYPE,
        "location": body["location"], "sku": body["sku"], "properties": properties,
        "systemData": {"createdAt": existing.as_ref().and_then(|e| e.pointer("/systemData/createdAt")).cloned().unwrap_or(json!(now()))}});
    if body["tags"].is_object() {
        deployment["tags"] = body["tags"].clone();
    }
    state.endpoints.insert(key.clone(), deployment);
    operate(
        shared,
        state,
        call,
        &key,
        Effect::Provisioned(key.clone()),
        true,
    )
}

/// PATCH of a deployment: `sku` (the instance count) and `tags` only, as the spec allows.
pub(super) fn patch_deployment(shared: &Shared, state: &mut State, call: &Call) -> Reply {
    let key = call.path.to_ascii_lowercase();
    if busy(state, &key) {
        return conflict(&name_of(call));
    }
    let body = call.json();
    let Some(deployment) = state.endpoints.get_mut(&key) else {
        return missing("Deployment", &name_of(call));
    };
    if let Some(sku) = body["sku"].as_object() {
        for (k, v) in sku {
            deployment["sku"][k] = v.clone();
        }
    }
    if body["tags"].is_object() {
        deployment["tags"] = body["tags"].clone();
    }
    deployment["properties"]["provisioningState"] = json!("Scaling");
    operate(
        shared,
        state,
        call,
        &key,
        Effect::Provisioned(key.clone()),
        false,
    )
}

/// DELETE of an endpoint (with its deployments) or of a deployment without traffic.
pub(super) fn delete(shared: &Shared, state: &mut State, call: &Call) -> Reply {
    let key = call.path.to_ascii_lowercase();
    let name = name_of(call);
    if !state.endpoints.contains_key(&key) {
        return Reply::empty(204);
    }
    if let Some((endpoint_key, _)) = key.rsplit_once("/deployments/") {
        let share = state
            .endpoints
            .get(endpoint_key)
            .map(traffic)
            .unwrap_or_default();
        let taking = share
            .iter()
            .find(|(d, v)| d.eq_ignore_ascii_case(&name) && v.as_i64().unwrap_or(0) > 0);
        if let Some((_, percent)) = taking {
            return arm_error(
                400,
                "BadRequest",
                &format!(
                    "Deployment '{name}' takes {percent}% of the traffic; set its traffic to 0 before deleting it."
                ),
            );
        }
    }
    if busy(state, &key) {
        return conflict(&name);
    }
    if let Some(r) = state.endpoints.get_mut(&key) {
        r["properties"]["provisioningState"] = json!("Deleting");
    }
    operate(
        shared,
        state,
        call,
        &key,
        Effect::Removed(key.clone()),
        false,
    )
}

/// Starts the operation with `effect` on the resource at `key`, in that resource's region; a
/// failure the test planned for this path makes it end `Failed`.
pub(super) fn operate(
    shared: &Shared,
    state: &mut State,
    call: &Call,
    key: &str,
    effect: Effect,
    create: bool,
) -> Reply {
    let location = state
        .endpoints
        .get(key)
        .and_then(|r| r["location"].as_str())
        .unwrap_or("eastus")
        .to_string();
    let failure = shared.take_failure(&call.path);
    start(
        shared,
        state,
        &location,
        effect,
        failure,
        Answer {
            family: Family::Mfe,
            create,
            resource: &shown(key),
        },
    )
}

/// Ends an operation on an endpoint or deployment.
pub(super) fn finish(state: &mut State, effect: &Effect, failure: Option<(String, String)>) {
    match effect {
        Effect::Provisioned(key) => {
            if let Some(r) = state.endpoints.get_mut(key) {
                let done = if failure.is_some() {
                    "Failed"
                } else {
                    "Succeeded"
                };
                r["properties"]["provisioningState"] = json!(done);
            }
        }
        Effect::Removed(key) if failure.is_none() => {
            let prefix = format!("{key}/");
            state
                .endpoints
                .retain(|k, _| k != key && !k.starts_with(&prefix));
            state.keys.remove(key);
            // What was still being made in it ends with it, as in ARM.
            for op in state.operations.values_mut() {
                if let Effect::Provisioned(k) = &op.effect
                    && (k == key || k.starts_with(&prefix))
                {
                    op.done = true;
                }
            }
        }
        Effect::Removed(key) => {
            if let Some(r) = state.endpoints.get_mut(key) {
                r["properties"]["provisioningState"] = json!("Succeeded");
            }
        }
        Effect::KeyRegenerated(key, primary, value) if failure.is_none() => {
            if let Some(keys) = state.keys.get_mut(key) {
                if *primary {
                    keys.0 = value.clone();
                } else {
                    keys.1 = value.clone();
                }
            }
        }
        _ => {}
    }
}
