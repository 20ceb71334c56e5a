//! `kubectl aml deploy keys`, `regen-key`, `token`, `logs`, the guards inside the cluster (GPU
//! capacity, HorizontalPodAutoscalers) and the docs' deployment files, end to end.

use serde_json::json;

use crate::common::Deploy;
use crate::deploy::{create, ctx, in_cluster_ctx, writes};

#[tokio::test]
async fn keys_are_masked_unless_asked_and_can_be_replaced() {
    let ctx = ctx();
    assert_eq!(create(&ctx, &[]).await.code, 0);
    let (primary, secondary) = ctx.arm().keys("svc").unwrap();
    let masked = ctx.run::<Deploy>(&["keys", "svc"]).await;
    assert_eq!(masked.code, 0, "{masked}");
    assert!(
        !masked.stdout.contains(&primary)
            && masked
                .stdout
                .contains(&format!("****{}", &primary[primary.len() - 4..])),
        "{masked}"
    );
    let json = ctx.run::<Deploy>(&["keys", "svc", "-o", "json"]).await;
    assert!(!json.stdout.contains(&primary), "{json}");
    let shown = ctx
        .run::<Deploy>(&["keys", "svc", "--show-secrets", "-o", "json"])
        .await;
    let parsed: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(
        (
            parsed["primaryKey"].as_str().unwrap(),
            parsed["secondaryKey"].as_str().unwrap()
        ),
        (primary.as_str(), secondary.as_str())
    );
    let out = ctx
        .run::<Deploy>(&[
            "regen-key",
            "svc",
            "--key",
            "secondary",
            "--value",
            "my-own-secondary-key",
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        !out.stderr.contains("my-own-secondary-key")
            && !out.stdout.contains("my-own-secondary-key")
    );
    assert_eq!(
        ctx.arm().keys("svc").unwrap(),
        (primary.clone(), "my-own-secondary-key".to_string())
    );
    let out = ctx
        .run::<Deploy>(&["regen-key", "svc", "--key", "primary"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_ne!(ctx.arm().keys("svc").unwrap().0, primary);
    let regen = ctx
        .arm()
        .writes()
        .into_iter()
        .rfind(|r| r.path.ends_with("/regenerateKeys"))
        .unwrap();
    assert_eq!(
        regen.status, 202,
        "answered with Location, polled to the end"
    );
    let token = ctx.run::<Deploy>(&["token", "svc"]).await;
    assert_eq!(token.code, 2, "{token}");
    assert!(
        token.stderr.contains("service `svc` uses key auth"),
        "{token}"
    );
}

#[tokio::test]
async fn tokens_come_with_their_times_and_logs_with_their_tail() {
    let ctx = ctx();
    assert_eq!(create(&ctx, &["--auth", "token"]).await.code, 0);
    let out = ctx.run::<Deploy>(&["token", "svc", "-o", "json"]).await;
    assert_eq!(out.code, 0, "{out}");
    let t: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    // A JWT (the fake signs real ones: the sandbox's router verifies them).
    assert_eq!(t["accessToken"].as_str().unwrap().split('.').count(), 3);
    assert!(t["expiryTimeUtc"].as_i64().unwrap() > t["refreshAfterTimeUtc"].as_i64().unwrap());
    assert!(t["expiresOn"].as_str().unwrap().ends_with('Z'));
    let keys = ctx.run::<Deploy>(&["keys", "svc"]).await;
    assert_eq!(keys.code, 2, "{keys}");
    let logs = ctx.run::<Deploy>(&["logs", "svc", "--tail", "3"]).await;
    assert_eq!(
        logs.stdout,
        "InferenceServer log line 48\nInferenceServer log line 49\nInferenceServer log line 50\n"
    );
    let init = ctx
        .run::<Deploy>(&[
            "logs",
            "svc",
            "--tail",
            "1",
            "--container",
            "storage-initializer",
        ])
        .await;
    assert_eq!(init.stdout, "StorageInitializer log line 50\n");
}

fn node(name: &str, pool: &str, gpus: u32) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.azure.com/agentpool": pool}},
           "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": gpus.to_string()}}})
}

