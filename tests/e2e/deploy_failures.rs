//! `kubectl aml deploy create` when things go wrong: failed operations, busy services, rejected
//! deployments (the endpoint made for them is removed again), impossible traffic splits; and the
//! docs' region warning for token auth.

use aml_tests::fake_arm::cluster_id;
use serde_json::json;

use crate::deploy::{create, create_as, ctx};

#[tokio::test]
async fn a_failed_deployment_or_a_busy_endpoint_is_reported() {
    let ctx = ctx();
    assert_eq!(create(&ctx, &[]).await.code, 0);
    ctx.arm().fail_next_operation(
        "QuotaExceeded",
        "Not enough quota for 2 more cores in the cluster.",
    );
    let out = create(&ctx, &["--deployment", "green"]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(
            "caused by: QuotaExceeded: Not enough quota for 2 more cores in the cluster.\n"
        ),
        "the operation's error is said once: {out}"
    );
    assert!(
        out.stderr.contains("hint: deployment `green` is kept, Failed, for inspection: `kubectl aml deploy logs svc --deployment green`"),
        "{out}"
    );
    assert_eq!(
        ctx.arm().endpoint("svc", Some("green")).unwrap()["properties"]["provisioningState"],
        "Failed"
    );
    ctx.arm().fail(
        "PUT",
        "/deployments/red",
        1,
        409,
        "Conflict",
        "An operation on 'svc' is already in progress.",
    );
    let out = create(&ctx, &["--deployment", "red"]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("Conflict: An operation on 'svc' is already in progress."),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("hint: another operation on this service is still running"),
        "{out}"
    );
    assert!(ctx.arm().endpoint("svc", Some("red")).is_none());
}

#[tokio::test]
async fn a_new_service_whose_deployment_fails_is_kept_or_rolled_back() {
    let ctx = ctx();
    ctx.arm().fail(
        "PUT",
        "/deployments/blue",
        1,
        400,
        "BadArgument",
        "The model does not fit the environment.",
    );
    let out = create(&ctx, &[]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("BadArgument: The model does not fit"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("endpoint `svc` made by this run was removed again"),
        "{out}"
    );
    assert!(
        ctx.arm().endpoint("svc", None).is_none(),
        "nothing left behind"
    );
    ctx.arm().fail_next_operation_on(
        "/deployments/blue",
        "InferencingClientCallFailed",
        "the container crashed",
    );
    let out = create(&ctx, &[]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("or the whole new service with `kubectl aml deploy delete svc`"),
        "{out}"
    );
    assert!(
        ctx.arm().endpoint("svc", Some("blue")).is_some(),
        "kept for its logs"
    );
    let ctx = self::ctx();
    ctx.arm()
        .fail_next_operation("InternalServerError", "the endpoint could not be made");
    let out = create(&ctx, &[]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("hint: endpoint `svc` is left Failed: remove it with `kubectl aml deploy delete svc --yes`"), "{out}");
}

/// A deployment PUT that keeps answering 5xx: the error says the endpoint this run made is left,
/// and how to finish or undo; running the same command again finishes the job.
#[tokio::test]
async fn a_deployment_put_that_keeps_failing_says_what_is_left_and_a_rerun_finishes() {
    let ctx = ctx();
    ctx.arm().fail(
        "PUT",
        "/deployments/blue",
        4,
        503,
        "ServiceUnavailable",
        "The service is unavailable.",
    );
    let out = create(&ctx, &[]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("hint: endpoint `svc` made by this run is left; deployment `blue` may or may not exist: `kubectl aml deploy show svc` shows what is there; run the same command again to finish"),
        "{out}"
    );
    assert!(
        ctx.arm().endpoint("svc", None).is_some(),
        "the endpoint is left, as said"
    );
    let again = create(&ctx, &[]).await;
    assert_eq!(again.code, 0, "{again}");
    assert!(
        ctx.arm().endpoint("svc", Some("blue")).is_some(),
        "finished"
    );
}

#[tokio::test]
async fn an_impossible_traffic_split_is_refused_before_anything_is_sent() {
    let ctx = ctx();
    let out = create(&ctx, &["--traffic", "10"]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("the other 90% has nowhere to go"),
        "{out}"
    );
    assert!(
        ctx.arm().writes().is_empty(),
        "no endpoint or deployment left behind"
    );
}

#[tokio::test]
async fn token_auth_across_regions_is_warned_about() {
    let ctx = ctx();
    let same = create(&ctx, &["--auth", "token"]).await;
    assert_eq!(same.code, 0, "{same}");
    assert!(!same.stderr.contains("token auth:"), "{same}");
    ctx.arm()
        .add_cluster("rg1", "aks-west", "westus", 3, "Standard_D3_v2", true);
    ctx.arm().put_compute(
        "rg1",
        "ws1",
        "west",
        json!({"computeType": "Kubernetes", "provisioningState": "Succeeded",
            "isAttachedCompute": true, "resourceId": cluster_id("rg1", "aks-west"),
            "properties": {"namespace": "models"}}),
    );
    let far = create_as(
        &ctx,
        "far",
        "west",
        "sentiment:1",
        "sklearn-env:3",
        &["--auth", "token"],
    )
    .await;
    assert_eq!(far.code, 0, "a warning, not a refusal: {far}");
    assert!(
        far.stderr.contains(
            "warning: token auth: the workspace is in eastus and cluster `aks-west` in westus"
        ),
        "{far}"
    );
}

#[tokio::test]
async fn registry_models_are_refused_as_the_docs_say() {
    let ctx = ctx();
    for model in [
        "azureml://registries/azureml/models/distilbert/versions/3",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/registries/r1/models/m/versions/1",
    ] {
        let out = create_as(&ctx, "svc", "k8s", model, "sklearn-env:3", &[]).await;
        assert_eq!(out.code, 2, "{out}");
        assert!(
            out.stderr
                .contains("cannot serve models from the model catalog or a registry"),
            "{out}"
        );
    }
    assert!(ctx.arm().writes().is_empty());
}
