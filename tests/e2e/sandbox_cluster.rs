//! The sandbox's Deployment controller and process kubelet, driven with the real kubectl: pods run
//! as local inference-server processes, `kubectl rollout status` waits for them, `kubectl scale`
//! adds and removes replicas, `kubectl set env` rolls a new template, the router scores them, and
//! nothing runs once the kubelet stops.

use std::process::Command;
use std::time::{Duration, Instant};

use aml_tests::TestContext;
use aml_tests::router as contract;
use aml_tests::sandbox::kubelet::ProcessKubelet;
use aml_tests::sandbox::{Runtime, Setup, test_cache};
use serde_json::{Value, json};

use crate::router_env::{PRIMARY, cluster, curl, score_url, start};

/// The kubelet's setup: `kubectl-aml-fe` is the test build of the fe plugin.
fn setup(ctx: &TestContext) -> Setup {
    Setup {
        kubeconfig: ctx.kubeconfig.clone(),
        logs: ctx.path("logs"),
        programs: vec![("kubectl-aml-fe".into(), crate::router_env::FE.into())],
    }
}

fn kubectl(ctx: &TestContext, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&ctx.kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The model pods' (name, ready, port, template hash).
fn pods(ctx: &TestContext) -> Vec<(String, bool, u16, String)> {
    let list: Value =
        serde_json::from_str(&kubectl(ctx, &["get", "pods", "-n", "ws1", "-o", "json"])).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let ready = p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            let port = p["spec"]["containers"][0]["ports"][0]["containerPort"]
                .as_u64()
                .unwrap_or(0) as u16;
            let hash = p["metadata"]["labels"]["pod-template-hash"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (
                p["metadata"]["name"].as_str().unwrap().to_string(),
                ready,
                port,
                hash,
            )
        })
        .collect()
}

