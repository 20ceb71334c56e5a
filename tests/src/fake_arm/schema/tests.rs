//! The spec checks on bodies and parameters, each rule on a small schema.

use serde_json::json;

use super::super::spec::specs;
use super::*;

const COMPUTE: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/c1";

fn problems(method: &str, path: &str, query: &[(&str, &str)], body: Option<Value>) -> Vec<String> {
    let mut q: HashMap<String, String> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    q.insert("api-version".into(), "2024-04-01".into());
    let op = specs()
        .find(method, path, Some("2024-04-01"))
        .unwrap()
        .unwrap();
    check_request(specs(), &op, &q, body.as_ref())
}

#[test]
fn the_spec_examples_bodies_pass() {
    let body = json!({"location": "eastus", "properties": {"computeType": "Kubernetes",
        "resourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1",
        "properties": {"namespace": "default", "instanceTypes": {"small": {"nodeSelector": null,
        "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}}}}},
        "identity": {"type": "SystemAssigned"}});
    assert_eq!(
        problems("PUT", COMPUTE, &[], Some(body)),
        Vec::<String>::new()
    );
}

#[test]
fn online_endpoint_and_kubernetes_deployment_bodies_pass() {
    let ws = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1";
    let endpoint = format!("{ws}/onlineEndpoints/svc");
    let body = json!({"location": "eastus", "identity": {"type": "SystemAssigned"}, "tags": {"a": "b"},
        "properties": {"authMode": "Key", "compute": format!("{ws}/computes/k8s"), "description": "d", "traffic": {"blue": 100}}});
    let q = [("api-version", "2024-04-01")];
    assert_eq!(
        problems("PUT", &endpoint, &q, Some(body)),
        Vec::<String>::new()
    );
    let body = json!({"location": "eastus", "sku": {"name": "Default", "capacity": 2}, "tags": {"a": "b"},
        "properties": {"endpointComputeType": "Kubernetes", "model": format!("{ws}/models/m/versions/1"),
            "environmentId": format!("{ws}/environments/e/versions/1"),
            "codeConfiguration": {"codeId": format!("{ws}/codes/c/versions/1"), "scoringScript": "score.py"},
            "description": "d",
            "containerResourceRequirements": {"containerResourceRequests": {"cpu": "0.1", "memory": "0.5Gi"},
                                               "containerResourceLimits": {"cpu": "1", "memory": "1Gi", "gpu": "1"}},
            "scaleSettings": {"scaleType": "TargetUtilization", "minInstances": 1, "maxInstances": 10,
                              "pollingInterval": "PT1S", "targetUtilizationPercentage": 70},
            "requestSettings": {"maxConcurrentRequestsPerInstance": 1, "requestTimeout": "PT60S", "maxQueueWait": "PT0.5S"},
            "livenessProbe": {"period": "PT10S", "initialDelay": "PT310S", "timeout": "PT2S", "successThreshold": 1, "failureThreshold": 3}}});
    assert_eq!(
        problems(
            "PUT",
            &format!("{endpoint}/deployments/blue"),
            &q,
            Some(body)
        ),
        Vec::<String>::new()
    );
    let patch = json!({"sku": {"capacity": 3}, "tags": {"a": "c"}});
    assert_eq!(
        problems(
            "PATCH",
            &format!("{endpoint}/deployments/blue"),
            &q,
            Some(patch)
        ),
        Vec::<String>::new()
    );
    let regen = json!({"keyType": "Primary", "keyValue": "v"});
    assert_eq!(
        problems(
            "POST",
            &format!("{endpoint}/regenerateKeys"),
            &q,
            Some(regen)
        ),
        Vec::<String>::new()
    );
    let logs = json!({"containerType": "StorageInitializer", "tail": 10});
    assert_eq!(
        problems(
            "POST",
            &format!("{endpoint}/deployments/blue/getLogs"),
            &q,
            Some(logs)
        ),
        Vec::<String>::new()
    );
}

#[test]
fn bad_bodies_are_refused_for_each_rule() {
    let body = json!({"location": "eastus", "properties": {"computeType": "AKS",
        "provisioningState": "Succeeded", "properties": {"clusterPurpose": "Fast",
        "agentCount": "3", "sslConfiguration": {"status": "Enabled", "cname": 5}, "bogus": 1}}});
    let found = problems("PUT", COMPUTE, &[], Some(body)).join("\n");
    for expected in [
        "properties.provisioningState: read-only",
        "properties.properties.clusterPurpose: \"Fast\" is not one of",
        "properties.properties.agentCount: expected integer",
        "properties.properties.sslConfiguration.cname: expected string",
        "properties.properties.bogus: not a property",
    ] {
        assert!(found.contains(expected), "{expected} missing from\n{found}");
    }
    let found = problems(
        "PUT",
        COMPUTE,
        &[],
        Some(json!({"properties": {"computeType": "Nope"}})),
    );
    assert!(
        found.iter().any(|p| p.contains("unknown computeType")),
        "{found:?}"
    );
    let found = problems("PUT", COMPUTE, &[], Some(json!({"properties": {}})));
    assert!(
        found.iter().any(|p| p.contains("computeType: required")),
        "{found:?}"
    );
}

#[test]
fn query_and_path_parameters_are_checked() {
    let found = problems("DELETE", COMPUTE, &[], None);
    assert!(
        found.iter().any(|p| p.contains("underlyingResourceAction")),
        "{found:?}"
    );
    assert!(
        problems(
            "DELETE",
            COMPUTE,
            &[("underlyingResourceAction", "Detach")],
            None
        )
        .is_empty()
    );
    let found = problems(
        "DELETE",
        COMPUTE,
        &[("underlyingResourceAction", "Keep")],
        None,
    );
    assert!(found.iter().any(|p| p.contains("not one of")), "{found:?}");
    let bad_workspace = COMPUTE.replace("ws1", "w");
    let found = problems("GET", &bad_workspace, &[], None);
    assert!(
        found.iter().any(|p| p.contains("workspaceName")),
        "{found:?}"
    );
}
