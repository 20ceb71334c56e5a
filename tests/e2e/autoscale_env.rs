//! Helpers for the autoscaler suites: a model Deployment whose pods a test kubelet runs as real
//! replicas, the router (with its autoscaler) as a process, and readings of the fake cluster.

use std::time::{Duration, Instant};

use aml_tests::TestContext;
use aml_tests::kubelet::Kubelet;
use aml_tests::router::{self, RouterProcess};
use serde_json::Value;

use crate::router_env::{PRIMARY, SECONDARY};

/// A scale-down window short enough for tests.
pub const WINDOW: &str = "4s";

/// Seeds model Deployment `name` in `ws1` (v1 service, 1 replica, these annotations) and its keys,
/// and starts a kubelet for it (replicas Ready after 200 ms, at most `capacity` scheduled).
pub fn model(
    ctx: &TestContext,
    name: &str,
    annotations: &[(&str, &str)],
    capacity: usize,
) -> (Value, Kubelet) {
    let deployment = router::v1_deployment("ws1", name, annotations);
    ctx.kube.seed([
        deployment.clone(),
        router::keys_secret("ws1", &format!("{name}-keys"), PRIMARY, SECONDARY),
    ]);
    let kubelet = Kubelet::start(
        &ctx.kubeconfig,
        &deployment,
        Duration::from_millis(200),
        capacity,
    );
    (deployment, kubelet)
}

/// `spec.replicas` of a model Deployment in `ws1`.
pub fn replicas(ctx: &TestContext, name: &str) -> i64 {
    ctx.kube
        .get("apps/v1", "Deployment", "ws1", name)
        .expect("deployment")["spec"]["replicas"]
        .as_i64()
        .unwrap_or(1)
}

/// Ready pods of a model Deployment in `ws1`.
pub fn ready_replicas(router: &RouterProcess, name: &str) -> u64 {
    router
        .metric(
            "azureml_fe_ready_replicas",
            &[&format!("service=\"{name}\"")],
        )
        .unwrap_or(0.0) as u64
}

/// The router with a short scale-down window, once it leads the autoscaler.
pub fn leading_router(ctx: &TestContext, extra: &[&str]) -> RouterProcess {
    let mut args = vec!["--scale-down-window", WINDOW];
    args.extend_from_slice(extra);
    let router = crate::router_env::start(ctx, &args);
    wait(Duration::from_secs(10), "the router leads", || {
        leading(&router)
    });
    router
}

/// Whether this router says it leads.
pub fn leading(router: &RouterProcess) -> bool {
    router.autoscaler().is_some_and(|s| s["leading"] == true)
}

/// Polls `check` every 50 ms for at most `within`; how long it took.
pub fn wait(within: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while started.elapsed() < within {
        if check() {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: not within {within:?}");
}

/// Events on a Deployment in `ws1`: (reason, type, message).
pub fn events(ctx: &TestContext, name: &str) -> Vec<(String, String, String)> {
    let out = std::process::Command::new("kubectl")
        .args(["get", "events", "-n", "ws1", "-o", "json"])
        .env("KUBECONFIG", &ctx.kubeconfig)
        .output()
        .expect("kubectl");
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["involvedObject"]["name"] == name)
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (text("reason"), text("type"), text("message"))
        })
        .collect()
}

/// Scale writes the fake has seen for a Deployment in `ws1`.
pub fn scale_writes(ctx: &TestContext, name: &str) -> usize {
    let path = format!("/apis/apps/v1/namespaces/ws1/deployments/{name}/scale");
    ctx.kube
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == path)
        .count()
}
