//! `kubectl aml attach k8s`, `detach`, `list`, `show`, `versions` and `--no-wait` end to end.

use aml_tests::fake_arm::{SUBSCRIPTION, cluster_id};
use serde_json::{Value, json};

use crate::attach::{ctx, in_cluster_ctx, puts};
use crate::common::Attach;

#[tokio::test]
async fn k8s_attaches_with_a_system_identity_after_checking_extension_and_namespace() {
    let ctx = in_cluster_ctx();
    let out = ctx
        .run::<Attach>(&[
            "k8s",
            "k8s-compute",
            "--cluster",
            "aks1",
            "-n",
            "kube-public",
            "--identity-type",
            "SystemAssigned",
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        puts(&ctx)[0],
        json!({"location": "eastus", "identity": {"type": "SystemAssigned"},
               "properties": {"computeType": "Kubernetes", "resourceId": cluster_id("rg1", "aks1"),
                              "computeLocation": "eastus", "properties": {"namespace": "kube-public"}}})
    );
    assert!(
        ctx.arm()
            .journal()
            .iter()
            .any(|r| r.path.ends_with("/extensions"))
    );
    assert!(
        ctx.kube
            .requests()
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/kube-public")
    );
    assert!(
        out.stdout.contains("Kubernetes") && out.stdout.contains("kube-public"),
        "{out}"
    );
}

#[tokio::test]
async fn k8s_uses_only_the_first_user_assigned_identity_and_says_so() {
    let ctx = ctx();
    let id = |n: &str| {
        format!(
            "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{n}"
        )
    };
    let ids = format!("{},{}", id("first"), id("second"));
    let out = ctx
        .run::<Attach>(&[
            "k8s",
            "k8s-uai",
            "--cluster",
            "aks1",
            "--identity-type",
            "UserAssigned",
            "--user-assigned-identities",
            &ids,
            "--description",
            "team A",
            "--tags",
            "team=a,env=dev",
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("only the first (`first`) is used"),
        "{out}"
    );
    let body = &puts(&ctx)[0];
    assert_eq!(
        body["identity"],
        json!({"type": "UserAssigned", "userAssignedIdentities": {id("first"): {}}})
    );
    assert_eq!(body["tags"], json!({"team": "a", "env": "dev"}));
    assert_eq!(body["properties"]["description"], "team A");
}

#[tokio::test]
async fn detach_asks_first_and_leaves_the_cluster() {
    let ctx = ctx();
    assert_eq!(
        ctx.run::<Attach>(&["aks", "aks-prod", "--cluster", "aks1"])
            .await
            .code,
        0
    );
    let refused = ctx.run::<Attach>(&["detach", "aks-prod"]).await;
    assert_eq!(refused.code, 2, "no terminal, no --yes: {refused}");
    let declined = ctx
        .run_answering::<Attach>(&["detach", "aks-prod"], Some("n\n"))
        .await;
    assert_eq!(declined.code, 0, "{declined}");
    assert!(
        ctx.arm().writes().iter().all(|r| r.method != "DELETE"),
        "nothing deleted yet"
    );
    let dry = ctx
        .run::<Attach>(&["detach", "aks-prod", "--dry-run"])
        .await;
    assert!(
        dry.stdout.starts_with("DELETE ") && dry.stdout.contains("underlyingResourceAction=Detach"),
        "{dry}"
    );
    assert!(ctx.arm().writes().iter().all(|r| r.method != "DELETE"));
    let out = ctx
        .run_answering::<Attach>(&["detach", "aks-prod"], Some("y\n"))
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("kubectl aml fe cleanup"), "{out}");
    assert_eq!(out.stdout, "compute/aks-prod detached\n");
    assert!(ctx.arm().compute("aks-prod").is_none());
    assert_eq!(ctx.arm().cluster_count(), 1, "the cluster stays");
    let again = ctx.run::<Attach>(&["detach", "aks-prod", "--yes"]).await;
    assert_eq!(again.code, 4, "{again}");
}

#[tokio::test]
async fn list_and_show_print_every_format() {
    let ctx = ctx();
    assert_eq!(
        ctx.run::<Attach>(&["aks", "aks-prod", "--cluster", "aks1"])
            .await
            .code,
        0
    );
    assert_eq!(
        ctx.run::<Attach>(&[
            "k8s",
            "k8s-a",
            "--cluster",
            "aks1",
            "-n",
            "team-a",
            "--skip-checks"
        ])
        .await
        .code,
        0
    );
    let table = ctx.run::<Attach>(&["list"]).await;
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "NAME",
            "TYPE",
            "STATE",
            "CLUSTER",
            "PURPOSE",
            "SSL",
            "LOAD-BALANCER",
            "NAMESPACE",
            "AGE"
        ]
    );
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[2].contains("k8s-a") && lines[2].contains("team-a"),
        "{table}"
    );
    let wide = ctx.run::<Attach>(&["list", "-o", "wide"]).await;
    let header: Vec<&str> = wide
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(header[9..], ["LOCATION", "ORIGIN", "IDENTITY"], "{wide}");
    let names = ctx.run::<Attach>(&["list", "-o", "name"]).await;
    assert_eq!(names.stdout, "compute/aks-prod\ncompute/k8s-a\n");
    let json: Value =
        serde_json::from_str(&ctx.run::<Attach>(&["list", "-o", "json"]).await.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let yaml = ctx.run::<Attach>(&["show", "k8s-a", "-o", "yaml"]).await;
    assert!(yaml.stdout.contains("computeType: Kubernetes"), "{yaml}");
    let missing = ctx.run::<Attach>(&["show", "nope"]).await;
    assert_eq!(missing.code, 4, "{missing}");
    assert!(
        missing
            .stderr
            .contains("compute `nope` not found in workspace `ws1`"),
        "{missing}"
    );
}

#[tokio::test]
async fn versions_marks_default_and_preview() {
    let ctx = ctx();
    let out = ctx.run::<Attach>(&["versions"]).await;
    assert_eq!(out.code, 0, "{out}");
    let row = |v: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(v))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("1.29")[..2], ["1.29", "yes"]);
    assert_eq!(row("1.31")[..2], ["1.31", "yes"], "preview column");
    assert_eq!(
        row("1.27"),
        ["1.27", "1.27.9,", "1.27.13"],
        "patches in version order"
    );
    let elsewhere = ctx.run::<Attach>(&["versions", "--location", "mars"]).await;
    assert_eq!(elsewhere.code, 1, "{elsewhere}");
    assert!(
        elsewhere
            .stderr
            .contains("LocationNotAvailableForResourceType"),
        "{elsewhere}"
    );
}

#[tokio::test]
async fn no_wait_returns_the_operation_to_check() {
    let ctx = ctx();
    let out = ctx
        .run::<Attach>(&["aks", "aks-prod", "--cluster", "aks1", "--no-wait"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout
            .starts_with("Azure-AsyncOperation: http://127.0.0.1:"),
        "{out}"
    );
    assert_eq!(
        ctx.arm().compute("aks-prod").unwrap()["properties"]["provisioningState"],
        "Creating"
    );
    let json = ctx
        .run::<Attach>(&[
            "aks",
            "aks-two",
            "--cluster",
            "aks1",
            "--no-wait",
            "--skip-checks",
            "-o",
            "json",
        ])
        .await;
    let parsed: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(parsed["operation"]["header"], "Azure-AsyncOperation");
}
