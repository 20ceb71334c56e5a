//! `kubectl aml deploy create` end to end against the fake ARM (and the fake cluster for the
//! guards), through the real Azure CLI credential path; the helpers the other deploy tests share.

use aml_tests::fake_arm::state::managed_cluster;
use aml_tests::{FakeArm, TestContext};
use serde_json::{Value, json};

use crate::common::Deploy;

/// A workspace with Kubernetes compute `k8s` (namespace `models`) on cluster aks1.
pub fn ctx() -> TestContext {
    let ctx = TestContext::new().with_arm(FakeArm::start());
    ctx.arm().add_kubernetes_compute("k8s", "models");
    ctx
}

/// Like [`ctx`], with aks1's API server being the fake cluster, so the guards look inside.
pub fn in_cluster_ctx() -> TestContext {
    let ctx = ctx();
    let mut cluster = managed_cluster("rg1", "aks1", "eastus", 3, "Standard_D3_v2");
    cluster["properties"]["fqdn"] = json!("127.0.0.1");
    ctx.arm().put_cluster(cluster, true);
    ctx
}

/// `create svc` on compute `k8s` with the registered model and environment, plus `extra`.
pub async fn create(ctx: &TestContext, extra: &[&str]) -> aml_tests::Outcome {
    create_as(ctx, "svc", "k8s", "sentiment:1", "sklearn-env:3", extra).await
}

/// `create SERVICE --compute COMPUTE --model MODEL --environment ENVIRONMENT`, plus `extra`.
pub async fn create_as(
    ctx: &TestContext,
    service: &str,
    compute: &str,
    model: &str,
    environment: &str,
    extra: &[&str],
) -> aml_tests::Outcome {
    let base = [
        "create",
        service,
        "--compute",
        compute,
        "--model",
        model,
        "--environment",
        environment,
    ];
    ctx.run::<Deploy>(&[&base[..], extra].concat()).await
}

/// The writes the fake received: (method, last path segment, body).
pub fn writes(ctx: &TestContext) -> Vec<(String, String, Value)> {
    ctx.arm()
        .writes()
        .into_iter()
        .map(|r| {
            (
                r.method.clone(),
                r.path.rsplit('/').next().unwrap().to_string(),
                r.body,
            )
        })
        .collect()
}

