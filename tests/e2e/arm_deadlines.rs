//! `--request-timeout` on Resource Manager: an answer that never starts or stops half-way ends in
//! exit 5 naming the request and the flag — never an empty answer taken for a good one — for every
//! plugin that calls ARM.

use aml_tests::fake_arm::Stall;

use crate::attach::ctx;
use crate::common::assert_code;

type Attach = kubectl_aml_attach::Cli;
type Deploy = kubectl_aml_deploy::Cli;

async fn hangs(stall: Stall) {
    let ctx = ctx();
    // Every attempt hangs (the first and its retries).
    ctx.arm().hang("GET", "/computes", 10, stall);
    ctx.arm().hang("GET", "/onlineendpoints", 10, stall);
    for (out, what) in [
        (
            ctx.run::<Attach>(&["list", "--request-timeout", "1s"])
                .await,
            "attach list",
        ),
        (
            ctx.run::<Deploy>(&["list", "--request-timeout", "1s"])
                .await,
            "deploy list",
        ),
    ] {
        assert_code(&out, 5);
        assert!(
            out.stderr
                .contains("no complete answer within --request-timeout (1s)")
                && out.stderr.contains("GET http://127.0.0.1:"),
            "{what}: {out}"
        );
        assert!(out.stdout.is_empty(), "{what}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_never_starts_is_exit_5_naming_the_request_timeout() {
    hangs(Stall::BeforeHeaders).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_stops_half_way_is_exit_5_not_an_empty_list() {
    hangs(Stall::MidBody).await;
}

/// A credential that never gives a token (`az` waiting for a login): exit 5 within the deadline,
/// naming the credential, nothing sent to ARM.
#[tokio::test]
async fn a_credential_that_never_answers_is_exit_5_naming_it() {
    let ctx = ctx();
    std::fs::write(ctx.azure().config_dir.join("hang"), "").unwrap();
    let out = ctx
        .run::<Attach>(&["list", "--request-timeout", "1s"])
        .await;
    assert_code(&out, 5);
    assert!(
        out.stderr
            .contains("no token from the Azure CLI credential within --request-timeout (1s)"),
        "{out}"
    );
    assert!(ctx.arm().journal().is_empty(), "nothing sent to ARM");
    // The az it started is gone too, not left waiting.
    let pid: i32 = std::fs::read_to_string(ctx.azure().config_dir.join("hang.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
    let started = std::time::Instant::now();
    while alive() && started.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive(), "az (pid {pid}) outlived the command");
}
