//! `kubectl aml attach` end to end: each verb against the fake ARM (and the fake cluster for the
//! in-cluster checks), through the real Azure CLI credential path (a stand-in `az`).

use aml_tests::fake_arm::{SUBSCRIPTION, cluster_id, state::managed_cluster};
use aml_tests::{FakeArm, TestContext};
use serde_json::{Value, json};

use crate::common::{Attach, tls_path};

/// A fake cluster, a fake ARM and an az configuration for it (defaults rg1/ws1).
pub fn ctx() -> TestContext {
    TestContext::new().with_arm(FakeArm::start())
}

/// Like [`ctx`], with cluster `aks1`'s FQDN on the fake API server, so the kubeconfig at hand is
/// the cluster's and the in-cluster checks run.
pub fn in_cluster_ctx() -> TestContext {
    let ctx = ctx();
    let mut cluster = managed_cluster("rg1", "aks1", "eastus", 3, "Standard_D3_v2");
    cluster["properties"]["fqdn"] = json!("127.0.0.1");
    ctx.arm().put_cluster(cluster, true);
    ctx
}

/// The bodies of the PUTs the fake received.
pub fn puts(ctx: &TestContext) -> Vec<Value> {
    ctx.arm()
        .journal()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.body)
        .collect()
}

#[tokio::test]
async fn aks_attaches_after_reading_everything_it_checks() {
    let ctx = ctx();
    let out = ctx
        .run::<Attach>(&["aks", "aks-prod", "--cluster", "aks1"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout
            .contains("aks-prod   AKS    Succeeded   aks1      FastProd   Disabled   PublicIp"),
        "{out}"
    );
    assert!(out.stderr.contains("compute `aks-prod` is ready"), "{out}");
    let journal = ctx.arm().journal();
    let put = journal
        .iter()
        .position(|r| r.method == "PUT")
        .expect("a PUT");
    let reads: Vec<&str> = journal[..put]
        .iter()
        .map(|r| r.path.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        reads,
        ["ws1", "computes", "aks1", "vmSizes", "kubernetesVersions"]
    );
    assert_eq!(
        journal[put].body,
        json!({"location": "eastus", "properties": {"computeType": "AKS", "resourceId": cluster_id("rg1", "aks1"),
               "properties": {"clusterPurpose": "FastProd", "loadBalancerType": "PublicIp"}}})
    );
    assert!(journal[put + 1..].iter().all(|r| r.method == "GET"));
    let compute = ctx.arm().compute("aks-prod").expect("stored");
    assert_eq!(compute["properties"]["provisioningState"], "Succeeded");
    assert_eq!(compute["properties"]["isAttachedCompute"], true);
    // One request id per request; our user agent; a bearer token on each.
    let mut ids: Vec<&str> = journal.iter().map(|r| r.request_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), journal.len());
    assert!(
        journal
            .iter()
            .all(|r| r.bearer && r.user_agent.starts_with("kubectl-aml/"))
    );
    // The CLI credential ran az once, for the custom cloud's audience; the token was cached.
    let calls = ctx.azure().az_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].contains(&format!("--scope {}//.default", ctx.arm().url())),
        "{calls:?}"
    );
}