#[tokio::test]
async fn create_makes_the_endpoint_the_deployment_and_sends_it_the_traffic() {
    let ctx = ctx();
    let out = create(&ctx, &[]).await;
    assert_eq!(out.code, 0, "{out}");
    let w = writes(&ctx);
    let order: Vec<(&str, &str)> = w.iter().map(|(m, p, _)| (m.as_str(), p.as_str())).collect();
    assert_eq!(order, [("PUT", "svc"), ("PUT", "blue"), ("PUT", "svc")]);
    assert_eq!(w[0].2["properties"]["authMode"], "Key");
    assert!(
        w[0].2["properties"]["compute"]
            .as_str()
            .unwrap()
            .ends_with("/computes/k8s")
    );
    let p = &w[1].2["properties"];
    assert_eq!(p["endpointComputeType"], "Kubernetes");
    assert_eq!(p["model"], FakeArm::asset_id("models", "sentiment", "1"));
    assert_eq!(
        p["environmentId"],
        FakeArm::asset_id("environments", "sklearn-env", "3")
    );
    // The v1 defaults, sent explicitly.
    assert_eq!(
        p["containerResourceRequirements"],
        json!({"containerResourceRequests": {"cpu": "0.1", "memory": "0.5Gi"}})
    );
    assert_eq!(
        p["scaleSettings"],
        json!({"scaleType": "TargetUtilization", "minInstances": 1, "maxInstances": 10, "targetUtilizationPercentage": 70, "pollingInterval": "PT1S"})
    );
    assert_eq!(
        p["requestSettings"],
        json!({"maxConcurrentRequestsPerInstance": 1, "requestTimeout": "PT60S", "maxQueueWait": "PT0.5S"})
    );
    assert_eq!(
        p["livenessProbe"],
        json!({"period": "PT10S", "initialDelay": "PT310S", "timeout": "PT2S", "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(w[1].2["sku"], json!({"name": "Default", "capacity": 1}));
    assert_eq!(w[2].2["properties"]["traffic"], json!({"blue": 100}));
    assert!(
        out.stdout.contains(
            "svc    blue         k8s       Succeeded   1          70% of 1-10   key    100%"
        ),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("try it: curl -X POST 'http://10.0.0.4/api/v1/endpoint/svc/score'"),
        "{out}"
    );
    let (primary, _) = ctx.arm().keys("svc").unwrap();
    assert!(
        !out.stdout.contains(&primary) && !out.stderr.contains(&primary),
        "no key printed"
    );
}

#[tokio::test]
async fn a_v1_deployment_file_and_flags_map_onto_the_deployment() {
    let ctx = ctx();
    let file = ctx.path("deploymentconfig.json");
    std::fs::write(&file, r#"{"computeType": "aks", "autoScaler": {"autoscaleEnabled": true, "minReplicas": 2, "maxReplicas": 3,
        "refreshPeriodInSeconds": 5, "targetUtilization": 60}, "authEnabled": true,
        "containerResourceRequirements": {"cpu": 0.5, "memoryInGB": 1.0}, "scoringTimeoutMs": 5000,
        "maxConcurrentRequestsPerContainer": 2, "maxQueueWaitMs": 5000, "computeTargetName": "k8s",
        "livenessProbeRequirements": {"periodSeconds": 20, "initialDelaySeconds": 60, "timeoutSeconds": 3,
        "successThreshold": 1, "failureThreshold": 5}, "namespace": "ignored"}"#).unwrap();
    let args = [
        "create",
        "svc",
        "--model",
        "sentiment:2",
        "--environment",
        "sklearn-env:3",
        "--deploy-config-file",
        file.to_str().unwrap(),
        "--cpu-cores",
        "1",
        "--tags",
        "team=ml",
    ];
    let out = ctx.run::<Deploy>(&args).await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("not carried over: namespace `ignored`"),
        "{out}"
    );
    let body = &writes(&ctx)[1].2;
    let p = &body["properties"];
    assert_eq!(
        p["containerResourceRequirements"]["containerResourceRequests"],
        json!({"cpu": "1", "memory": "1Gi"}),
        "the flag wins over the file"
    );
    assert_eq!(
        p["scaleSettings"],
        json!({"scaleType": "TargetUtilization", "minInstances": 2, "maxInstances": 3, "targetUtilizationPercentage": 60, "pollingInterval": "PT5S"})
    );
    assert_eq!(
        p["requestSettings"],
        json!({"maxConcurrentRequestsPerInstance": 2, "requestTimeout": "PT5S", "maxQueueWait": "PT5S"})
    );
    assert_eq!(p["livenessProbe"]["failureThreshold"], 5);
    assert_eq!(body["sku"]["capacity"], 2);
    assert_eq!(body["tags"], json!({"team": "ml"}));
}

#[tokio::test]
async fn invalid_settings_are_all_listed_with_the_v1_words_and_nothing_is_sent() {
    let ctx = ctx();
    let out = create(
        &ctx,
        &[
            "--cpu-cores",
            "0",
            "--memory-gb",
            "2",
            "--memory-gb-limit",
            "1",
            "--num-replicas",
            "2",
            "--autoscale",
            "--autoscale-target-utilization",
            "150",
            "--period-seconds",
            "-1",
        ],
    )
    .await;
    assert_eq!(out.code, 2, "{out}");
    for line in [
        "invalid: Invalid configuration, cpu_cores must be greater than zero.",
        "invalid: Invalid configuration, memory_gb_limit must be greater than or equal to memory_gb.",
        "invalid: Invalid configuration, period_seconds must be greater than zero.",
        "invalid: Invalid configuration, autoscale enabled and num_replicas provided.",
        "invalid: Invalid configuration, autoscale_target_utilization must be at most 100",
        "error: 5 settings are invalid (listed above); nothing was sent",
    ] {
        assert!(out.stderr.contains(line), "{line}\n{out}");
    }
    assert!(ctx.arm().journal().is_empty(), "checked before any request");
    let out = create(
        &ctx,
        &["--autoscale-min-replicas", "2", "--num-replicas", "3"],
    )
    .await;
    assert!(
        out.stderr
            .contains("autoscale_min_replicas provided without enabling autoscaling."),
        "{out}"
    );
    let file = ctx.path("both.json");
    std::fs::write(
        &file,
        r#"{"computeType": "AKS", "authEnabled": true, "tokenAuthEnabled": true}"#,
    )
    .unwrap();
    let out = create(&ctx, &["--deploy-config-file", file.to_str().unwrap()]).await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("auth_enabled and token_auth_enabled cannot both be true."),
        "{out}"
    );
    let out = create(&ctx, &["--auth", "none"]).await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("online endpoints always authenticate"),
        "{out}"
    );
    let out = create_as(&ctx, "Bad_Name", "k8s", "m:1", "e:1", &[]).await;
    assert!(
        out.stderr
            .contains("Error, provided service name is invalid. It must only consist of lowercase letters, numbers, or dashes, start with a letter, end with a letter or number, and be between 3 and 32 characters long. Got `Bad_Name`."),
        "{out}"
    );
    assert!(ctx.arm().writes().is_empty());
}

