//! The sandbox's Azure ML extension: `kubectl aml deploy create` against the fake ARM makes a
//! model Deployment in the compute's namespace by the router contract, the process kubelet runs it
//! as inference-server processes, the router scores it with the endpoint's key, a regenerated key
//! follows, and `deploy delete` removes it all.

use std::time::{Duration, Instant};

use aml_core::k8s::install::TOKEN_KEYS_SECRET;
use aml_tests::TestContext;
use aml_tests::router as contract;
use aml_tests::sandbox::kubelet::ProcessKubelet;
use aml_tests::sandbox::materialiser::{Extension, TokenKeys};
use aml_tests::sandbox::{Runtime, Setup, arm_snapshot, test_cache};

use crate::common::{Deploy, assert_code};
use crate::router_env::{Curled, curl};

fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "{what} not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The sandbox's extension (with `token_keys`) and process kubelet on `ctx`, then `deploy create
/// sentiment --deployment blue` plus `extra`, waited for until `replicas` replicas are ready.
async fn sentiment_running(
    ctx: &TestContext,
    token_keys: Option<TokenKeys>,
    extra: &[&str],
    replicas: i64,
) -> (Extension, ProcessKubelet) {
    ctx.kube.set_auto_ready(false);
    ctx.kube.seed([
        contract::namespace("models"),
        contract::namespace("azureml"),
    ]);
    let extension = Extension::start(&ctx.kubeconfig, arm_snapshot(ctx.arm()), token_keys);
    let setup = Setup {
        kubeconfig: ctx.kubeconfig.clone(),
        logs: ctx.path("logs"),
        programs: vec![],
    };
    let kubelet = ProcessKubelet::start(setup, Runtime::prepare(&test_cache()));
    let args = [&["--deployment", "blue"][..], extra].concat();
    let out = crate::deploy::create_as(
        ctx,
        "sentiment",
        "k8s",
        "sentiment:1",
        "sklearn-env:3",
        &args,
    )
    .await;
    assert_code(&out, 0);
    let ready = || {
        ctx.kube
            .get("apps/v1", "Deployment", "models", "sentiment-blue")
            .is_some_and(|d| d["status"]["readyReplicas"] == replicas)
    };
    let what = format!("{replicas} ready replicas");
    tokio::task::block_in_place(|| eventually(Duration::from_secs(90), &what, ready));
    (extension, kubelet)
}

/// POSTs a score to `url` with `credential` as the bearer, off the runtime's threads.
async fn score(url: &str, credential: &str) -> Curled {
    let (url, auth) = (
        url.to_string(),
        format!("Authorization: Bearer {credential}"),
    );
    tokio::task::spawn_blocking(move || {
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
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_deployment_runs_in_the_cluster_and_scores_with_its_key() {
    let ctx = crate::deploy::ctx();
    let (_extension, kubelet) = sentiment_running(&ctx, None, &["--num-replicas", "2"], 2).await;
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
    let answer = score(&url, &primary).await;
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
        let (old, new) = (score(&url, &primary).await, score(&url, &new_primary).await);
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

/// A token-auth endpoint: `deploy token` gives a JWT the fake ARM signed, the extension put ARM's
/// public key in the token keys Secret, and the router scores with it — and only with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_deploy_token_scores_a_token_auth_endpoint() {
    let ctx = crate::deploy::ctx();
    let token_keys = TokenKeys {
        namespace: "azureml".into(),
        jwks: ctx.arm().token_jwks(),
    };
    let _running = sentiment_running(&ctx, Some(token_keys), &["--auth", "token"], 1).await;
    let router = crate::router_env::start(
        &ctx,
        &[
            "--fe-namespace",
            "azureml",
            "--token-keys-secret",
            TOKEN_KEYS_SECRET,
        ],
    );
    router.wait_ready(Duration::from_secs(10));

    let token = ctx
        .run::<Deploy>(&["token", "sentiment", "-o", "json"])
        .await;
    assert_code(&token, 0);
    let token: serde_json::Value = serde_json::from_str(&token.stdout).unwrap();
    let token = token["accessToken"].as_str().unwrap().to_string();
    let url = format!("http://{}/api/v1/endpoint/sentiment/score", router.http);
    let answer = score(&url, &token).await;
    assert_eq!(answer.status, 200, "{answer:?}\n{}", router.log());
    assert_eq!(answer.json()["prediction"][0], 5.0, "{answer:?}");
    // The same claims with another signature, and the endpoint's key: both refused.
    let (head, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", "A".repeat(86));
    assert_eq!(score(&url, &forged).await.status, 401);
    let (primary, _) = ctx.arm().keys("sentiment").unwrap_or_default();
    assert_eq!(score(&url, &primary).await.status, 401);
}
