//! `kubectl aml certs` as a process: killed in the middle of a rotation, and driven by
//! `scripts/rotate-certs.sh` through kubectl's plugin dispatch, as cron would run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use aml_tests::fake_kube::Action;
use aml_tests::{FakeKube, TestContext};
use serde_json::json;

use crate::common::{DEMO, b64, secret_text, set_secret_data, text, tls_fixture, tls_text};

const CERTS: &str = env!("CARGO_BIN_EXE_aml-certs-dup");
const SECRET: &str = "/api/v1/namespaces/default/secrets/azuremlfessl";

/// Which fixture pair the demo secret holds: "old", "new", or "mixed".
fn pair_in(kube: &FakeKube, old: (&str, &str), new: (&str, &str)) -> &'static str {
    let (cert, key) = (secret_text(kube, "cert.pem"), secret_text(kube, "key.pem"));
    match (
        cert == tls_text(old.0) && key == tls_text(old.1),
        cert == tls_text(new.0) && key == tls_text(new.1),
    ) {
        (true, _) => "old",
        (_, true) => "new",
        _ => "mixed",
    }
}

#[tokio::test]
async fn a_rotation_killed_mid_update_leaves_one_whole_pair_and_a_rerun_finishes() {
    let ctx = TestContext::new();
    ctx.kube.seed_yaml(DEMO);
    set_secret_data(
        &ctx.kube,
        json!({"cert.pem": b64(&tls_text("rsa.crt")), "key.pem": b64(&tls_text("rsa.key"))}),
    );
    ctx.kube.inject(
        Some("PUT"),
        SECRET,
        1,
        Action::Delay(Duration::from_millis(500)),
    );
    let args = |dir: &Path| -> Vec<String> {
        let (cert, key) = (tls_fixture("ec.crt"), tls_fixture("ec.key"));
        [
            "rotate",
            "--yes",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--backup-dir",
            dir.to_str().unwrap(),
        ]
        .map(str::to_string)
        .to_vec()
    };
    let mut child = Command::new(CERTS)
        .args(args(ctx.dir.path()))
        .env("KUBECONFIG", &ctx.kubeconfig)
        .spawn()
        .unwrap();
    while !ctx.kube.requests().iter().any(|r| r.method == "PUT") {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let state = pair_in(&ctx.kube, ("rsa.crt", "rsa.key"), ("ec.crt", "ec.key"));
    assert_ne!(
        state, "mixed",
        "a certificate from one pair and a key from another"
    );
    let rerun = Command::new(CERTS)
        .args(args(ctx.dir.path()))
        .env("KUBECONFIG", &ctx.kubeconfig)
        .output()
        .unwrap();
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun.stderr));
    assert_eq!(
        pair_in(&ctx.kube, ("rsa.crt", "rsa.key"), ("ec.crt", "ec.key")),
        "new"
    );
}

struct Cron {
    ctx: TestContext,
    path: String,
    backups: PathBuf,
}

/// A cluster whose azureml-fe certificate has 10 days left, cert-manager's secret `fe-tls` holding
/// `cert`/`key`, and `kubectl-aml-certs` on PATH for kubectl's plugin dispatch.
fn cron(cert: &str, key: &str) -> Cron {
    let ctx = TestContext::new();
    ctx.kube.seed_yaml(DEMO);
    let (current, current_key) = aml_tests::tls::self_signed_pair(&["fe.example.com"], 10);
    set_secret_data(
        &ctx.kube,
        json!({"cert.pem": b64(&current), "key.pem": b64(&current_key)}),
    );
    ctx.kube.seed([
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "fe-tls", "namespace": "default"},
        "data": {"tls.crt": b64(&tls_text(cert)), "tls.key": b64(&tls_text(key))}}),
    ]);
    let bin = ctx.path("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(CERTS, bin.join("kubectl-aml-certs")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let backups = ctx.path("backups");
    std::fs::create_dir(&backups).unwrap();
    Cron { ctx, path, backups }
}

impl Cron {
    fn run(&self, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rotate-certs.sh");
        Command::new(script)
            .args(args)
            .env("PATH", &self.path)
            .env("KUBECONFIG", &self.ctx.kubeconfig)
            .env("KUBECACHEDIR", self.ctx.path("cache"))
            .output()
            .unwrap()
    }

    fn rotate_from_cert_manager(&self) -> Output {
        self.run(&[
            "--from-secret",
            "fe-tls",
            "--backup-dir",
            self.backups.to_str().unwrap(),
            "--timeout",
            "10s",
        ])
    }
}