/// Restarts counted over the model pods.
fn restarts(ctx: &TestContext) -> u64 {
    let list: Value =
        serde_json::from_str(&kubectl(ctx, &["get", "pods", "-n", "ws1", "-o", "json"])).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["status"]["containerStatuses"][0]["restartCount"].as_u64())
        .sum()
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn wait_until(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "{what} not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn deployments_run_as_local_processes_that_scale_roll_and_stop() {
    let ctx = cluster();
    ctx.kube.set_auto_ready(false);
    let mut deployment = contract::v1_deployment("ws1", "m", &[]);
    deployment["spec"]["replicas"] = json!(2);
    deployment["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "SCORE_DELAY_MS", "value": "10"}]);
    ctx.kube.seed([
        deployment,
        contract::keys_secret("ws1", "m-keys", PRIMARY, "s2"),
    ]);
    let runtime = Runtime::prepare(&test_cache());
    // Without Python the built-in server stands in (see sandbox_replicas); it cannot crash.
    let real = matches!(runtime, Runtime::Inference { .. });
    let kubelet = ProcessKubelet::start(setup(&ctx), runtime);

    kubectl(
        &ctx,
        &[
            "rollout",
            "status",
            "deployment/m",
            "-n",
            "ws1",
            "--timeout=90s",
        ],
    );
    let first = pods(&ctx);
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(
        first
            .iter()
            .all(|(_, ready, port, _)| *ready && listening(*port)),
        "{first:?}"
    );

    let router = start(&ctx, &[]);
    router.wait_ready(Duration::from_secs(10));
    let auth = format!("Authorization: Bearer {PRIMARY}");
    let answer = curl(&[
        "-X",
        "POST",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"data": [[1]]}"#,
        &score_url(&router, "m"),
    ]);
    assert_eq!(answer.status, 200, "{answer:?}");

    if real {
        // A replica that crashes is restarted (its pod counts the restart) and serves again.
        let crashed = curl(&[
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"crash": true}"#,
            &score_url(&router, "m"),
        ]);
        assert_eq!(crashed.status, 502, "{crashed:?}");
        wait_until(Duration::from_secs(60), "the crashed replica back", || {
            restarts(&ctx) == 1 && pods(&ctx).iter().all(|p| p.1)
        });
        let said = kubelet.take_reports();
        assert!(said.len() == 1 && said[0].contains("exited"), "{said:?}");
    }

    kubectl(
        &ctx,
        &["scale", "deployment/m", "-n", "ws1", "--replicas=3"],
    );
    kubectl(
        &ctx,
        &[
            "rollout",
            "status",
            "deployment/m",
            "-n",
            "ws1",
            "--timeout=90s",
        ],
    );
    assert_eq!(pods(&ctx).iter().filter(|p| p.1).count(), 3);

    // A new template rolls: new pods, old ones gone, at least 2 of 3 ready throughout (25 %).
    let before: Vec<String> = pods(&ctx).into_iter().map(|p| p.0).collect();
    kubectl(
        &ctx,
        &[
            "set",
            "env",
            "deployment/m",
            "-n",
            "ws1",
            "SCORE_DELAY_MS=1",
        ],
    );
    let started = Instant::now();
    let mut fewest = 3;
    loop {
        let now = pods(&ctx);
        fewest = fewest.min(now.iter().filter(|p| p.1).count());
        let rolled = now.len() == 3 && now.iter().all(|p| p.1 && !before.contains(&p.0));
        if rolled {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no roll: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(fewest >= 2, "{fewest} ready during the roll");
    kubectl(
        &ctx,
        &[
            "rollout",
            "status",
            "deployment/m",
            "-n",
            "ws1",
            "--timeout=30s",
        ],
    );

    kubectl(
        &ctx,
        &["scale", "deployment/m", "-n", "ws1", "--replicas=1"],
    );
    let ports: Vec<u16> = pods(&ctx).iter().map(|p| p.2).collect();
    wait_until(Duration::from_secs(30), "two replicas stopped", || {
        pods(&ctx).len() == 1 && ports.iter().filter(|p| listening(**p)).count() == 1
    });
    assert!(kubelet.take_reports().is_empty());
    drop(kubelet);
    assert!(
        ports.iter().all(|p| !listening(*p)),
        "nothing runs after the kubelet stops"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fe_install_runs_the_router_as_a_pod_that_scores_the_model_pods() {
    let ctx = cluster();
    ctx.kube.set_auto_ready(false);
    let mut deployment = contract::v1_deployment("ws1", "m", &[]);
    deployment["spec"]["replicas"] = json!(2);
    ctx.kube.seed([
        deployment,
        contract::keys_secret("ws1", "m-keys", PRIMARY, "s2"),
    ]);
    let kubelet = ProcessKubelet::start(setup(&ctx), Runtime::prepare(&test_cache()));
    let out = ctx
        .run::<crate::common::Fe>(&[
            "install",
            "--cluster-purpose",
            "dev-test",
            "--wait",
            "--timeout",
            "90s",
        ])
        .await;
    crate::common::assert_code(&out, 0);
    // The router pod: `kubectl-aml-fe serve` with the Deployment's arguments, on its own ports.
    let list: Value = serde_json::from_str(&kubectl(
        &ctx,
        &[
            "get",
            "pods",
            "-n",
            "default",
            "-l",
            "azuremlappname=azureml-fe",
            "-o",
            "json",
        ],
    ))
    .unwrap();
    let pods = list["items"].as_array().unwrap();
    assert_eq!(pods.len(), 1, "dev-test: one router");
    let ports = pods[0]["spec"]["containers"][0]["ports"]
        .as_array()
        .unwrap();
    let http = ports.iter().find(|p| p["name"] == "http").unwrap()["containerPort"]
        .as_u64()
        .unwrap();
    kubectl(
        &ctx,
        &[
            "rollout",
            "status",
            "deployment/m",
            "-n",
            "ws1",
            "--timeout=90s",
        ],
    );
    let url = format!("http://127.0.0.1:{http}/api/v1/service/m/score");
    let auth = format!("Authorization: Bearer {PRIMARY}");
    let answer = tokio::task::spawn_blocking(move || {
        // The router may still be reading the model pods: give it a few seconds.
        let started = Instant::now();
        loop {
            let answer = curl(&[
                "-X",
                "POST",
                "-H",
                &auth,
                "-H",
                "Content-Type: application/json",
                "-d",
                r#"{"data": [[1]]}"#,
                &url,
            ]);
            if answer.status == 200 || started.elapsed() > Duration::from_secs(20) {
                return answer;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await
    .unwrap();
    assert_eq!(
        answer.status,
        200,
        "{answer:?}\n{:?}",
        kubelet.take_reports()
    );
    // The router leads the autoscaler from inside its pod: the Lease names the pod.
    let lease: Value = serde_json::from_str(&kubectl(
        &ctx,
        &[
            "get",
            "lease",
            "azureml-fe-autoscaler",
            "-n",
            "default",
            "-o",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], pods[0]["metadata"]["name"]);
}
