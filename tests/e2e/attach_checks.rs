//! Each check `kubectl aml attach` runs before a write: its own message, its exit code, nothing
//! sent; `--skip-checks` sends anyway with warnings.

use aml_tests::TestContext;
use aml_tests::fake_arm::state::managed_cluster;
use serde_json::json;

use crate::attach::{ctx, in_cluster_ctx};
use crate::common::{Attach, DEMO};

/// Runs, expects `code` and `message` on stderr, and no write sent.
pub async fn refused(ctx: &TestContext, args: &[&str], code: u8, message: &str) {
    let out = ctx.run::<Attach>(args).await;
    assert_eq!(out.code, code, "{args:?}: {out}");
    assert!(
        out.stderr.contains(message),
        "{args:?}: expected {message:?} in\n{out}"
    );
    assert!(out.stderr.contains("hint: "), "{out}");
    assert!(
        ctx.arm().writes().is_empty(),
        "{args:?} sent {:?}",
        ctx.arm().writes()
    );
}

pub fn small_cluster(ctx: &TestContext, nodes: u32, size: &str) {
    ctx.arm()
        .add_cluster("rg1", "aks1", "eastus", nodes, size, true);
}

#[tokio::test]
async fn compute_names_follow_the_docs_rule() {
    let ctx = ctx();
    refused(
        &ctx,
        &["aks", "ab", "--cluster", "aks1"],
        2,
        "compute name `ab` is 2 characters long",
    )
    .await;
    refused(
        &ctx,
        &["aks", "9lives", "--cluster", "aks1"],
        2,
        "must start with a letter",
    )
    .await;
    refused(
        &ctx,
        &["k8s", "my_compute", "--cluster", "aks1"],
        2,
        "only letters, digits and hyphens",
    )
    .await;
}

#[tokio::test]
async fn an_existing_name_is_refused_before_azure_says_409() {
    let ctx = ctx();
    assert_eq!(
        ctx.run::<Attach>(&["k8s", "taken", "--cluster", "aks1"])
            .await
            .code,
        0
    );
    let before = ctx.arm().writes().len();
    let out = ctx
        .run::<Attach>(&["aks", "taken", "--cluster", "aks1"])
        .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("compute `taken` already exists in workspace `ws1`; creating a compute is not idempotent"), "{out}");
    assert_eq!(ctx.arm().writes().len(), before);
}

#[tokio::test]
async fn the_cluster_must_exist() {
    let ctx = ctx();
    refused(
        &ctx,
        &["aks", "aks-x", "--cluster", "nope"],
        4,
        "cluster `nope` not found in resource group `rg1`",
    )
    .await;
    refused(
        &ctx,
        &["k8s", "k8s-x", "--cluster", "nope", "--arc"],
        4,
        "cluster `nope` not found",
    )
    .await;
    refused(
        &ctx,
        &[
            "aks",
            "aks-x",
            "--resource-id",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a",
        ],
        2,
        "not a cluster",
    )
    .await;
}

#[tokio::test]
async fn a_production_cluster_needs_three_nodes_and_twelve_vcpus() {
    let ctx = ctx();
    small_cluster(&ctx, 2, "Standard_D4s_v3");
    refused(&ctx, &["aks", "aks-x", "--cluster", "aks1"], 1, "the cluster has 2 nodes and 8 vCPUs: a production (FastProd) cluster needs at least 3 nodes and 12 vCPUs").await;
    small_cluster(&ctx, 3, "Standard_D2s_v3");
    refused(
        &ctx,
        &["aks", "aks-x", "--cluster", "aks1"],
        1,
        "3 nodes and 6 vCPUs",
    )
    .await;
    let out = ctx
        .run::<Attach>(&[
            "aks",
            "aks-x",
            "--cluster",
            "aks1",
            "--cluster-purpose",
            "DevTest",
        ])
        .await;
    assert_eq!(out.code, 0, "dev-test needs 1 node: {out}");
}

#[tokio::test]
async fn kubernetes_versions_must_be_supported_and_preview_ones_warn() {
    let ctx = ctx();
    let mut cluster = managed_cluster("rg1", "aks1", "eastus", 3, "Standard_D3_v2");
    cluster["properties"]["currentKubernetesVersion"] = json!("1.25.6");
    ctx.arm().put_cluster(cluster.clone(), true);
    let out = ctx
        .run::<Attach>(&["aks", "aks-x", "--cluster", "aks1"])
        .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("Kubernetes 1.25.6 is no longer supported by AKS in eastus"),
        "{out}"
    );
    assert!(
        out.stderr.contains("1.27, 1.28, 1.29, 1.30, 1.31"),
        "supported versions listed: {out}"
    );
    cluster["properties"]["currentKubernetesVersion"] = json!("1.31.1");
    ctx.arm().put_cluster(cluster, true);
    let out = ctx
        .run::<Attach>(&["aks", "aks-x", "--cluster", "aks1"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("warning: Kubernetes 1.31.1 is a preview version in eastus"),
        "{out}"
    );
}

