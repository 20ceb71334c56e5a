//! HTTPS with the `azuremlfessl` certificate, checked with curl (TLS 1.2 and 1.3, verifying the
//! chain against the test root) and openssl s_client (which certificate is served); a rotation
//! of the Secret under load with no failed request, and a bad new pair refused.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use aml_tests::router::RouterProcess;
use serde_json::json;

use crate::router_env::*;
use crate::router_load::Load;
use crate::router_tokens::{fixture, secret};

const HOST: &str = "fe.example.com";

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// The azureml-fe TLS Secret with this certificate chain and key.
fn tls_secret(chain: &str, key: &str) -> serde_json::Value {
    secret(
        "default",
        "azuremlfessl",
        &[("cert.pem", chain), ("key.pem", key)],
    )
}

fn ec_chain() -> String {
    read("ec.crt") + &read("intermediate.crt")
}

/// SHA-256 fingerprint openssl reports for a certificate file or PEM text.
fn fingerprint_of_pem(pem: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), pem.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The fingerprint of the certificate the router serves now, as openssl s_client sees it.
fn served(router: &RouterProcess) -> String {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &router.https.unwrap().to_string(),
            "-servername",
            HOST,
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("openssl s_client");
    fingerprint_of_pem(&String::from_utf8_lossy(&out.stdout))
}

fn https_curl(router: &RouterProcess, tls: &[&str]) -> Curled {
    let port = router.https.unwrap().port();
    let resolve = format!("{HOST}:{port}:127.0.0.1");
    let url = format!("https://{HOST}:{port}/api/v1/service/sentiment/score");
    let root = fixture("root.crt");
    let mut args = vec!["--cacert", &root, "--resolve", &resolve];
    args.extend_from_slice(tls);
    score(&url, &args)
}

#[test]
fn https_serves_the_tls_secret_over_tls_1_2_and_1_3_with_a_verifiable_chain() {
    let ctx = cluster();
    let _replicas = v1_service(&ctx, "sentiment", 1, &[]);
    ctx.kube
        .seed([tls_secret(&read("rsa-chain.crt"), &read("rsa.key"))]);
    let router = start(&ctx, &["--https", "127.0.0.1:0"]);
    for versions in [
        ["--tlsv1.2", "--tls-max", "1.2"],
        ["--tlsv1.3", "--tls-max", "1.3"],
    ] {
        let answer = https_curl(&router, &versions);
        assert_eq!(answer.status, 200, "{versions:?}: {answer:?}");
        assert_eq!(answer.json()["replica"], "sentiment-0");
    }
    assert_eq!(served(&router), fingerprint_of_pem(&read("rsa.crt")));
    let plain = score(&score_url(&router, "sentiment"), &[]);
    assert_eq!(plain.status, 200, "plain HTTP still serves");
}

#[test]
fn without_its_certificate_the_router_is_not_ready_and_a_tls_type_secret_serves_too() {
    let ctx = cluster();
    let _replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = RouterProcess::spawn(FE, &ctx.kubeconfig, &["--https", "127.0.0.1:0"]);
    eventually(Duration::from_secs(5), "the missing Secret logged", || {
        router
            .log()
            .contains("TLS Secret default/azuremlfessl does not exist")
    });
    // Discovery becomes ready soon after; the certificate never does, until it exists.
    let expected = (
        503,
        "not ready: no TLS certificate loaded yet\n".to_string(),
    );
    eventually(
        Duration::from_secs(5),
        "not ready for want of a certificate",
        || router.admin_get("/readyz") == expected,
    );
    // cert-manager's layout: type kubernetes.io/tls with tls.crt and tls.key.
    let mut object = secret(
        "default",
        "azuremlfessl",
        &[("tls.crt", &ec_chain()), ("tls.key", &read("ec.key"))],
    );
    object["type"] = json!("kubernetes.io/tls");
    ctx.kube.seed([object]);
    router.wait_ready(Duration::from_secs(5));
    assert_eq!(served(&router), fingerprint_of_pem(&read("ec.crt")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_under_load_reaches_new_handshakes_within_5s_and_fails_no_request() {
    let ctx = cluster();
    let _replicas = v1_service(
        &ctx,
        "sentiment",
        2,
        &[("kubectl-aml.io/max-concurrent-requests", "8")],
    );
    ctx.kube
        .seed([tls_secret(&read("rsa-chain.crt"), &read("rsa.key"))]);
    let router = start(&ctx, &["--https", "127.0.0.1:0"]);
    let https = router.https.unwrap();
    let mut load = Load::new(
        &format!(
            "https://{HOST}:{}/api/v1/service/sentiment/score",
            https.port()
        ),
        6,
    );
    let root = reqwest::Certificate::from_pem(read("root.crt").as_bytes()).unwrap();
    load.client = reqwest::Client::builder()
        .add_root_certificate(root)
        .resolve(HOST, https)
        // New connections now and then, so handshakes happen throughout the rotation.
        .pool_idle_timeout(Duration::from_millis(50))
        .pool_max_idle_per_host(2)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn(load.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let new = fingerprint_of_pem(&read("ec.crt"));
    ctx.kube
        .update("v1", "Secret", "default", "azuremlfessl", |s| {
            s["data"] = tls_secret(&ec_chain(), &read("ec.key"))["data"].clone();
        });
    let rotated = Instant::now();
    while served(&router) != new {
        assert!(
            rotated.elapsed() < Duration::from_secs(5),
            "the new certificate is not served after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, SeqCst);
    let report = running.await.unwrap();
    assert!(
        report.failures.is_empty(),
        "{:?}",
        &report.failures[..report.failures.len().min(5)]
    );
    assert!(report.ok > 50, "{report:?}");

    // A key that does not match is refused; the rotated certificate stays.
    ctx.kube
        .update("v1", "Secret", "default", "azuremlfessl", |s| {
            s["data"] = tls_secret(&read("rsa-chain.crt"), &read("other.key"))["data"].clone();
        });
    eventually(Duration::from_secs(5), "the bad pair refused", || {
        router
            .log()
            .contains("refused; the certificate served before stays")
    });
    assert_eq!(served(&router), new);
    router.wait_log(&["does not belong to the certificate"]);
}