#[test]
fn the_cron_script_rotates_when_due_then_has_nothing_to_do() {
    let cron = cron("rsa-chain.crt", "rsa.key");
    let out = cron.rotate_from_cert_manager();
    let log = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains(
            "rotate-certs: secret azuremlfessl needs a new certificate (failed checks: min-days)"
        ),
        "{log}"
    );
    assert!(log.contains("rotate-certs: secret azuremlfessl rotated; azureml-fe rolled out with the new certificate"), "{log}");
    assert_eq!(
        secret_text(&cron.ctx.kube, "cert.pem"),
        tls_text("rsa-chain.crt")
    );
    assert_eq!(
        cron.ctx
            .kube
            .get("apps/v1", "Deployment", "default", "azureml-fe")
            .unwrap()["metadata"]["generation"],
        2
    );
    assert_eq!(std::fs::read_dir(&cron.backups).unwrap().count(), 1);

    let again = cron.rotate_from_cert_manager();
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stderr)
            .contains("the certificate is valid for at least 30 more days; nothing to do"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn the_cron_script_fails_loudly_on_a_bad_new_pair_and_changes_nothing() {
    let cron = cron("rsa.crt", "other.key");
    let before = secret_text(&cron.ctx.kube, "cert.pem");
    let out = cron.rotate_from_cert_manager();
    let log = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("refusing to rotate: the new pair fails 1 check: key-match"),
        "{log}"
    );
    assert!(
        log.contains("rotate-certs: rotation failed (exit 1)"),
        "{log}"
    );
    assert_eq!(secret_text(&cron.ctx.kube, "cert.pem"), before);
    let usage = cron.run(&[]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage.stderr).contains("the new pair is needed"));
}

#[test]
fn verbose_rotation_logs_requests_but_no_key_material() {
    let ctx = TestContext::new();
    ctx.kube.seed_yaml(DEMO);
    set_secret_data(
        &ctx.kube,
        json!({"cert.pem": b64(&tls_text("rsa.crt")), "key.pem": b64(&tls_text("rsa.key"))}),
    );
    let (cert, key) = (tls_fixture("ec.crt"), tls_fixture("ec.key"));
    let out = Command::new(CERTS)
        .args([
            "rotate",
            "--yes",
            "-vv",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
        .args(["--backup-dir", ctx.dir.path().to_str().unwrap()])
        .env("KUBECONFIG", &ctx.kubeconfig)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let logs = format!("{}{}", text(&out.stderr), text(&out.stdout));
    assert!(
        logs.contains("PUT") || logs.contains("replace"),
        "-vv shows the update\n{logs}"
    );
    let new_key = b64(&tls_text("ec.key"));
    let old_key = b64(&tls_text("rsa.key"));
    for secret in [
        "PRIVATE KEY",
        &new_key[..40],
        &old_key[..40],
        &tls_text("ec.key")[40..80],
    ] {
        assert!(!logs.contains(secret), "leaked {secret:?}");
    }
}

#[test]
fn help_reads_like_kubectl() {
    let out = Command::new(CERTS)
        .args(["rotate", "--help"])
        .output()
        .unwrap();
    let help = text(&out.stdout);
    assert!(
        help.contains("Usage: kubectl aml certs rotate [OPTIONS] --cert <FILE> --key <FILE>"),
        "{help}"
    );
    assert!(
        help.contains("Exit codes:") && help.contains("--dry-run[=<MODE>]"),
        "{help}"
    );
}

#[test]
fn the_cron_script_answers_help_and_says_no_change_when_the_source_was_not_renewed() {
    let cron = cron("rsa-chain.crt", "rsa.key");
    let help = cron.run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("Usage:") && text(&help.stdout).contains("--renew-days N"));
    // cert-manager's secret still holds the pair azureml-fe has (10 days left): due, but the same.
    let current = cron
        .ctx
        .kube
        .get("v1", "Secret", "default", "azuremlfessl")
        .unwrap();
    cron.ctx
        .kube
        .update("v1", "Secret", "default", "fe-tls", |s| {
            s["data"]["tls.crt"] = current["data"]["cert.pem"].clone();
            s["data"]["tls.key"] = current["data"]["key.pem"].clone();
        });
    let out = cron.run(&[
        "--from-secret",
        "fe-tls",
        "--min-days",
        "5",
        "--backup-dir",
        cron.backups.to_str().unwrap(),
    ]);
    let log = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("rotate-certs: secret azuremlfessl already holds the new pair: no change"),
        "{log}"
    );
    assert!(!log.contains("rotated;"), "{log}");
}
