//! The sandbox's model replicas: the real Azure ML inference server (`azmlinfsrv`, from PyPI in a
//! venv made once under target/sandbox) running the sandbox's `score.py`, behind the router, scored
//! with curl. Where Python or PyPI is missing the built-in server stands in, and the test says so.

use std::time::{Duration, Instant};

use aml_tests::router as contract;
use aml_tests::sandbox::{Replica, Runtime, free_port, test_cache};

use crate::router_env::{PRIMARY, cluster, curl, score_url, start};

fn env(delay_ms: u32, failure_rate: f64) -> Vec<(String, String)> {
    vec![
        ("SCORE_DELAY_MS".into(), delay_ms.to_string()),
        ("SCORE_FAILURE_RATE".into(), failure_rate.to_string()),
    ]
}

/// Waits for the replica's readiness path; on failure shows its last log lines.
fn wait_ready(replica: &mut Replica) {
    let started = Instant::now();
    while !replica.ready() {
        if let Some(status) = replica.exited() {
            panic!(
                "{} exited ({status}):\n{}",
                replica.name,
                replica.last_log_lines(20)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} not ready after 60 s:\n{}",
            replica.name,
            replica.last_log_lines(20)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[allow(clippy::print_stderr)] // which runtime served is the test's first line of output
fn real_inference_server_replicas_score_through_the_router_and_stop_on_sigterm() {
    let runtime = Runtime::prepare(&test_cache());
    eprintln!("{}", runtime.describe());
    let real = matches!(runtime, Runtime::Inference { .. });
    let ctx = cluster();
    let logs = ctx.path("replica-logs");
    let deployment = contract::v1_deployment("ws1", "sentiment", &[]);
    let failing = contract::v1_deployment("ws1", "flaky", &[]);
    ctx.kube.seed([
        deployment.clone(),
        failing.clone(),
        contract::keys_secret("ws1", "sentiment-keys", PRIMARY, "s2"),
        contract::keys_secret("ws1", "flaky-keys", PRIMARY, "s2"),
    ]);
    let mut replicas = Vec::new();
    for (object, name, failure) in [
        (&deployment, "sentiment-0", 0.0),
        (&deployment, "sentiment-1", 0.0),
        (&failing, "flaky-0", 1.0),
    ] {
        let mut replica = Replica::start(&runtime, name, free_port(), &env(200, failure), &logs)
            .expect("start a replica");
        wait_ready(&mut replica);
        ctx.kube
            .seed([contract::pod_of(object, name, replica.port(), true)]);
        replicas.push(replica);
    }
    let router = start(&ctx, &[]);
    router.wait_ready(Duration::from_secs(10));
    let auth = format!("Authorization: Bearer {PRIMARY}");
    // Six at once on two single-slot replicas: both serve (one after the other, each would be
    // the first free one: the router picks the first available replica below three slots).
    let url = score_url(&router, "sentiment");
    let answers: Vec<_> = (0..6)
        .map(|_| {
            let (auth, url) = (auth.clone(), url.clone());
            std::thread::spawn(move || {
                curl(&[
                    "-X",
                    "POST",
                    "-H",
                    &auth,
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    r#"{"data": [[1, 2], [3, 4]]}"#,
                    &url,
                ])
            })
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for answer in answers {
        let answer = answer.join().unwrap();
        assert_eq!(answer.status, 200, "{answer:?}\n{}", router.log());
        let body = answer.json();
        if real {
            // The inference server's own answer, untouched by the router.
            assert_eq!(body["prediction"], serde_json::json!([3.0, 7.0]), "{body}");
            let server = answer.header("x-ms-server-version");
            assert!(
                server.is_some_and(|v| v.starts_with("azmlinfsrv/")),
                "{answer:?}"
            );
        }
        seen.insert(body["replica"].as_str().unwrap().to_string());
    }
    assert_eq!(seen.len(), 2, "both replicas served: {seen:?}");
    let unauthorised = curl(&["-X", "POST", "-d", "{}", &score_url(&router, "sentiment")]);
    assert_eq!(unauthorised.status, 401);
    if real {
        // A failing run() is the model's 500, passed through as it is.
        let failed = curl(&[
            "-X",
            "POST",
            "-H",
            &auth,
            "-d",
            r#"{"data": [[1]]}"#,
            &score_url(&router, "flaky"),
        ]);
        assert_eq!(failed.status, 500, "{failed:?}");
        assert!(
            replicas[2].last_log_lines(50).contains("injected failure"),
            "{}",
            replicas[2].last_log_lines(50)
        );
    }
    // SIGTERM stops a replica well within its grace period; its port closes.
    let replica = replicas.remove(0);
    let port = replica.port();
    let started = Instant::now();
    replica.stop(Duration::from_secs(10));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "needed SIGKILL"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