#[tokio::test]
async fn gpus_need_a_gpu_cluster_as_the_docs_say() {
    let ctx = in_cluster_ctx();
    ctx.kube.seed([node("n1", "nodepool1", 0)]);
    let out = create(&ctx, &["--gpu-cores", "1"]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("cluster `aks1` has no GPU nodes"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("a secondary node pool is not supported"),
        "{out}"
    );
    ctx.kube.seed([node("g1", "gpupool", 2)]);
    let out = create(&ctx, &["--gpu-cores", "1"]).await;
    assert!(
        out.stderr
            .contains("has GPUs only in node pool `gpupool`, not in its first pool `nodepool1`"),
        "{out}"
    );
    ctx.kube.seed([node("n2", "nodepool1", 1)]);
    let out = create(&ctx, &["--gpu-cores", "2"]).await;
    assert!(
        out.stderr.contains("no node of cluster `aks1` has 2 GPUs"),
        "{out}"
    );
    assert!(ctx.arm().writes().is_empty());
    let out = create(&ctx, &["--gpu-cores", "1"]).await;
    assert_eq!(out.code, 0, "{out}");
    let requests = &writes(&ctx)[1].2["properties"]["containerResourceRequirements"];
    assert_eq!(requests["containerResourceRequests"]["gpu"], "1");
    assert_eq!(requests["containerResourceLimits"]["gpu"], "1");
}

#[tokio::test]
async fn an_hpa_on_the_service_is_warned_about_or_removed() {
    let ctx = in_cluster_ctx();
    ctx.kube.seed_yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: models}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: svc-hpa, namespace: models}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: svc-blue}\n  minReplicas: 1\n  maxReplicas: 5\n");
    let out = create(&ctx, &[]).await;
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("warning: HorizontalPodAutoscaler `models/svc-hpa` scales `svc-blue`: it and azureml-fe's autoscaler would fight"), "{out}");
    let out = ctx
        .run::<Deploy>(&["update", "svc", "--remove-hpa", "--dry-run"])
        .await;
    assert!(
        out.stderr
            .contains("dry run: would delete HorizontalPodAutoscaler `models/svc-hpa`"),
        "{out}"
    );
    assert!(
        ctx.kube
            .get(
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                "models",
                "svc-hpa"
            )
            .is_some()
    );
    let out = ctx.run::<Deploy>(&["update", "svc", "--remove-hpa"]).await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("deleted HorizontalPodAutoscaler `models/svc-hpa`"),
        "{out}"
    );
    assert!(
        ctx.kube
            .get(
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                "models",
                "svc-hpa"
            )
            .is_none()
    );
}

#[tokio::test]
async fn the_docs_deployment_files_load_as_json_and_yaml() {
    let fixture = |name: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/deploy")
            .join(name)
            .display()
            .to_string()
    };
    let ctx = ctx();
    let out = create(
        &ctx,
        &["--deploy-config-file", &fixture("deploymentconfig.json")],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let p = &writes(&ctx)[1].2["properties"];
    assert_eq!(p["scaleSettings"]["maxInstances"], 3);
    assert_eq!(p["appInsightsEnabled"], true);
    assert_eq!(p["requestSettings"]["requestTimeout"], "PT5S");
    let ctx = crate::deploy::ctx();
    let out = create(
        &ctx,
        &["--deploy-config-file", &fixture("deploymentconfig.yml")],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let w = writes(&ctx);
    assert_eq!(w[0].2["properties"]["authMode"], "AMLToken");
    assert_eq!(w[1].2["sku"]["capacity"], 2);
    assert_eq!(
        w[1].2["properties"]["scaleSettings"],
        json!({"scaleType": "Default"})
    );
    assert_eq!(
        w[1].2["properties"]["containerResourceRequirements"]["containerResourceLimits"],
        json!({"cpu": "2", "memory": "4Gi"})
    );
    assert_eq!(w[1].2["properties"]["livenessProbe"]["timeout"], "PT5S");
    assert_eq!(w[1].2["tags"], json!({"team": "ml"}));
    let bad = ctx.path("bad.yml");
    std::fs::write(&bad, "numReplicas: [").unwrap();
    let out = create(&ctx, &["--deploy-config-file", bad.to_str().unwrap()]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("Error parsing --deploy-config-file"),
        "{out}"
    );
    // Not files: refused by name, nothing sent.
    let writes = ctx.arm().writes().len();
    for (path, words) in [
        ("/dev/zero", "is a character device, not a regular file"),
        ("/dev/urandom", "is a character device, not a regular file"),
    ] {
        let out = create(&ctx, &["--deploy-config-file", path]).await;
        assert_eq!(out.code, 2, "{out}");
        assert!(out.stderr.contains(words), "{out}");
    }
    assert_eq!(ctx.arm().writes().len(), writes);
}

/// The routine HorizontalPodAutoscaler look says nothing when the kubeconfig is another cluster's;
/// what was asked for (--remove-hpa, --gpu-cores) and could not run is warned about.
#[tokio::test]
async fn a_skipped_cluster_check_is_warned_about_only_when_it_was_asked_for() {
    let ctx = crate::deploy::ctx();
    let plain = crate::deploy::create(&ctx, &[]).await;
    assert_eq!(plain.code, 0, "{plain}");
    assert!(!plain.stderr.contains("skipped"), "{plain}");
    let asked = crate::deploy::create(&ctx, &["--deployment", "green", "--remove-hpa"]).await;
    assert_eq!(asked.code, 0, "{asked}");
    assert!(
        asked
            .stderr
            .contains("warning: --remove-hpa skipped: the kubeconfig context points at"),
        "{asked}"
    );
}
