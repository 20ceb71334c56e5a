//! Each check `kubectl aml attach` runs before a write: its own message, its exit code, nothing
//! sent; `--skip-checks` sends anyway with warnings.

use aml_tests::TestContext;
use aml_tests::fake_arm::state::managed_cluster;
use serde_json::json;

use crate::attach::{ctx, in_cluster_ctx, puts};
use crate::common::{Attach, DEMO, tls_path};

/// Runs, expects `code` and `message` on stderr, and no write sent.
async fn refused(ctx: &TestContext, args: &[&str], code: u8, message: &str) {
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

fn small_cluster(ctx: &TestContext, nodes: u32, size: &str) {
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

#[tokio::test]
async fn tls_options_must_make_sense_together() {
    let ctx = ctx();
    let cert = tls_path("rsa-chain.crt");
    let key = tls_path("rsa.key");
    refused(
        &ctx,
        &[
            "aks",
            "aks-x",
            "--cluster",
            "aks1",
            "--ssl-leaf-domain-label",
            "c",
            "--ssl-cname",
            "a.example",
        ],
        2,
        "cannot be combined with your own certificate",
    )
    .await;
    refused(
        &ctx,
        &[
            "aks",
            "aks-x",
            "--cluster",
            "aks1",
            "--ssl-cert-pem-file",
            &cert,
        ],
        2,
        "go together",
    )
    .await;
    refused(
        &ctx,
        &[
            "aks",
            "aks-x",
            "--cluster",
            "aks1",
            "--ssl-overwrite-existing-domain",
        ],
        2,
        "needs --ssl-leaf-domain-label",
    )
    .await;
    refused(
        &ctx,
        &[
            "aks",
            "aks-x",
            "--cluster",
            "aks1",
            "--load-balancer-subnet",
            "s",
        ],
        2,
        "applies only to an internal load balancer",
    )
    .await;
    refused(&ctx, &["aks", "aks-x", "--cluster", "aks1", "--load-balancer-type", "InternalLoadBalancer", "--ssl-leaf-domain-label", "c"], 2,
        "a Microsoft certificate (--ssl-leaf-domain-label) is not supported with an internal load balancer").await;
    refused(
        &ctx,
        &[
            "aks",
            "aks-x",
            "--cluster",
            "aks1",
            "--ssl-cert-pem-file",
            &cert,
            "--ssl-key-pem-file",
            &tls_path("other.key"),
            "--ssl-cname",
            "fe.example.com",
        ],
        2,
        "the certificate and key fail checks: key-match",
    )
    .await;
    refused(
        &ctx,
        &[
            "aks",
            "aks-x",
            "--cluster",
            "aks1",
            "--ssl-cert-pem-file",
            &cert,
            "--ssl-key-pem-file",
            &key,
            "--ssl-cname",
            "other.example.org",
        ],
        2,
        "cname",
    )
    .await;
    refused(
        &ctx,
        &[
            "aks",
            "aks-x",
            "--cluster",
            "aks1",
            "--ssl-cert-pem-file",
            "/nonexistent.pem",
            "--ssl-key-pem-file",
            &key,
            "--ssl-cname",
            "fe.example.com",
        ],
        2,
        "/nonexistent.pem",
    )
    .await;
    let ilb = ctx
        .run::<Attach>(&[
            "aks",
            "aks-x",
            "--cluster",
            "aks1",
            "--load-balancer-type",
            "InternalLoadBalancer",
            "--load-balancer-subnet",
            "aks-subnet",
            "--ssl-cert-pem-file",
            &cert,
            "--ssl-key-pem-file",
            &key,
            "--ssl-cname",
            "fe.example.com",
        ])
        .await;
    assert_eq!(
        ilb.code, 0,
        "an internal load balancer with a custom certificate is fine: {ilb}"
    );
    assert_eq!(
        puts(&ctx)[0]["properties"]["properties"]["loadBalancerSubnet"],
        "aks-subnet"
    );
}

#[tokio::test]
async fn several_failures_are_all_listed_and_skip_checks_sends_anyway() {
    let ctx = ctx();
    small_cluster(&ctx, 1, "Standard_DS1_v2");
    let out = ctx.run::<Attach>(&["aks", "x_", "--cluster", "aks1"]).await;
    assert_eq!(
        out.code, 2,
        "the first failure (the name) decides the code: {out}"
    );
    assert!(
        out.stderr
            .contains("error: 2 checks failed (listed above); nothing was sent"),
        "{out}"
    );
    assert!(
        out.stderr.contains("check failed: compute name `x_`")
            && out.stderr.contains("check failed: the cluster has 1 nodes"),
        "{out}"
    );
    assert!(ctx.arm().writes().is_empty());
    let out = ctx
        .run::<Attach>(&["aks", "aks-x", "--cluster", "aks1", "--skip-checks"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("warning: check skipped (--skip-checks): the cluster has 1 nodes"),
        "{out}"
    );
    assert_eq!(puts(&ctx).len(), 1);
}

#[tokio::test]
async fn private_and_ip_restricted_clusters_get_the_docs_warnings() {
    let ctx = ctx();
    let mut cluster = managed_cluster("rg1", "aks1", "eastus", 3, "Standard_D3_v2");
    cluster["properties"]["apiServerAccessProfile"] = json!({"enablePrivateCluster": true, "enablePrivateClusterPublicFQDN": true, "authorizedIPRanges": ["1.2.3.4/32"]});
    cluster["properties"]["networkProfile"]["loadBalancerSku"] = json!("basic");
    ctx.arm().put_cluster(cluster, true);
    let out = ctx
        .run::<Attach>(&["aks", "aks-x", "--cluster", "aks1"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    for warning in [
        "private with a public FQDN",
        "only authorized IP ranges",
        "only with the standard load balancer",
    ] {
        assert!(out.stderr.contains(warning), "{warning}: {out}");
    }
}

#[tokio::test]
async fn create_checks_size_and_network_before_sending() {
    let ctx = ctx();
    refused(
        &ctx,
        &["create", "aks-new", "--vm-size", "Standard_Nope"],
        2,
        "VM size `Standard_Nope` is not offered in eastus",
    )
    .await;
    refused(
        &ctx,
        &["create", "aks-new", "--agent-count", "2"],
        2,
        "--agent-count gives 2 nodes and 8 vCPUs",
    )
    .await;
    refused(
        &ctx,
        &[
            "create",
            "aks-new",
            "--vnet-name",
            "v",
            "--subnet-name",
            "s",
            "--service-cidr",
            "10.0.0.0/16",
            "--dns-service-ip",
            "10.9.0.10",
        ],
        2,
        "--dns-service-ip 10.9.0.10 is outside --service-cidr 10.0.0.0/16",
    )
    .await;
    refused(
        &ctx,
        &[
            "create",
            "aks-new",
            "--vnet-name",
            "v",
            "--subnet-name",
            "s",
            "--service-cidr",
            "10.0.0/16",
        ],
        2,
        "is not an IPv4 CIDR",
    )
    .await;
    let out = ctx
        .run::<Attach>(&[
            "create",
            "aks-dev",
            "--cluster-purpose",
            "DevTest",
            "--vm-size",
            "Standard_D2s_v3",
        ])
        .await;
    assert_eq!(out.code, 0, "one node is enough for dev-test: {out}");
    assert_eq!(puts(&ctx)[0]["properties"]["properties"]["agentCount"], 1);
}
