//! `kubectl aml deploy update`: only what changed is sent, v1's update rules, traffic moves,
//! new models.

use aml_tests::FakeArm;
use serde_json::json;

use crate::common::Deploy;
use crate::deploy::{create, ctx, writes};

#[tokio::test]
async fn update_sends_only_what_changed() {
    let ctx = ctx();
    assert_eq!(
        create(&ctx, &["--no-autoscale", "--num-replicas", "2"])
            .await
            .code,
        0
    );
    let before = ctx.arm().writes().len();
    let nothing = ctx.run::<Deploy>(&["update", "svc"]).await;
    assert_eq!(nothing.code, 2, "{nothing}");
    assert!(
        nothing.stderr.contains("No parameters provided to update."),
        "{nothing}"
    );
    let same = ctx
        .run::<Deploy>(&["update", "svc", "--num-replicas", "2", "--cpu-cores", "0.1"])
        .await;
    assert_eq!(same.code, 0, "{same}");
    assert!(same.stderr.contains("no change"), "{same}");
    assert_eq!(ctx.arm().writes().len(), before, "nothing sent");
    let scale = ctx
        .run::<Deploy>(&["update", "svc", "--num-replicas", "4"])
        .await;
    assert_eq!(scale.code, 0, "{scale}");
    let w = writes(&ctx);
    assert_eq!(
        (w.last().unwrap().0.as_str(), &w.last().unwrap().2),
        ("PATCH", &json!({"sku": {"name": "Default", "capacity": 4}}))
    );
    let resources = ctx
        .run::<Deploy>(&[
            "update",
            "svc",
            "--cpu-cores",
            "0.5",
            "--memory-gb-limit",
            "2",
        ])
        .await;
    assert_eq!(resources.code, 0, "{resources}");
    let (method, _, body) = writes(&ctx).pop().unwrap();
    assert_eq!(method, "PUT");
    assert_eq!(
        body["properties"]["containerResourceRequirements"],
        json!({"containerResourceRequests": {"cpu": "0.5", "memory": "0.5Gi"}, "containerResourceLimits": {"memory": "2Gi"}})
    );
    assert_eq!(body["sku"]["capacity"], 4, "the scale stays");
    assert_eq!(
        body["properties"]["model"],
        aml_tests::FakeArm::asset_id("models", "sentiment", "1"),
        "unchanged parts stay"
    );
    let auth = ctx
        .run::<Deploy>(&["update", "svc", "--auth", "token"])
        .await;
    assert_eq!(auth.code, 0, "{auth}");
    assert_eq!(
        ctx.arm().endpoint("svc", None).unwrap()["properties"]["authMode"],
        "AMLToken"
    );
    assert!(auth.stdout.contains("token"), "{auth}");
}

#[tokio::test]
async fn update_follows_the_v1_update_rules() {
    let ctx = ctx();
    assert_eq!(
        create(&ctx, &["--cpu-cores", "2", "--cpu-cores-limit", "3"])
            .await
            .code,
        0
    );
    let before = ctx.arm().writes().len();
    let out = ctx
        .run::<Deploy>(&["update", "svc", "--cpu-cores", "4"])
        .await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("Error, cpu_cores 4 is more than the service's cpu_cores_limit 3."),
        "{out}"
    );
    let out = ctx
        .run::<Deploy>(&["update", "svc", "--cpu-cores-limit", "1"])
        .await;
    assert!(
        out.stderr
            .contains("Error, cpu_cores_limit 1 is less than the service's cpu_cores 2."),
        "{out}"
    );
    let file = ctx.path("token.json");
    std::fs::write(&file, r#"{"computeType": "AKS", "tokenAuthEnabled": true}"#).unwrap();
    let out = ctx
        .run::<Deploy>(&[
            "update",
            "svc",
            "--deploy-config-file",
            file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("cannot set token_auth_enabled without disabling key auth"),
        "{out}"
    );
    assert_eq!(ctx.arm().writes().len(), before);
    let out = ctx
        .run::<Deploy>(&[
            "update",
            "svc",
            "--autoscale-max-replicas",
            "4",
            "--autoscale",
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        writes(&ctx).last().unwrap().2["properties"]["scaleSettings"]["maxInstances"],
        4
    );
}

#[tokio::test]
async fn traffic_moves_between_deployments() {
    let ctx = ctx();
    assert_eq!(create(&ctx, &[]).await.code, 0);
    assert_eq!(create(&ctx, &["--deployment", "green"]).await.code, 0);
    let out = ctx
        .run::<Deploy>(&["update", "svc", "--deployment", "green", "--traffic", "100"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        ctx.arm().endpoint("svc", None).unwrap()["properties"]["traffic"],
        json!({"blue": 0, "green": 100})
    );
    let out = ctx
        .run::<Deploy>(&["delete", "svc", "--deployment", "blue", "--yes"])
        .await;
    assert_eq!(out.code, 0, "{out}");
}

#[tokio::test]
async fn update_swaps_the_model_after_the_checks() {
    let ctx = ctx();
    assert_eq!(create(&ctx, &[]).await.code, 0);
    let before = ctx.arm().writes().len();
    let invalid = ctx
        .run::<Deploy>(&["update", "svc", "--model", "nope:1", "--cpu-cores", "0"])
        .await;
    assert_eq!(invalid.code, 2, "the v1 checks come first: {invalid}");
    assert!(
        invalid
            .stderr
            .contains("Error, cpu_cores must be greater than zero."),
        "{invalid}"
    );
    let missing = ctx
        .run::<Deploy>(&["update", "svc", "--model", "nope:1"])
        .await;
    assert_eq!(missing.code, 4, "{missing}");
    assert!(
        missing
            .stderr
            .contains("--model: model `nope:1` is not registered"),
        "{missing}"
    );
    assert_eq!(ctx.arm().writes().len(), before, "nothing sent");
    let out = ctx
        .run::<Deploy>(&["update", "svc", "--model", "sentiment:2"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    let (method, _, body) = writes(&ctx).pop().unwrap();
    assert_eq!(method, "PUT");
    assert_eq!(
        body["properties"]["model"],
        FakeArm::asset_id("models", "sentiment", "2")
    );
}

#[tokio::test]
async fn an_autoscaling_service_takes_a_new_maximum_alone() {
    let ctx = ctx();
    assert_eq!(create(&ctx, &[]).await.code, 0);
    let out = ctx
        .run::<Deploy>(&["update", "svc", "--autoscale-max-replicas", "6"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    let (method, _, body) = writes(&ctx).pop().unwrap();
    assert_eq!(method, "PUT");
    assert_eq!(
        body["properties"]["scaleSettings"],
        json!({"scaleType": "TargetUtilization", "minInstances": 1, "maxInstances": 6, "targetUtilizationPercentage": 70, "pollingInterval": "PT1S"})
    );
    assert!(out.stdout.contains("70% of 1-6"), "{out}");
}
