use serde_json::json;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn apps_come_from_v1_or_v2_labels_on_model_pods_only() {
    let v1 = labels(&[("isazuremlapp", "true"), ("azuremlappname", "sentiment")]);
    assert_eq!(
        App::from_labels(&v1),
        Some(App::Service("sentiment".into()))
    );
    let v2 = labels(&[
        ("isazuremlapp", "true"),
        ("ml.azure.com/endpoint-name", "ep"),
        ("ml.azure.com/deployment-name", "blue"),
    ]);
    assert_eq!(
        App::from_labels(&v2),
        Some(App::Endpoint {
            endpoint: "ep".into(),
            deployment: "blue".into()
        })
    );
    let not_model = labels(&[("azuremlappname", "sentiment")]);
    assert_eq!(App::from_labels(&not_model), None);
    let half_v2 = labels(&[
        ("isazuremlapp", "true"),
        ("ml.azure.com/endpoint-name", "ep"),
    ]);
    assert_eq!(App::from_labels(&half_v2), None);
}

#[test]
fn absent_annotations_give_the_v1_defaults() {
    let v1 = Settings::defaults("sentiment", &App::Service("sentiment".into()));
    assert_eq!(v1.auth, AuthMode::Key);
    assert_eq!(v1.keys_secret, "sentiment-keys");
    assert_eq!(v1.max_concurrent, 1);
    assert_eq!(v1.max_queue_wait, Duration::from_millis(500));
    assert_eq!(v1.request_timeout, Duration::from_secs(60));
    let v2 = Settings::defaults(
        "ep-blue",
        &App::Endpoint {
            endpoint: "ep".into(),
            deployment: "blue".into(),
        },
    );
    assert_eq!(v2.request_timeout, Duration::from_secs(5));
}

#[test]
fn annotations_override_and_bad_ones_keep_the_default_and_say_why() {
    let app = App::Service("s".into());
    let annotations = labels(&[
        ("kubectl-aml.io/auth", "token"),
        ("kubectl-aml.io/keys-secret", "my-keys"),
        ("kubectl-aml.io/max-concurrent-requests", "4"),
        ("kubectl-aml.io/max-queue-wait-ms", "many"),
        ("kubectl-aml.io/request-timeout-ms", "400000"),
        ("kubectl-aml.io/traffic", "30"),
        ("kubectl-aml.io/autoscale", "false"),
        ("other.io/auth", "none"),
    ]);
    let (settings, bad) = Settings::from_annotations("s", &app, &annotations);
    assert_eq!(settings.auth, AuthMode::Token);
    assert_eq!(settings.keys_secret, "my-keys");
    assert_eq!(settings.max_concurrent, 4);
    assert_eq!(settings.max_queue_wait, Duration::from_millis(500));
    assert_eq!(settings.request_timeout, Duration::from_secs(60));
    assert_eq!(settings.traffic, Some(30));
    let names: Vec<&str> = bad.iter().map(|b| b.annotation.as_str()).collect();
    assert_eq!(
        names,
        [
            "kubectl-aml.io/max-queue-wait-ms",
            "kubectl-aml.io/request-timeout-ms"
        ]
    );
    assert!(bad[1].reason.contains("from 1 to 300000"), "{:?}", bad[1]);

    let (_, bad) = Settings::from_annotations(
        "s",
        &app,
        &labels(&[
            ("kubectl-aml.io/auth", "aad"),
            ("kubectl-aml.io/keys-secret", "Bad_Name"),
            ("kubectl-aml.io/max-concurrent-requests", "0"),
            ("kubectl-aml.io/traffic", "101"),
        ]),
    );
    assert_eq!(bad.len(), 4, "{bad:?}");
}

fn pod(value: serde_json::Value) -> Pod {
    serde_json::from_value(value).unwrap()
}

fn model_pod(ports: serde_json::Value, status: serde_json::Value) -> Pod {
    pod(json!({
        "metadata": {"name": "p1", "namespace": "ws1",
                     "labels": {"isazuremlapp": "true", "azuremlappname": "sentiment"}},
        "spec": {"containers": [{"name": "c", "image": "i", "ports": ports}]},
        "status": status,
    }))
}

fn ready_status(ip: &str) -> serde_json::Value {
    json!({"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]})
}

#[test]
fn a_ready_replica_has_the_ready_condition_an_ip_and_no_deletion() {
    let p = pod_replica(&model_pod(json!([]), ready_status("10.0.0.7"))).unwrap();
    assert!(p.ready);
    assert_eq!(p.addr, Some("10.0.0.7:5001".parse().unwrap()));
    assert_eq!(p.key.namespace, "ws1");

    let not_ready =
        json!({"podIP": "10.0.0.7", "conditions": [{"type": "Ready", "status": "False"}]});
    assert!(!pod_replica(&model_pod(json!([]), not_ready)).unwrap().ready);
    let no_ip = json!({"conditions": [{"type": "Ready", "status": "True"}]});
    assert!(!pod_replica(&model_pod(json!([]), no_ip)).unwrap().ready);
    let pending = json!({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]});
    assert_eq!(
        pod_replica(&model_pod(json!([]), pending)).unwrap().state,
        PodState::Unschedulable
    );
    let starting =
        json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]});
    assert_eq!(
        pod_replica(&model_pod(json!([]), starting)).unwrap().state,
        PodState::Starting
    );
    let mut terminating = model_pod(json!([]), ready_status("10.0.0.7"));
    terminating.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
    assert!(!pod_replica(&terminating).unwrap().ready);
    assert_eq!(
        pod_replica(&terminating).unwrap().state,
        PodState::Terminating
    );
}

#[test]
fn the_scoring_port_is_http_then_the_first_port_then_5001() {
    let named = json!([{"containerPort": 8000}, {"name": "http", "containerPort": 31311}]);
    assert_eq!(scoring_port(&model_pod(named, json!({}))), 31311);
    let first = json!([{"containerPort": 8000}, {"containerPort": 9000}]);
    assert_eq!(scoring_port(&model_pod(first, json!({}))), 8000);
    assert_eq!(scoring_port(&model_pod(json!([]), json!({}))), 5001);
    let v6 = pod_replica(&model_pod(json!([]), ready_status("fd00::7"))).unwrap();
    assert_eq!(v6.addr, Some("[fd00::7]:5001".parse().unwrap()));
}

#[test]
fn model_deployments_need_the_label_and_pod_labels() {
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "ep-blue", "namespace": "ws1", "labels": {"isazuremlapp": "true"},
                     "annotations": {"kubectl-aml.io/traffic": "90"}},
        "spec": {"selector": {}, "template": {"metadata": {"labels": {
            "isazuremlapp": "true", "ml.azure.com/endpoint-name": "ep",
            "ml.azure.com/deployment-name": "blue"}}}},
    }))
    .unwrap();
    let model = model_deployment(&deployment).unwrap();
    assert_eq!(model.name, "ep-blue");
    assert_eq!(model.replicas, 1, "Kubernetes' default");
    assert_eq!(model.annotations.len(), 1);
    assert_eq!(model.settings.traffic, Some(90));
    assert_eq!(model.settings.keys_secret, "ep-blue-keys");

    let mut unlabelled = deployment.clone();
    unlabelled.metadata.labels = None;
    assert_eq!(model_deployment(&unlabelled), None);
}