#[tokio::test]
async fn in_cluster_checks_run_when_the_kubeconfig_is_the_clusters() {
    let ctx = in_cluster_ctx();
    let out = ctx
        .run::<Attach>(&["aks", "aks-prod", "--cluster", "aks1"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.stderr.contains("in-cluster checks skipped"), "{out}");
    assert!(
        ctx.kube
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/deployments/azureml-fe"))
    );
}

#[tokio::test]
async fn aks_with_a_custom_certificate_sends_it_and_never_shows_the_key() {
    let ctx = ctx();
    let args = [
        "aks",
        "aks-tls",
        "--cluster",
        "aks1",
        "--ssl-cert-pem-file",
        &tls_path("rsa-chain.crt"),
        "--ssl-key-pem-file",
        &tls_path("rsa.key"),
        "--ssl-cname",
        "fe.example.com",
    ];
    let dry = ctx
        .run::<Attach>(&[&args[..], &["--dry-run"]].concat())
        .await;
    assert_eq!(dry.code, 0, "{dry}");
    assert!(
        dry.stdout.contains("\"status\": \"Enabled\"") && dry.stdout.contains("BEGIN CERTIFICATE"),
        "{dry}"
    );
    assert!(
        !dry.stdout.contains("PRIVATE KEY") && dry.stdout.contains("<redacted"),
        "{dry}"
    );
    assert!(ctx.arm().writes().is_empty(), "a dry run sends no write");
    let out = ctx.run::<Attach>(&args).await;
    assert_eq!(out.code, 0, "{out}");
    let ssl = &puts(&ctx)[0]["properties"]["properties"]["sslConfiguration"];
    assert_eq!(ssl["cname"], "fe.example.com");
    assert_eq!(
        ssl["key"].as_str().unwrap(),
        std::fs::read_to_string(tls_path("rsa.key")).unwrap()
    );
    assert!(!out.stdout.contains("PRIVATE KEY") && !out.stderr.contains("PRIVATE KEY"));
    let shown = ctx.run::<Attach>(&["show", "aks-tls", "-o", "json"]).await;
    assert!(
        shown.stdout.contains("fe.example.com") && !shown.stdout.contains("PRIVATE KEY"),
        "{shown}"
    );
    // A server that does return the key (ARM withholds it; an older or other one may not):
    // redacted in every format unless --show-secrets.
    let mut leaky = puts(&ctx)[0].clone();
    leaky["name"] = json!("aks-tls");
    leaky["id"] = json!(format!(
        "{}/computes/aks-tls",
        aml_tests::fake_arm::workspace_id("rg1", "ws1")
    ));
    let list = json!({"value": [leaky.clone()]});
    for (args, body) in [
        (vec!["show", "aks-tls"], leaky.clone()),
        (vec!["list"], list.clone()),
    ] {
        for output in ["json", "yaml", "wide", "name"] {
            ctx.arm().respond("GET", "/computes", 1, 200, body.clone());
            let out = ctx
                .run::<Attach>(&[&args[..], &["-o", output]].concat())
                .await;
            assert_eq!(out.code, 0, "{args:?} -o {output}: {out}");
            assert!(
                !out.stdout.contains("PRIVATE KEY") && !out.stderr.contains("PRIVATE KEY"),
                "{args:?} -o {output}: {out}"
            );
        }
        ctx.arm().respond("GET", "/computes", 1, 200, body);
        let asked = ctx
            .run::<Attach>(&[&args[..], &["-o", "json", "--show-secrets"]].concat())
            .await;
        assert!(asked.stdout.contains("PRIVATE KEY"), "{asked}");
    }
}

#[tokio::test]
async fn aks_with_a_leaf_domain_label_asks_for_a_microsoft_certificate() {
    let ctx = ctx();
    let out = ctx
        .run::<Attach>(&[
            "aks",
            "aks-auto",
            "--cluster",
            "aks1",
            "--ssl-leaf-domain-label",
            "contoso",
            "--cluster-purpose",
            "DevTest",
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        puts(&ctx)[0]["properties"]["properties"],
        json!({"clusterPurpose": "DevTest", "loadBalancerType": "PublicIp",
               "sslConfiguration": {"status": "Auto", "leafDomainLabel": "contoso", "overwriteExistingDomain": false}})
    );
    assert!(out.stdout.contains("Auto (contoso)"), "{out}");
}

#[tokio::test]
async fn create_builds_a_cluster_and_detach_delete_cluster_removes_it() {
    let ctx = ctx();
    let out = ctx
        .run::<Attach>(&[
            "create",
            "aks-new",
            "--agent-count",
            "3",
            "--vm-size",
            "Standard_D4s_v3",
            "--vnet-name",
            "vnet1",
            "--subnet-name",
            "sub1",
            "--service-cidr",
            "10.0.0.0/16",
            "--dns-service-ip",
            "10.0.0.10",
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
    let inner = &puts(&ctx)[0]["properties"]["properties"];
    assert_eq!(inner["agentCount"], 3);
    assert_eq!(inner["agentVmSize"], "Standard_D4s_v3");
    assert_eq!(
        inner["aksNetworkingConfiguration"]["subnetId"],
        format!(
            "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/sub1"
        )
    );
    assert_eq!(ctx.arm().cluster_count(), 2, "Azure ML made a cluster");
    let compute = ctx.arm().compute("aks-new").unwrap();
    assert_eq!(compute["properties"]["isAttachedCompute"], false);
    let out = ctx
        .run::<Attach>(&["detach", "aks-new", "--delete-cluster", "--yes"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    let delete = ctx
        .arm()
        .writes()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(delete.query["underlyingResourceAction"], "Delete");
    assert!(ctx.arm().compute("aks-new").is_none());
    assert_eq!(ctx.arm().cluster_count(), 1, "its cluster went with it");
}
