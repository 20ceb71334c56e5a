//! The sandbox's Azure ML extension: `kubectl aml deploy create` against the fake ARM makes a
//! model Deployment in the compute's namespace by the router contract, the process kubelet runs it
//! as inference-server processes, the router scores it with the endpoint's key, a regenerated key
//! follows, and `deploy delete` removes it all.

use std::time::{Duration, Instant};

use aml_tests::router as contract;
use aml_tests::sandbox::kubelet::ProcessKubelet;
use aml_tests::sandbox::materialiser::Extension;
use aml_tests::sandbox::{Runtime, Setup, arm_snapshot, test_cache};

use crate::common::{Deploy, assert_code};
use crate::router_env::curl;

fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "{what} not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_deployment_runs_in_the_cluster_and_scores_with_its_key() {
    let ctx = crate::deploy::ctx();
    ctx.kube.set_auto_ready(false);
    ctx.kube.seed([contract::namespace("models")]);
    let _extension = Extension::start(&ctx.kubeconfig, arm_snapshot(ctx.arm()));
    let setup = Setup {
        kubeconfig: ctx.kubeconfig.clone(),
        logs: ctx.path("logs"),
        programs: vec![],
    };
    let kubelet = ProcessKubelet::start(setup, Runtime::prepare(&test_cache()));
    let out = crate::deploy::create_as(
        &ctx,
        "sentiment",
        "k8s",
        "sentiment:1",
        "sklearn-env:3",
        &["--deployment", "blue", "--num-replicas", "2"],
    )
    .await;
    assert_code(&out, 0);
    let ready = || {
        ctx.kube
            .get("apps/v1", "Deployment", "models", "sentiment-blue")
            .is_some_and(|d| d["status"]["readyReplicas"] == 2)
    };
    tokio::task::block_in_place(|| eventually(Duration::from_secs(90), "2 ready replicas", ready));
    let d = ctx
        .kube
        .get("apps/v1", "Deployment", "models", "sentiment-blue")
        .unwrap();
    assert_eq!(
        d["metadata"]["labels"]["ml.azure.com/endpoint-name"],
        "sentiment"
    );
    assert_eq!(
        d["metadata"]["annotations"]["kubectl-aml.io/traffic"],
        "100"
    );

    let router = crate::router_env::start(&ctx, &[]);
    router.wait_ready(Duration::from_secs(10));
    let (primary, _) = ctx.arm().keys("sentiment").expect("the endpoint's keys");
    let url = format!("http://{}/api/v1/endpoint/sentiment/score", router.http);
    let score = |key: String, url: String| {
        tokio::task::spawn_blocking(move || {
            let auth = format!("Authorization: Bearer {key}");
            curl(&[
                "-X",
                "POST",
                "-H",
                &auth,
                "-H",
                "Content-Type: application/json",
                "-d",
                r#"{"data": [[2, 3]]}"#,
                &url,
            ])
        })
    };
    let answer = score(primary.clone(), url.clone()).await.unwrap();
    assert_eq!(
        answer.status,
        200,
        "{answer:?}\n{:?}",
        kubelet.take_reports()
    );

    // A regenerated key reaches the cluster: the old one stops working.
    let regen = ctx
        .run::<Deploy>(&["regen-key", "sentiment", "--key", "primary"])
        .await;
    assert_code(&regen, 0);
    let (new_primary, _) = ctx.arm().keys("sentiment").unwrap();
    assert_ne!(new_primary, primary);
    let started = Instant::now();
    loop {
        let (old, new) = (
            score(primary.clone(), url.clone()).await.unwrap(),
            score(new_primary.clone(), url.clone()).await.unwrap(),
        );
        if old.status == 401 && new.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "old {} new {}",
            old.status,
            new.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let gone = ctx.run::<Deploy>(&["delete", "sentiment", "--yes"]).await;
    assert_code(&gone, 0);
    tokio::task::block_in_place(|| {
        eventually(
            Duration::from_secs(30),
            "the Deployment and its keys gone",
            || {
                ctx.kube
                    .get("apps/v1", "Deployment", "models", "sentiment-blue")
                    .is_none()
                    && ctx
                        .kube
                        .get("v1", "Secret", "models", "sentiment-blue-keys")
                        .is_none()
            },
        )
    });
}