#[tokio::test]
async fn assets_and_computes_must_exist_and_fit() {
    let ctx = ctx();
    let out = create_as(&ctx, "svc", "k8s", "sentiment:9", "sklearn-env:3", &[]).await;
    assert_eq!(out.code, 4, "{out}");
    assert!(
        out.stderr
            .contains("--model: model `sentiment:9` is not registered in workspace `ws1`"),
        "{out}"
    );
    let out = create_as(&ctx, "svc", "k8s", "sentiment", "sklearn-env:3", &[]).await;
    assert_eq!(out.code, 2, "{out}");
    let out = create_as(&ctx, "svc", "nope", "sentiment:1", "sklearn-env:3", &[]).await;
    assert_eq!(out.code, 4, "{out}");
    ctx.arm().put_compute(
        "rg1",
        "ws1",
        "legacy",
        json!({"computeType": "AKS", "provisioningState": "Succeeded"}),
    );
    let out = create_as(&ctx, "svc", "legacy", "sentiment:1", "sklearn-env:3", &[]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains(
            "compute `legacy` is a `AKS` compute; online deployments run on a Kubernetes compute"
        ),
        "{out}"
    );
    assert!(ctx.arm().writes().is_empty());
}

#[tokio::test]
async fn a_second_deployment_gets_the_traffic_asked_for() {
    let ctx = ctx();
    assert_eq!(create(&ctx, &[]).await.code, 0);
    let out = create(&ctx, &["--deployment", "green"]).await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("deployment `green` takes no traffic yet"),
        "{out}"
    );
    assert_eq!(
        ctx.arm().endpoint("svc", None).unwrap()["properties"]["traffic"],
        json!({"blue": 100})
    );
    let out = create(&ctx, &["--deployment", "red", "--traffic", "20"]).await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        ctx.arm().endpoint("svc", None).unwrap()["properties"]["traffic"],
        json!({"blue": 80, "green": 0, "red": 20})
    );
    // The same create again finds its own deployment: done, nothing sent, listed once.
    let writes = ctx.arm().writes().len();
    let again = create(&ctx, &["--deployment", "red"]).await;
    assert_eq!(again.code, 0, "{again}");
    assert!(
        again
            .stderr
            .contains("deployment `red` was made by an earlier run")
            && again.stdout.matches("svc    red").count() == 1,
        "{again}"
    );
    assert_eq!(ctx.arm().writes().len(), writes);
    // Another model under that name is someone else's deployment: refused.
    let other = crate::deploy::create_as(
        &ctx,
        "svc",
        "k8s",
        "sentiment:2",
        "sklearn-env:3",
        &["--deployment", "red"],
    )
    .await;
    assert_eq!(other.code, 1, "{other}");
    assert!(
        other
            .stderr
            .contains("service `svc` already has deployment `red`"),
        "{other}"
    );
}

#[tokio::test]
async fn registered_code_and_its_scoring_script_go_together() {
    let ctx = ctx();
    let alone = create(&ctx, &["--code", "score-code:1"]).await;
    assert_eq!(alone.code, 2, "{alone}");
    assert!(alone.stderr.contains("--scoring-script"), "{alone}");
    let missing = create(&ctx, &["--code", "nope:1", "--scoring-script", "score.py"]).await;
    assert_eq!(missing.code, 4, "{missing}");
    assert!(
        missing
            .stderr
            .contains("--code: code `nope:1` is not registered in workspace `ws1`"),
        "{missing}"
    );
    assert!(ctx.arm().writes().is_empty(), "{missing}");
    let out = create(
        &ctx,
        &["--code", "score-code:1", "--scoring-script", "src/score.py"],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        writes(&ctx)[1].2["properties"]["codeConfiguration"],
        json!({"codeId": FakeArm::asset_id("codes", "score-code", "1"), "scoringScript": "src/score.py"})
    );
}
