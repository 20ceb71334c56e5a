//! The router scaling itself: its azureml-fe Deployment gets more CPU per pod, then more pods, when
//! routing is slow and the nodes have room; less CPU, then fewer pods, when idle; nothing on a
//! DevTest cluster or a full one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

use aml_tests::TestContext;
use serde_json::{Value, json};

use crate::autoscale_env::*;
use crate::router_env::{cluster, score_url};
use crate::router_load::Load;

/// The azureml-fe Deployment (no pods here: the routers under test are processes) and a node.
fn fe_and_node(ctx: &TestContext, replicas: u32, cpu: &str, node_cpu: &str) {
    ctx.kube.seed([
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "azureml-fe", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"azuremlappname": "azureml-fe"}},
                     "template": {"metadata": {"labels": {"azuremlappname": "azureml-fe"}},
                                  "spec": {"containers": [{"name": "router", "image": "kubectl-aml",
                                           "resources": {"requests": {"cpu": cpu, "memory": "800Mi"}, "limits": {"cpu": cpu}}}]}}},
        }),
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
               "status": {"allocatable": {"cpu": node_cpu, "memory": "16Gi", "pods": "110"}}}),
    ]);
}

fn fe(ctx: &TestContext) -> Value {
    ctx.kube
        .get("apps/v1", "Deployment", "default", "azureml-fe")
        .unwrap()
}

fn fe_cpu(ctx: &TestContext) -> String {
    fe(ctx)["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn fe_replicas(ctx: &TestContext) -> i64 {
    fe(ctx)["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn reasons(ctx: &TestContext) -> Vec<String> {
    let out = std::process::Command::new("kubectl")
        .args(["get", "events", "-n", "default", "-o", "json"])
        .env("KUBECONFIG", &ctx.kubeconfig)
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["involvedObject"]["name"] == "azureml-fe")
        .filter_map(|e| e["reason"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_routing_grows_cpu_per_pod_first_then_pods() {
    let ctx = cluster();
    fe_and_node(&ctx, 1, "1", "16");
    let (_, _kubelet) = model(
        &ctx,
        "m",
        &[
            ("kubectl-aml.io/max-queue-wait-ms", "20000"),
            ("kubectl-aml.io/autoscale", "false"),
        ],
        10,
    );
    // Any routing time counts as slow here; a change every 2 s.
    let router = leading_router(
        &ctx,
        &[
            "--router-routing-threshold",
            "0s",
            "--router-cooldown",
            "2s",
            "--router-min-pods",
            "1",
        ],
    );
    wait(Duration::from_secs(10), "a replica ready", || {
        ready_replicas(&router, "m") == 1
    });
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn(Load::new(&score_url(&router, "m"), 2).run(stop.clone()));
    wait(Duration::from_secs(6), "2 vCPU per pod", || {
        fe_cpu(&ctx) == "2"
    });
    assert_eq!(fe_replicas(&ctx), 1, "CPU first");
    wait(Duration::from_secs(6), "4 vCPU per pod", || {
        fe_cpu(&ctx) == "4"
    });
    wait(Duration::from_secs(6), "then a second pod", || {
        fe_replicas(&ctx) == 2
    });
    stop.store(true, SeqCst);
    assert!(running.await.unwrap().failures.is_empty());
    let limits =
        &fe(&ctx)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"];
    assert_eq!(limits, "4");
    let reasons = reasons(&ctx);
    assert!(
        reasons.contains(&"RouterScaledUp".to_string())
            && reasons.contains(&"RouterScaledOut".to_string()),
        "{reasons:?}"
    );
}

#[test]
fn an_idle_router_gives_cpu_back_then_pods_down_to_its_minimum() {
    let ctx = cluster();
    fe_and_node(&ctx, 3, "2", "16");
    let _router = leading_router(&ctx, &["--router-cooldown", "2s", "--router-min-pods", "2"]);
    wait(Duration::from_secs(6), "1 vCPU per pod", || {
        fe_cpu(&ctx) == "1"
    });
    assert_eq!(fe_replicas(&ctx), 3, "CPU first");
    wait(Duration::from_secs(6), "fewer pods", || {
        fe_replicas(&ctx) == 2
    });
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(fe_replicas(&ctx), 2, "never below --router-min-pods");
    assert!(reasons(&ctx).contains(&"RouterScaledIn".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_growth_on_a_devtest_cluster_or_without_room() {
    for (purpose, node_cpu) in [("dev-test", "16"), ("fast-prod", "1")] {
        let ctx = cluster();
        fe_and_node(&ctx, 1, "1", node_cpu);
        // The router's own pod, requesting its vCPU on that node.
        ctx.kube.seed([json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "azureml-fe-0", "namespace": "default", "labels": {"azuremlappname": "azureml-fe"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "router", "image": "kubectl-aml", "resources": {"requests": {"cpu": "1"}}}]},
            "status": {"phase": "Running"},
        })]);
        let (_, _kubelet) = model(&ctx, "m", &[("kubectl-aml.io/autoscale", "false")], 10);
        let args = [
            "--cluster-purpose",
            purpose,
            "--router-routing-threshold",
            "0s",
            "--router-cooldown",
            "1s",
            "--router-min-pods",
            "1",
        ];
        let router = leading_router(&ctx, &args);
        wait(Duration::from_secs(10), "a replica ready", || {
            ready_replicas(&router, "m") == 1
        });
        let stop = Arc::new(AtomicBool::new(false));
        let running = tokio::spawn(Load::new(&score_url(&router, "m"), 2).run(stop.clone()));
        tokio::time::sleep(Duration::from_secs(4)).await;
        stop.store(true, SeqCst);
        running.await.unwrap();
        assert_eq!(
            (fe_cpu(&ctx).as_str(), fe_replicas(&ctx)),
            ("1", 1),
            "{purpose} on {node_cpu} node CPU"
        );
    }
}
