//! `kubectl aml scale status`: the leader's own account through the API server's pod proxy (the
//! router is a pod of the fake cluster), and what the cluster objects say when no router leads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

use aml_tests::router::RouterProcess;
use serde_json::{Value, json};

use crate::autoscale_env::*;
use crate::common::assert_code;
use crate::router_env::{FE, cluster, score_url};
use crate::router_load::Load;

type Scale = kubectl_aml_scale::Cli;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_leaders_decisions_through_the_pod_proxy() {
    let ctx = cluster();
    let (_, _kubelet) = model(
        &ctx,
        "m",
        &[
            ("kubectl-aml.io/max-queue-wait-ms", "20000"),
            ("kubectl-aml.io/max-replicas", "3"),
        ],
        10,
    );
    let admin = free_port();
    // The router as a pod of the cluster, so the API server can proxy to its admin port.
    ctx.kube.seed([json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "azureml-fe-0", "namespace": "default", "labels": {"azuremlappname": "azureml-fe"}},
        "spec": {"containers": [{"name": "router", "image": "kubectl-aml", "ports": [{"name": "admin", "containerPort": admin}]}]},
        "status": {"podIP": "127.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]},
    })]);
    let admin_addr = format!("127.0.0.1:{admin}");
    let router = RouterProcess::start(
        FE,
        &ctx.kubeconfig,
        &[
            "--identity",
            "azureml-fe-0",
            "--admin",
            &admin_addr,
            "--scale-down-window",
            WINDOW,
        ],
    );
    wait(Duration::from_secs(10), "leading", || leading(&router));
    wait(Duration::from_secs(10), "a replica ready", || {
        ready_replicas(&router, "m") == 1
    });
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn(
        Load::new(&score_url(&router, "m"), 4)
            .header("x-test-delay-ms", "100")
            .run(stop.clone()),
    );
    wait(Duration::from_secs(8), "scaled to max", || {
        replicas(&ctx, "m") == 3
    });

    let port = admin.to_string();
    let out = ctx
        .run::<Scale>(&["status", "--admin-port", &port, "-o", "json"])
        .await;
    stop.store(true, SeqCst);
    assert!(running.await.unwrap().failures.is_empty());
    assert_code(&out, 0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (report["leader"].as_str(), report["source"].as_str()),
        (Some("azureml-fe-0"), Some("leader")),
        "{report}"
    );
    let service = &report["services"][0];
    assert_eq!(
        (
            service["deployment"].as_str(),
            service["desired"].as_u64(),
            service["max"].as_u64()
        ),
        (Some("m"), Some(3), Some(3))
    );
    assert!(service["utilisation"].as_f64().is_some(), "{service}");
    assert_eq!(service["lastChange"]["to"], 3, "{service}");

    let table = ctx.run::<Scale>(&["status", "--admin-port", &port]).await;
    assert_code(&table, 0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("NAMESPACE   DEPLOYMENT   READY   MIN   MAX   TARGET   UTILISATION   1 MIN   LAST CHANGE"), "{}", table.stdout);
    assert!(
        lines[1].starts_with("ws1         m            3/3") || lines[1].contains("/3"),
        "{}",
        table.stdout
    );
    assert!(
        lines[1].contains(" → 3, ") && lines[1].ends_with("autoscaled"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("default/azureml-fe-autoscaler   azureml-fe-0   leader"),
        "{}",
        table.stdout
    );
    let wide = ctx
        .run::<Scale>(&["status", "--admin-port", &port, "-o", "wide"])
        .await;
    assert!(
        wide.stdout.contains("REASON") && wide.stdout.contains("scaled up from 1 to"),
        "{}",
        wide.stdout
    );
}

#[tokio::test]
async fn without_a_leader_status_reads_the_cluster_and_says_so() {
    let ctx = cluster();
    ctx.kube.seed([
        aml_tests::router::v1_deployment("ws1", "m", &[("kubectl-aml.io/min-replicas", "2")]),
        aml_tests::router::v1_deployment("ws1", "off", &[("kubectl-aml.io/autoscale", "false")]),
        json!({"apiVersion": "v1", "kind": "Event",
               "metadata": {"name": "m.1", "namespace": "ws1"},
               "involvedObject": {"kind": "Deployment", "name": "m", "namespace": "ws1"},
               "reason": "ScaledUp", "type": "Normal", "lastTimestamp": "2026-12-06T05:00:00Z",
               "message": "scaled up from 1 to 2 replicas: at the minimum"}),
    ]);
    let out = ctx.run::<Scale>(&["status", "-o", "json"]).await;
    assert_code(&out, 0);
    assert!(out.stderr.contains("no router holds the Lease default/azureml-fe-autoscaler; showing what the cluster objects say"), "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["source"], "cluster");
    let services = report["services"].as_array().unwrap();
    assert_eq!(services[0]["deployment"], "m");
    assert_eq!(
        (
            services[0]["min"].as_u64(),
            services[0]["lastChange"]["to"].as_u64()
        ),
        (Some(2), Some(2))
    );
    assert!(services[0]["utilisation"].is_null());
    assert_eq!(
        services[1]["notScaled"],
        "kubectl-aml.io/autoscale is false"
    );
    let names = ctx.run::<Scale>(&["status", "-o", "name"]).await;
    assert_eq!(names.stdout, "deployment.apps/m\ndeployment.apps/off\n");
}
