//! `kubectl-aml-deploy` as a process: help documents the v1 knobs, and `-vv` logs carry no key
//! and no token.

use std::process::Output;

use aml_tests::TestContext;

use crate::common::{run_plugin, text};

const DEPLOY: &str = env!("CARGO_BIN_EXE_aml-deploy-dup");

fn run(ctx: &TestContext, args: &[&str]) -> Output {
    run_plugin(DEPLOY, ctx, args)
}

#[test]
fn help_lists_the_v1_knobs_with_their_defaults() {
    let ctx = crate::deploy::ctx();
    let help = text(&run(&ctx, &["create", "--help"]).stdout);
    for flag in [
        "--cpu-cores <CORES>",
        "[v1 default: 0.1]",
        "--autoscale-target-utilization <PERCENT>",
        "--num-replicas <N>",
        "--scoring-timeout-ms <MS>",
        "--initial-delay-seconds <SECONDS>",
        "[v1 default: 310]",
        "--deploy-config-file <FILE>",
        "--auth <AUTH>",
        "--remove-hpa",
        "--dry-run",
        "Exit codes:",
    ] {
        assert!(help.contains(flag), "missing {flag} in\n{help}");
    }
}

#[test]
fn verbose_runs_never_log_keys_or_tokens() {
    let ctx = crate::deploy::ctx();
    let create = [
        "create",
        "svc",
        "--compute",
        "k8s",
        "--model",
        "sentiment:1",
        "--environment",
        "sklearn-env:3",
        "-vv",
    ];
    let out = run(&ctx, &create);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (primary, secondary) = ctx.arm().keys("svc").unwrap();
    let keys = run(&ctx, &["keys", "svc", "-vv"]);
    assert_eq!(keys.status.code(), Some(0));
    for output in [&out.stdout, &out.stderr, &keys.stdout, &keys.stderr] {
        let output = text(output);
        assert!(
            !output.contains(&primary) && !output.contains(&secondary),
            "a key leaked: {output}"
        );
        assert!(!output.contains(ctx.arm().token()), "the ARM token leaked");
    }
    assert!(
        text(&keys.stderr).contains("ARM answered"),
        "requests are logged"
    );
}
