//! Routing of the fake ARM: workspaces, computes (in `computes.rs`), AKS and Arc clusters, their
//! extensions, Kubernetes versions, VM sizes, and
//! the operation status (`Azure-AsyncOperation`) and result (`Location`) URLs.

use serde_json::json;

use super::computes::{delete_compute, get_compute, list_computes, put_compute};
use super::operations::poll;
use super::server::{Call, Reply, Shared, arm_error};
use super::state::State;

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
                kind @ ("computeoperationsstatus" | "computeoperationsresults"),
                _,
            ],
        ) => poll(
            shared,
            &mut state,
            segments[7],
            *kind == "computeoperationsstatus",
        ),
        _ => arm_error(
            404,
            "NoRegisteredProviderFound",
            &format!("The fake ARM does not serve {} {}", call.method, call.path),
        ),
    }
}
