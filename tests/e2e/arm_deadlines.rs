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

/// `--timeout` bounds the whole command whatever ARM does: with the default 100 s
/// `--request-timeout`, a request that never answers ends at `--timeout`, naming the request and
/// the flag that ran out, on every Azure verb.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_bounds_every_azure_verb_whatever_the_server_does() {
    let ctx = ctx();
    ctx.arm()
        .hang("GET", "/computes", 100, Stall::BeforeHeaders);
    ctx.arm()
        .hang("GET", "/onlineendpoints", 100, Stall::MidBody);
    let cases: [(&str, &[&str]); 4] = [
        ("attach list", &["list", "--timeout", "1s"]),
        ("attach show", &["show", "aks-prod", "--timeout", "1s"]),
        ("deploy list", &["list", "--timeout", "1s"]),
        ("deploy show", &["show", "svc", "--timeout", "1s"]),
    ];
    for (what, args) in cases {
        let started = std::time::Instant::now();
        let out = if what.starts_with("attach") {
            ctx.run::<Attach>(args).await
        } else {
            ctx.run::<Deploy>(args).await
        };
        assert_code(&out, 5);
        assert!(
            out.stderr.contains("--timeout (1s) ran out") && out.stderr.contains("GET http://"),
            "{what}: {out}"
        );
        assert!(
            out.stderr.contains("hint: raise --timeout"),
            "{what}: {out}"
        );
        // The alternative is the 100 s request timeout, four times over.
        assert!(
            started.elapsed().as_secs() < 20,
            "{what} took {:?}",
            started.elapsed()
        );
    }
}

/// A throttled request whose `Retry-After` would pass `--timeout` stops at once, saying what ARM
/// answered; one throttled on every try ends with the throttling hint (exit 1).
#[tokio::test]
async fn throttling_ends_with_what_azure_answered() {
    let ctx = ctx();
    ctx.arm().throttle("GET", "/computes", 1, 30);
    let out = ctx.run::<Attach>(&["list", "--timeout", "5s"]).await;
    assert_code(&out, 5);
    assert!(
        out.stderr
            .contains("--timeout (5s) ran out (the last answer was HTTP 429)"),
        "{out}"
    );
    ctx.arm().throttle("GET", "/computes", 4, 0);
    let out = ctx.run::<Attach>(&["list"]).await;
    assert_code(&out, 1);
    assert!(
        out.stderr.contains("TooManyRequests")
            && out
                .stderr
                .contains("hint: Azure Resource Manager throttled every try"),
        "{out}"
    );
    assert_eq!(
        ctx.run::<Attach>(&["list"]).await.code,
        0,
        "it passes once ARM lets it"
    );
}

/// Checking on an operation that keeps failing ends with the operation's URL (it may still
/// finish): the operation outlasting `--timeout` is `attach_arm`'s test.
#[tokio::test]
async fn a_poll_that_keeps_failing_names_the_operation() {
    let ctx = ctx();
    ctx.arm().throttle("GET", "computeOperationsStatus", 4, 0);
    let out = ctx
        .run::<Attach>(&["aks", "aks-prod", "--cluster", "aks1"])
        .await;
    assert_code(&out, 1);
    assert!(
        out.stderr.contains("checking on the operation failed"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("hint: compute `aks-prod` is left in workspace `ws1` in state Creating (the same command again waits for it")
            && out.stderr.contains("the operation may still be running: check it with `curl")
            && out.stderr.contains("computeOperationsStatus"),
        "{out}"
    );
}

/// What no request deadline covers (here the API server, for the in-cluster checks) is ended by
/// `--timeout` too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_ends_a_command_held_up_by_the_cluster() {
    let ctx = crate::attach::in_cluster_ctx();
    ctx.kube.hang_next("GET", "/*", 1000);
    let out = ctx
        .run::<Attach>(&["aks", "aks-prod", "--cluster", "aks1", "--timeout", "2s"])
        .await;
    assert_code(&out, 5);
    assert!(
        out.stderr
            .contains("the command did not finish within --timeout (2s)"),
        "{out}"
    );
    assert!(ctx.arm().writes().is_empty(), "nothing was sent: {out}");
}
