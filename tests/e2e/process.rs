//! The plugin as a process: what a shell script sees (help, exit codes, stdout/stderr split), logs
//! that never carry secrets, and dispatch through kubectl's plugin mechanism.

use std::path::Path;
use std::process::{Command, Output};

use aml_tests::FakeKube;
use aml_tests::fake_kube::Options;

use crate::common::{DEMO, text};

const FE: &str = env!("CARGO_BIN_EXE_aml-fe-dup");

fn run(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(FE);
    command
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[test]
fn help_reads_like_kubectl_and_documents_exit_codes() {
    let out = run(&["cleanup", "--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(
        help.contains("Usage: kubectl aml fe cleanup [OPTIONS]"),
        "{help}"
    );
    for flag in [
        "--kubeconfig <PATH>",
        "--context <NAME>",
        "-n, --namespace <NAMESPACE>",
        "--request-timeout <DURATION>",
        "-o, --output <FORMAT>",
        "--dry-run[=<MODE>]",
        "-y, --yes",
    ] {
        assert!(help.contains(flag), "missing {flag} in\n{help}");
    }
    assert!(
        help.contains("Exit codes:\n  0  ok") && help.contains("  4  not-found"),
        "{help}"
    );
}

#[test]
fn usage_errors_exit_2_on_stderr_only() {
    let out = run(&["cleanup", "--bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).starts_with("error: unexpected argument '--bogus' found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn without_any_kubeconfig_it_says_where_it_looked() {
    let home = tempfile::tempdir().unwrap();
    let out = run(&["status"], &[("HOME", home.path())]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: no kubeconfig found (looked at `{}/.kube/config`)",
            home.path().display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: pass --kubeconfig, set KUBECONFIG"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_server_is_exit_1_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeKube::start();
    let kubeconfig = dir.path().join("kc");
    // A port nothing listens on: start a fake, note its port, stop it.
    let url = fake.url().to_string();
    drop(fake);
    std::fs::write(&kubeconfig, format!("apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: '{url}'}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\nusers: [{{name: u, user: {{}}}}]\n")).unwrap();
    let out = run(
        &["status", "--kubeconfig", kubeconfig.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(stderr.contains("hint: check that the API server in your kubeconfig is reachable (`kubectl cluster-info`)"), "{stderr}");
}

#[test]
fn a_rejected_token_is_exit_3() {
    let fake = FakeKube::start_with(Options {
        tls: true,
        token: Some("right".into()),
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kc");
    std::fs::write(
        &kubeconfig,
        fake.kubeconfig(None)
            .replace("token: right", "token: wrong"),
    )
    .unwrap();
    let out = run(
        &["status", "--kubeconfig", kubeconfig.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("hint: the cluster rejected your credentials"),
        "{}",
        text(&out.stderr)
    );
}

/// A server certificate the kubeconfig's CA did not sign: one error with its cause and a hint
/// about the CA, not about reachability, and no library log lines.
#[test]
fn an_untrusted_server_certificate_hints_at_the_kubeconfigs_ca() {
    let fake = FakeKube::start_with(Options {
        tls: true,
        ..Options::default()
    });
    let other = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        std::fs::read(crate::common::tls_path("rsa-chain.crt")).unwrap(),
    );
    let kubeconfig_text = fake.kubeconfig(None);
    let (before, after) = kubeconfig_text
        .split_once("certificate-authority-data: ")
        .unwrap();
    let rest = after.split_once('\n').map_or("", |(_, rest)| rest);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kc");
    std::fs::write(
        &kubeconfig,
        format!("{before}certificate-authority-data: {other}\n{rest}"),
    )
    .unwrap();
    let out = run(
        &["status", "--kubeconfig", kubeconfig.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("caused by: invalid peer certificate: UnknownIssuer"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: the API server's certificate does not verify against the CA your kubeconfig trusts"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
    assert!(
        !stderr.contains("reachable") && !stderr.contains(" WARN ") && !stderr.contains(" ERROR "),
        "{stderr}"
    );
}

#[test]
fn verbose_logs_show_requests_but_never_tokens_or_secret_data() {
    let fake = FakeKube::start_with(Options {
        tls: true,
        token: Some("tok-3f9a7c".into()),
        ..Options::default()
    });
    fake.seed_yaml(DEMO);
    fake.update("apps/v1", "Deployment", "ws1", "sentiment", |d| {
        d["spec"]["replicas"] = 0.into()
    });
    let secret = fake.get("v1", "Secret", "default", "azuremlfessl").unwrap();
    let key = secret["data"]["key.pem"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kc");
    fake.write_kubeconfig(&kubeconfig, None).unwrap();
    let out = run(
        &[
            "cleanup",
            "--yes",
            "-vv",
            "--backup-dir",
            dir.path().to_str().unwrap(),
        ],
        &[("KUBECONFIG", &kubeconfig)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let logs = text(&out.stderr);
    assert!(
        logs.contains("DELETE") || logs.contains("delete"),
        "-vv shows the requests\n{logs}"
    );
    assert!(
        logs.contains("/api/v1/namespaces/default/secrets/azuremlfessl"),
        "{logs}"
    );
    for secret_text in ["tok-3f9a7c", &key[..32], "BEGIN PRIVATE KEY", "PRIVATE KEY"] {
        assert!(
            !logs.contains(secret_text) && !text(&out.stdout).contains(secret_text),
            "leaked {secret_text:?}"
        );
    }
}

#[test]
fn kubectl_dispatches_kubectl_aml_fe_to_the_plugin() {
    let fake = FakeKube::start();
    fake.seed_yaml(DEMO);
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(FE, bin.join("kubectl-aml-fe")).unwrap();
    let kubeconfig = dir.path().join("kc");
    fake.write_kubeconfig(&kubeconfig, None).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("kubectl")
        .args(["aml", "fe", "status", "-o", "name"])
        .env("PATH", path)
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("serviceaccount/azureml-fe\n"),
        "{}",
        text(&out.stdout)
    );
}
