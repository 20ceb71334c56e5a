//! `kubectl-aml-attach` as a process: help with the az flags and exit codes, settings read from the
//! real environment, data on stdout only, and logs (`-vv`) that never carry a token or a key.

use std::process::Output;

use aml_tests::{FakeArm, TestContext};

use crate::common::{run_plugin, text, tls_path};

const ATTACH: &str = env!("CARGO_BIN_EXE_aml-attach-dup");

fn run(ctx: &TestContext, args: &[&str]) -> Output {
    run_plugin(ATTACH, ctx, args)
}

#[test]
fn help_documents_the_az_flags_and_exit_codes() {
    let ctx = TestContext::new().with_arm(FakeArm::start());
    let out = run(&ctx, &["aks", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for flag in [
        "--subscription <SUBSCRIPTION>",
        "-g, --resource-group <GROUP>",
        "-w, --workspace-name <WORKSPACE>",
        "--cloud <CLOUD>",
        "--credential <KIND>",
        "--cluster-purpose <PURPOSE>",
        "--ssl-leaf-domain-label <LABEL>",
        "--dry-run",
        "--no-wait",
        "--timeout <DURATION>",
        "--skip-checks",
        "Exit codes:",
    ] {
        assert!(help.contains(flag), "missing {flag} in\n{help}");
    }
}

#[test]
fn a_verbose_attach_logs_requests_but_never_the_token_or_the_key() {
    let ctx = TestContext::new().with_arm(FakeArm::start());
    let key = std::fs::read_to_string(tls_path("rsa.key")).unwrap();
    let out = run(
        &ctx,
        &[
            "aks",
            "aks-tls",
            "--cluster",
            "aks1",
            "-vv",
            "--ssl-cert-pem-file",
            &tls_path("rsa-chain.crt"),
            "--ssl-key-pem-file",
            &tls_path("rsa.key"),
            "--ssl-cname",
            "fe.example.com",
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("ARM answered"),
        "requests are logged: {stderr}"
    );
    assert!(
        stdout.starts_with("NAME ") && !stdout.contains("ARM answered"),
        "data only on stdout: {stdout}"
    );
    let token = ctx.arm().token();
    let key_body = key.lines().nth(1).unwrap();
    for output in [&stdout, &stderr] {
        assert!(!output.contains(token), "the token leaked");
        assert!(!output.contains(key_body), "the private key leaked");
    }
    let sent = &ctx
        .arm()
        .journal()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap()
        .body;
    assert!(
        sent.to_string().contains(key_body),
        "the key was sent to Azure, where it belongs"
    );
}

#[test]
fn exit_codes_are_the_documented_ones() {
    let ctx = TestContext::new().with_arm(FakeArm::start());
    assert_eq!(run(&ctx, &["show", "nope"]).status.code(), Some(4));
    assert_eq!(
        run(&ctx, &["aks", "x"]).status.code(),
        Some(2),
        "--cluster or --resource-id is required"
    );
    ctx.azure().sign_out();
    let out = run(&ctx, &["list"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}
