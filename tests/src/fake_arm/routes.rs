//! Routing of the fake ARM: workspaces, computes (in `computes.rs`), AKS and Arc clusters, their
//! extensions, Kubernetes versions, VM sizes, and
//! the operation status (`Azure-AsyncOperation`) and result (`Location`) URLs.

use serde_json::json;

use super::computes::{delete_compute, get_compute, list_computes, put_compute};
use super::operations::poll;
use super::server::{Call, Reply, Shared, arm_error};
use super::state::State;
use super::{endpoint_actions, endpoints};

pub(super) fn not_found(kind: &str, name: &str, group: &str) -> Reply {
    arm_error(
        404,
        "ResourceNotFound",
        &format!(
            "The Resource '{kind}/{name}' under resource group '{group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}

pub(super) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// Answers a request the spec check let through.
pub fn route(shared: &Shared, call: &Call) -> Reply {
    let segments: Vec<&str> = call.path.trim_matches('/').split('/').collect();
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let method = call.method.as_str();
    let mut state = shared.state.lock().expect("state");
    if l.len() > 8 && l[6] == "workspaces" {
        let workspace = format!("/{}", segments[..8].join("/"));
        if State::find(&state.workspaces, &workspace).is_none() {
            return not_found("Microsoft.MachineLearningServices/workspaces", l[7], l[3]);
        }
        if let Some(reply) = workspace_child(shared, &mut state, call, &segments, &l) {
            return reply;
        }
    }
    match (method, l.as_slice()) {
        (
            "GET",
            [
                "subscriptions",
                _,
                "resourcegroups",
                g,
                "providers",
                "microsoft.machinelearningservices",
                "workspaces",
                w,
            ],
        ) => match State::find(&state.workspaces, &call.path) {
            Some(ws) => Reply::ok(200, ws.clone()),
            None => not_found("Microsoft.MachineLearningServices/workspaces", w, g),
        },
        (
            "GET",
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.machinelearningservices",
                "workspaces",
                _,
                "computes",
            ],
        ) => list_computes(shared, &state, call),
        (
            _,
            [
                "subscriptions",
                _,
                "resourcegroups",
                g,
                "providers",
                "microsoft.machinelearningservices",
                "workspaces",
                w,
                "computes",
                _,
            ],
        ) => {
            let workspace = segments[..8].join("/");
            if State::find(&state.workspaces, &format!("/{workspace}")).is_none() {
                return not_found("Microsoft.MachineLearningServices/workspaces", w, g);
            }
            match method {
                "GET" => get_compute(&mut state, call),
                "PUT" => put_compute(shared, &mut state, call),
                "DELETE" => delete_compute(shared, &mut state, call),
                _ => arm_error(405, "MethodNotAllowed", "method not allowed"),
            }
        }
        (
            "GET",
            [
                "subscriptions",
                _,
                "resourcegroups",
                g,
                "providers",
                provider @ ("microsoft.containerservice" | "microsoft.kubernetes"),
                kind @ ("managedclusters" | "connectedclusters"),
                n,
            ],
        ) => match State::find(&state.clusters, &call.path) {
            Some(cluster) => Reply::ok(200, cluster.clone()),
            None => not_found(&format!("{provider}/{kind}"), n, g),
        },
        (
            "GET",
            [
                "subscriptions",
                _,
                "resourcegroups",
                g,
                "providers",
                _,
                _,
                n,
                "providers",
                "microsoft.kubernetesconfiguration",
                "extensions",
            ],
        ) => {
            let cluster = format!("/{}", segments[..8].join("/")).to_ascii_lowercase();
            if !state.clusters.contains_key(&cluster) {
                return not_found(segments[5], n, g);
            }
            let value = state.extensions.get(&cluster).cloned().unwrap_or_default();
            Reply::ok(200, json!({ "value": value }))
        }
        (
            "GET",
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.containerservice",
                "locations",
                location,
                "kubernetesversions",
            ],
        ) => match state.versions.get(*location) {
            Some(v) => Reply::ok(200, v.clone()),
            None => arm_error(
                400,
                "LocationNotAvailableForResourceType",
                &format!(
                    "The provided location '{location}' is not available for resource type 'Microsoft.ContainerService/locations/kubernetesVersions'."
                ),
            ),
        },
        (
            "GET",
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.machinelearningservices",
                "locations",
                _,
                "vmsizes",
            ],
        ) => Reply::ok(200, json!({ "value": state.vm_sizes })),
        (
            "GET",
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.machinelearningservices",
                "locations",
                _,
                kind @ ("computeoperationsstatus"
                | "computeoperationsresults"
                | "mfeoperationsstatus"
                | "mfeoperationresults"),
                _,
            ],
        ) => poll(shared, &mut state, segments[7], kind.ends_with("status")),
        _ => arm_error(
            404,
            "NoRegisteredProviderFound",
            &format!("The fake ARM does not serve {} {}", call.method, call.path),
        ),
    }
}

/// Online endpoints, deployments and registered assets under a workspace.
fn workspace_child(
    shared: &Shared,
    state: &mut State,
    call: &Call,
    segments: &[&str],
    l: &[&str],
) -> Option<Reply> {
    let method = call.method.as_str();
    let upto = |n: usize| format!("/{}", segments[..n].join("/"));
    Some(match (method, &l[8..]) {
        ("GET", ["onlineendpoints"]) => endpoints::get(state, call, true),
        ("GET", ["onlineendpoints", _]) => {
            state.time_passes_for(&call.path.to_ascii_lowercase());
            endpoints::get(state, call, false)
        }
        ("PUT", ["onlineendpoints", _]) => endpoints::put_endpoint(shared, state, call),
        ("DELETE", ["onlineendpoints", _]) => endpoints::delete(shared, state, call),
        (
            "POST",
            [
                "onlineendpoints",
                _,
                action @ ("listkeys" | "regeneratekeys" | "token"),
            ],
        ) => endpoint_actions::action(shared, state, call, &upto(10), action),
        ("GET", ["onlineendpoints", _, "deployments"]) => endpoints::get(state, call, true),
        ("GET", ["onlineendpoints", _, "deployments", _]) => {
            state.time_passes_for(&call.path.to_ascii_lowercase());
            endpoints::get(state, call, false)
        }
        ("PUT", ["onlineendpoints", _, "deployments", _]) => {
            endpoints::put_deployment(shared, state, call)
        }
        ("PATCH", ["onlineendpoints", _, "deployments", _]) => {
            endpoints::patch_deployment(shared, state, call)
        }
        ("DELETE", ["onlineendpoints", _, "deployments", _]) => {
            endpoints::delete(shared, state, call)
        }
        ("POST", ["onlineendpoints", _, "deployments", _, "getlogs"]) => {
            endpoint_actions::logs(state, call, &upto(12))
        }
        ("GET", ["models" | "environments" | "codes", _, "versions", _]) => {
            match state.assets.get(&call.path.to_ascii_lowercase()) {
                Some(asset) => Reply::ok(200, asset.clone()),
                None => arm_error(
                    404,
                    "ResourceNotFound",
                    &format!(
                        "{} {} version {} was not found.",
                        l[8], segments[9], segments[11]
                    ),
                ),
            }
        }
        _ => return None,
    })
}
