//! Computes in the fake ARM: list with `nextLink` paging, GET (which also moves body-polled
//! operations on), PUT (attach or create), DELETE (detach or delete), and the operations they start,
//! answered in the configured completion pattern.

use serde_json::{Value, json};

use super::operations::{Answer, Family, start};
use super::routes::now;
use super::server::{Call, Reply, Shared, arm_error};
use super::state::{Effect, State, TENANT};

pub(super) fn list_computes(shared: &Shared, state: &State, call: &Call) -> Reply {
    let prefix = format!("{}/", call.path.to_ascii_lowercase());
    let all: Vec<Value> = state
        .computes
        .iter()
        .filter(|(id, _)| id.starts_with(&prefix))
        .map(|(_, c)| State::shown(c))
        .collect();
    let skip: usize = call
        .param("$skip")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let page = shared.page_size.max(1);
    let value: Vec<Value> = all.iter().skip(skip).take(page).cloned().collect();
    let mut body = json!({ "value": value });
    if skip + page < all.len() {
        body["nextLink"] = json!(format!(
            "{}{}?api-version={}&$skip={}",
            shared.base_url(),
            call.path,
            call.param("api-version").unwrap_or(""),
            skip + page
        ));
    }
    Reply::ok(200, body)
}

pub(super) fn get_compute(state: &mut State, call: &Call) -> Reply {
    let key = call.path.to_ascii_lowercase();
    state.time_passes_for(&key);
    match state.computes.get(&key) {
        Some(c) => Reply::ok(200, State::shown(c)),
        None => {
            let name = call.path.rsplit('/').next().unwrap_or("");
            arm_error(
                404,
                "ResourceNotFound",
                &format!("Compute '{name}' was not found in the workspace."),
            )
        }
    }
}

pub(super) fn put_compute(shared: &Shared, state: &mut State, call: &Call) -> Reply {
    let key = call.path.to_ascii_lowercase();
    let name = call.path.rsplit('/').next().unwrap_or("").to_string();
    if state.computes.contains_key(&key) {
        return arm_error(
            409,
            "Conflict",
            &format!(
                "Compute with name {name} already exists. Creation is not idempotent; use a new name or delete the existing compute."
            ),
        );
    }
    let body = call.json();
    let workspace_key = key.rsplit_once("/computes/").map(|(w, _)| w).unwrap_or("");
    let workspace = state
        .workspaces
        .get(workspace_key)
        .cloned()
        .unwrap_or_default();
    let props = &body["properties"];
    let mut failure = None;
    let mut cluster_location = None;
    let mut inner = props["properties"].clone();
    if let Some(cluster_id) = props["resourceId"].as_str() {
        let Some(cluster) = State::find(&state.clusters, cluster_id).cloned() else {
            return arm_error(
                400,
                "BadRequest",
                &format!("The cluster '{cluster_id}' could not be found; check the resource id."),
            );
        };
        cluster_location = cluster["location"].as_str().map(str::to_string);
        let installed = state
            .extensions
            .get(&cluster_id.to_ascii_lowercase())
            .into_iter()
            .flatten()
            .any(|e| {
                e.pointer("/properties/extensionType")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("microsoft.azureml.kubernetes"))
            });
        if props["computeType"] == "Kubernetes" && !installed {
            failure = Some((
                "BadRequest".to_string(),
                "The Azure Machine Learning extension is not installed on the cluster: extension not installed.".to_string(),
            ));
        }
        if props["computeType"] == "AKS" {
            if !inner.is_object() {
                inner = json!({});
            }
            inner["clusterFqdn"] = cluster
                .pointer("/properties/fqdn")
                .cloned()
                .unwrap_or(Value::Null);
        }
    }
    if failure.is_none() {
        failure = shared.take_failure(&call.path);
    }
    let location = body["location"]
        .as_str()
        .or(workspace["location"].as_str())
        .unwrap_or("eastus")
        .to_string();
    let mut properties = props.clone();
    properties["provisioningState"] = json!("Creating");
    properties["createdOn"] = json!(now());
    properties["modifiedOn"] = json!(now());
    properties["isAttachedCompute"] = json!(props["resourceId"].is_string());
    properties["provisioningErrors"] = Value::Null;
    if properties["computeLocation"].is_null() {
        properties["computeLocation"] = json!(cluster_location.unwrap_or_else(|| location.clone()));
    }
    if !inner.is_null() {
        properties["properties"] = inner;
    }
    let mut compute = json!({
        "id": call.path, "name": name, "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "location": location, "properties": properties,
    });
    if body["tags"].is_object() {
        compute["tags"] = body["tags"].clone();
    }
    if let Some(kind) = body.pointer("/identity/type").and_then(Value::as_str) {
        let mut identity = json!({"type": kind});
        if kind.to_ascii_lowercase().contains("systemassigned") {
            identity["principalId"] = json!(state.fresh_id());
            identity["tenantId"] = json!(TENANT);
        }
        if let Some(users) = body
            .pointer("/identity/userAssignedIdentities")
            .and_then(Value::as_object)
        {
            let filled: serde_json::Map<String, Value> = users
                .keys()
                .map(|k| (k.clone(), json!({"principalId": "11111111-0000-4000-8000-000000000001", "clientId": "22222222-0000-4000-8000-000000000002"})))
                .collect();
            identity["userAssignedIdentities"] = Value::Object(filled);
        }
        compute["identity"] = identity;
    }
    state.computes.insert(key.clone(), compute);
    start(
        shared,
        state,
        &location,
        Effect::ComputeReady(key.clone()),
        failure,
        Answer {
            family: Family::Compute,
            create: true,
            resource: &shown(&key),
        },
    )
}

pub(super) fn delete_compute(shared: &Shared, state: &mut State, call: &Call) -> Reply {
    let key = call.path.to_ascii_lowercase();
    let Some(compute) = state.computes.get_mut(&key) else {
        return Reply::empty(204);
    };
    let delete = call
        .param("underlyingResourceAction")
        .is_some_and(|a| a.eq_ignore_ascii_case("Delete"));
    if delete && compute["properties"]["isAttachedCompute"] == true {
        return arm_error(
            400,
            "BadRequest",
            "This compute was attached: underlyingResourceAction=Delete only applies to computes Azure Machine Learning created. Use Detach.",
        );
    }
    compute["properties"]["provisioningState"] = json!("Deleting");
    let location = compute["location"].as_str().unwrap_or("eastus").to_string();
    let failure = shared.take_failure(&call.path);
    start(
        shared,
        state,
        &location,
        Effect::ComputeGone(key.clone(), delete),
        failure,
        Answer {
            family: Family::Compute,
            create: false,
            resource: &shown(&key),
        },
    )
}

/// The compute at `key` as GET shows it, for an operation's first answer.
fn shown(key: &str) -> impl Fn(&State) -> Value + '_ {
    move |state: &State| {
        state
            .computes
            .get(key)
            .map(State::shown)
            .unwrap_or(Value::Null)
    }
}
