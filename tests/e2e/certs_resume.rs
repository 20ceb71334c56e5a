//! `certs rotate` run again after it stopped half-way: a restart that never happened (a refused
//! PATCH; Ctrl-C or SIGTERM at that point leave the same state) is seen and done, once; and
//! `--wait` with nothing to follow is refused before anything changes.

use aml_tests::TestContext;
use serde_json::json;

use crate::certs_rotate::{DEPLOYMENT, holds, rotate};
use crate::common::{assert_code, demo_with_pair, requests};

/// A FIELD/VALUE table's value.
fn field<'a>(table: &'a str, name: &str) -> &'a str {
    table
        .lines()
        .find_map(|l| l.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
        .map_or("", str::trim)
}

/// An azureml-fe pod started long before any rotation.
pub(crate) fn old_router_pod(ctx: &TestContext) {
    ctx.kube.seed([json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "azureml-fe-old", "namespace": "default", "labels": {"app": "azureml-fe"},
            "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "azureml-fe", "image": "fe"}]}})]);
}

/// Stopped after the secret changed and before the restart (here a refused PATCH; Ctrl-C at that
/// point leaves the same state): a re-run sees the pods are older than the pair and restarts them,
/// and the run after that has nothing left to do.
#[tokio::test]
async fn a_rerun_after_a_missed_restart_restarts_and_then_nothing_is_owed() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    old_router_pod(&ctx);
    ctx.kube.fail_next("PATCH", DEPLOYMENT, 1, 500);
    let out = rotate(&ctx, &["--yes"]).await;
    assert_code(&out, 1);
    assert!(holds(&ctx, "ec.crt", "ec.key"));
    assert_eq!(
        requests(&ctx.kube, "PATCH").len(),
        1,
        "the one refused restart"
    );

    let again = rotate(&ctx, &["--yes", "--wait"]).await;
    assert_code(&again, 0);
    assert!(
        again
            .stderr
            .contains("still runs pods from before this pair was put in place: restarting it"),
        "{again}"
    );
    assert_eq!(field(&again.stdout, "restart"), "restarted", "{again}");
    assert_eq!(requests(&ctx.kube, "PATCH").len(), 2);

    let third = rotate(&ctx, &["--yes"]).await;
    assert_code(&third, 0);
    assert_eq!(field(&third.stdout, "restart"), "not needed", "{third}");
    assert_eq!(requests(&ctx.kube, "PATCH").len(), 2, "no second restart");
}

/// `--wait` without the Deployment to follow is refused before the secret changes.
#[tokio::test]
async fn wait_without_a_deployment_is_refused_before_anything_changes() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    ctx.kube
        .delete("apps/v1", "Deployment", "default", "azureml-fe");
    let out = rotate(&ctx, &["--yes", "--wait"]).await;
    assert_code(&out, 4);
    assert!(
        out.stderr.contains(
            "no deployment `default/azureml-fe` to restart and wait for: nothing was changed"
        ),
        "{out}"
    );
    assert!(holds(&ctx, "rsa.crt", "rsa.key"));
    assert!(requests(&ctx.kube, "PUT").is_empty());
}
