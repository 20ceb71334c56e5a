//! The sandbox's stand-in for the Azure ML extension in a cluster: what an online deployment on a
//! Kubernetes compute becomes in the compute's namespace, by the router contract (README, "The
//! model pod contract") — a Deployment `<endpoint>-<deployment>` labelled for the router, its
//! request and scale settings as annotations, and a keys Secret with the endpoint's keys. Pure:
//! the I/O loop is in `extension_loop`.

use aml_core::arm::parse_iso_ms;
use serde_json::{Map, Value, json};

/// The label on everything the extension made (so it can remove what ARM no longer has).
pub const MATERIALISED_LABEL: &str = "kubectl-aml.io/sandbox-materialised";

/// One online deployment as ARM stores it, with its endpoint and keys.
#[derive(Debug, Clone)]
pub struct Online {
    /// The endpoint (ARM resource).
    pub endpoint: Value,
    /// The deployment (ARM resource).
    pub deployment: Value,
    /// The endpoint's keys (primary, secondary).
    pub keys: (String, String),
}

impl Online {
    fn names(&self) -> (String, String) {
        let name = |v: &Value| v["name"].as_str().unwrap_or_default().to_string();
        (name(&self.endpoint), name(&self.deployment))
    }

    /// The Kubernetes Deployment's name: `<endpoint>-<deployment>`.
    pub fn object_name(&self) -> String {
        let (e, d) = self.names();
        format!("{e}-{d}")
    }
}

/// The Deployment and the keys Secret for `online` in `namespace`; `live_replicas` is the
/// Deployment's current count when it exists and is autoscaled (kept: the router's autoscaler
/// owns it).
pub fn render(online: &Online, namespace: &str, live_replicas: Option<i64>) -> (Value, Value) {
    let (endpoint, deployment) = online.names();
    let name = online.object_name();
    let props = &online.deployment["properties"];
    let mut annotations = Map::new();
    let mut note = |key: &str, value: String| {
        annotations.insert(format!("kubectl-aml.io/{key}"), json!(value));
    };
    let auth = match online.endpoint["properties"]["authMode"]
        .as_str()
        .unwrap_or("Key")
    {
        a if a.eq_ignore_ascii_case("key") => "key",
        _ => "token",
    };
    note("auth", auth.into());
    note("keys-secret", format!("{name}-keys"));
    let request = &props["requestSettings"];
    if let Some(n) = request["maxConcurrentRequestsPerInstance"].as_u64() {
        note("max-concurrent-requests", n.to_string());
    }
    let ms = |v: &Value| v.as_str().and_then(parse_iso_ms);
    if let Some(t) = ms(&request["requestTimeout"]) {
        note("request-timeout-ms", t.to_string());
    }
    if let Some(t) = ms(&request["maxQueueWait"]) {
        note("max-queue-wait-ms", t.to_string());
    }
    let traffic = online.endpoint["properties"]["traffic"][&deployment]
        .as_u64()
        .unwrap_or(0);
    note("traffic", traffic.to_string());
    let scale = &props["scaleSettings"];
    let capacity = online.deployment["sku"]["capacity"].as_i64().unwrap_or(1);
    let autoscaled = scale["scaleType"] == "TargetUtilization";
    let replicas = if autoscaled {
        note("autoscale", "true".into());
        for (key, field) in [
            ("min-replicas", "minInstances"),
            ("max-replicas", "maxInstances"),
            ("target-utilization", "targetUtilizationPercentage"),
        ] {
            if let Some(n) = scale[field].as_u64() {
                note(key, n.to_string());
            }
        }
        if let Some(ms) = ms(&scale["pollingInterval"]) {
            note("refresh-seconds", (ms / 1000).max(1).to_string());
        }
        let min = scale["minInstances"].as_i64().unwrap_or(1);
        live_replicas.unwrap_or(min.max(capacity))
    } else {
        note("autoscale", "false".into());
        capacity
    };
    let labels = json!({
        "isazuremlapp": "true",
        "ml.azure.com/endpoint-name": endpoint,
        "ml.azure.com/deployment-name": deployment,
        MATERIALISED_LABEL: "true",
    });
    // The sandbox's score.py reads these (time per request, failure share) from the environment.
    let env: Vec<Value> = props["environmentVariables"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| json!({"name": k, "value": v.as_str().map_or_else(|| v.to_string(), str::to_string)}))
        .collect();
    let object = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"ml.azure.com/endpoint-name": endpoint, "ml.azure.com/deployment-name": deployment}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{
                    "name": "inference-server",
                    "image": props["environmentId"].as_str().unwrap_or("azureml/inference-server"),
                    "env": env,
                    "ports": [{"name": "http", "containerPort": 5001}],
                    "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                }]},
            },
        },
    });
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("{name}-keys"), "namespace": namespace,
                     "labels": {MATERIALISED_LABEL: "true"}},
        "type": "Opaque",
        "stringData": {"primaryKey": online.keys.0, "secondaryKey": online.keys.1},
    });
    (object, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn online(scale: Value) -> Online {
        Online {
            endpoint: json!({"name": "sentiment", "properties": {"authMode": "Key", "traffic": {"blue": 100}}}),
            deployment: json!({"name": "blue", "sku": {"capacity": 2}, "properties": {
                "scaleSettings": scale,
                "requestSettings": {"maxConcurrentRequestsPerInstance": 2, "requestTimeout": "PT60S", "maxQueueWait": "PT0.5S"},
                "environmentVariables": {"SCORE_DELAY_MS": "50"},
            }}),
            keys: ("p".into(), "s".into()),
        }
    }

    #[test]
    fn a_deployment_becomes_the_router_contract() {
        let (d, secret) = render(&online(json!({"scaleType": "Default"})), "models", None);
        assert_eq!(d["metadata"]["name"], "sentiment-blue");
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels["ml.azure.com/endpoint-name"], "sentiment");
        assert_eq!(labels["ml.azure.com/deployment-name"], "blue");
        let a = &d["metadata"]["annotations"];
        assert_eq!(a["kubectl-aml.io/max-concurrent-requests"], "2");
        assert_eq!(a["kubectl-aml.io/request-timeout-ms"], "60000");
        assert_eq!(a["kubectl-aml.io/max-queue-wait-ms"], "500");
        assert_eq!(a["kubectl-aml.io/traffic"], "100");
        assert_eq!(a["kubectl-aml.io/autoscale"], "false");
        assert_eq!(d["spec"]["replicas"], 2);
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
            "50"
        );
        assert_eq!(secret["metadata"]["name"], "sentiment-blue-keys");
        assert_eq!(secret["stringData"]["primaryKey"], "p");
    }

    #[test]
    fn autoscaled_deployments_keep_the_live_count() {
        let scale = json!({"scaleType": "TargetUtilization", "minInstances": 1, "maxInstances": 4,
                           "targetUtilizationPercentage": 70, "pollingInterval": "PT1S"});
        let (d, _) = render(&online(scale.clone()), "models", None);
        assert_eq!(d["spec"]["replicas"], 2, "at least sku.capacity at first");
        let a = &d["metadata"]["annotations"];
        assert_eq!(
            (
                a["kubectl-aml.io/autoscale"].as_str(),
                a["kubectl-aml.io/max-replicas"].as_str()
            ),
            (Some("true"), Some("4"))
        );
        assert_eq!(a["kubectl-aml.io/refresh-seconds"], "1");
        let (d, _) = render(&online(scale), "models", Some(4));
        assert_eq!(d["spec"]["replicas"], 4);
    }
}
