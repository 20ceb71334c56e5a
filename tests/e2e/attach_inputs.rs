//! Checks on what the user gives `kubectl aml attach` (TLS options and files, `create`'s size and
//! network), several failures at once, `--skip-checks`, and the docs' network warnings.

use aml_tests::fake_arm::state::managed_cluster;
use serde_json::json;

use crate::attach::{ctx, puts};
use crate::attach_checks::{refused, small_cluster};
use crate::common::{Attach, tls_path};

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