#[tokio::test]
async fn a_stopped_cluster_is_refused() {
    let ctx = ctx();
    let mut cluster = managed_cluster("rg1", "aks1", "eastus", 3, "Standard_D3_v2");
    cluster["properties"]["powerState"]["code"] = json!("Stopped");
    ctx.arm().put_cluster(cluster, true);
    refused(
        &ctx,
        &["aks", "aks-x", "--cluster", "aks1"],
        1,
        "cluster `aks1` is stopped",
    )
    .await;
}

#[tokio::test]
async fn one_cluster_is_never_attached_twice_as_aks() {
    let ctx = ctx();
    assert_eq!(
        ctx.run::<Attach>(&["aks", "first", "--cluster", "aks1"])
            .await
            .code,
        0
    );
    let before = ctx.arm().writes().len();
    let out = ctx
        .run::<Attach>(&["aks", "second", "--cluster", "aks1"])
        .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("cluster `aks1` is already attached as compute `first`; a second attachment breaks the first"), "{out}");
    assert_eq!(ctx.arm().writes().len(), before);
}

#[tokio::test]
async fn k8s_computes_share_a_cluster_only_in_different_namespaces() {
    let ctx = ctx();
    assert_eq!(
        ctx.run::<Attach>(&["k8s", "team-a", "--cluster", "aks1", "-n", "a"])
            .await
            .code,
        0
    );
    assert_eq!(
        ctx.run::<Attach>(&["k8s", "team-b", "--cluster", "aks1", "-n", "b"])
            .await
            .code,
        0
    );
    let before = ctx.arm().writes().len();
    let out = ctx
        .run::<Attach>(&["k8s", "team-c", "--cluster", "aks1", "-n", "a"])
        .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("compute `team-a` already uses namespace `a` of cluster `aks1`"),
        "{out}"
    );
    assert_eq!(ctx.arm().writes().len(), before);
}

#[tokio::test]
async fn azureml_fe_already_in_the_cluster_is_refused() {
    let ctx = in_cluster_ctx();
    ctx.kube.seed_yaml(DEMO);
    refused(
        &ctx,
        &["aks", "aks-x", "--cluster", "aks1"],
        1,
        "azureml-fe already runs in cluster `aks1` (8 of 8 objects in namespace `default`)",
    )
    .await;
}

#[tokio::test]
async fn k8s_needs_the_extension_and_the_namespace() {
    let ctx = in_cluster_ctx();
    refused(
        &ctx,
        &["k8s", "k8s-x", "--cluster", "aks1", "-n", "missing-ns"],
        1,
        "namespace `missing-ns` does not exist in cluster `aks1`",
    )
    .await;
    let mut cluster = managed_cluster("rg1", "aks1", "eastus", 3, "Standard_D3_v2");
    cluster["properties"]["fqdn"] = json!("127.0.0.1");
    ctx.arm().put_cluster(cluster, false);
    refused(
        &ctx,
        &["k8s", "k8s-x", "--cluster", "aks1"],
        1,
        "the Azure ML extension is not installed on cluster `aks1`",
    )
    .await;
    let out = ctx
        .run::<Attach>(&["k8s", "k8s-x", "--cluster", "aks1"])
        .await;
    assert!(out.stderr.contains("hint: install it: `az k8s-extension create --name azureml --extension-type Microsoft.AzureML.Kubernetes --cluster-type managedClusters --cluster-name aks1 -g rg1"), "{out}");
}

#[tokio::test]
async fn without_the_clusters_kubeconfig_the_in_cluster_checks_are_skipped_with_a_warning() {
    let ctx = ctx();
    let out = ctx
        .run::<Attach>(&["k8s", "k8s-x", "--cluster", "aks1", "-n", "team-z"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains(
            "warning: in-cluster checks skipped: the kubeconfig context points at 127.0.0.1"
        ),
        "{out}"
    );
    assert!(
        out.stderr.contains("make sure namespace `team-z` exists"),
        "{out}"
    );
}

/// A look-up that only helps a check (VM sizes, Kubernetes versions) failing is one more warning:
/// the rules that can still be checked report, and an attach that passes them goes ahead.
#[tokio::test]
async fn a_failed_auxiliary_look_up_is_a_warning_and_the_rules_still_report() {
    for look_up in ["/vmSizes", "/kubernetesVersions"] {
        let ctx = ctx();
        small_cluster(&ctx, 1, "Standard_D3_v2");
        ctx.arm().forbid("GET", look_up);
        refused(
            &ctx,
            &["aks", "aks-prod", "--cluster", "aks1"],
            1,
            "needs at least 3 nodes and 12 vCPUs",
        )
        .await;
        let out = ctx
            .run::<Attach>(&[
                "aks",
                "aks-prod",
                "--cluster",
                "aks1",
                "--cluster-purpose",
                "DevTest",
            ])
            .await;
        assert_eq!(out.code, 0, "{look_up}: {out}");
        assert!(
            out.stderr.contains("skipped: the look-up failed (")
                && out.stderr.contains("AuthorizationFailed"),
            "{look_up}: {out}"
        );
    }
    let ctx = ctx();
    ctx.arm().forbid("GET", "/vmSizes");
    let out = ctx
        .run::<Attach>(&["create", "new-aks", "--vm-size", "Standard_D3_v2"])
        .await;
    assert!(
        out.stderr
            .contains("checking that VM size `Standard_D3_v2` is offered skipped"),
        "{out}"
    );
}
