//! An attach that was interrupted or failed: the same command again finishes it (one PUT in all),
//! and every failure says what compute it left and what to run next.

use aml_tests::fake_arm::{Options, Stall};
use aml_tests::{FakeArm, TestContext};

use crate::attach::{ctx, puts};
use crate::common::Attach;

const AKS: &[&str] = &["aks", "aks-prod", "--cluster", "aks1"];
const K8S: &[&str] = &["k8s", "k8s-a", "--cluster", "aks1", "-n", "team-a"];

fn with<'a>(args: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    [args, extra].concat()
}

#[tokio::test]
async fn a_re_run_finishes_an_attach_an_earlier_run_left_going() {
    for args in [AKS, K8S] {
        // Operations stay in progress for 3 polls, so the first run leaves the compute Creating.
        let ctx = TestContext::new().with_arm(FakeArm::start_with(Options {
            polls: 3,
            ..Options::default()
        }));
        // Stopped once the PUT was accepted (what Ctrl-C during the wait leaves): compute Creating.
        let started = ctx.run::<Attach>(&with(args, &["--no-wait"])).await;
        assert_eq!(started.code, 0, "{args:?}: {started}");
        let dry = ctx.run::<Attach>(&with(args, &["--dry-run"])).await;
        assert_eq!(dry.code, 0, "{args:?}: {dry}");
        assert!(dry.stderr.contains("would wait for it"), "{dry}");
        let again = ctx.run::<Attach>(args).await;
        assert_eq!(again.code, 0, "{args:?}: {again}");
        assert!(
            again
                .stderr
                .contains("made by an earlier run and is Creating")
                && again.stderr.contains("is ready in workspace `ws1`"),
            "{args:?}: {again}"
        );
        assert!(again.stdout.contains("Succeeded"), "{again}");
        let done = ctx.run::<Attach>(args).await;
        assert_eq!(done.code, 0, "{args:?}: {done}");
        assert!(
            done.stderr.contains("is Succeeded: nothing to send"),
            "{done}"
        );
        assert_eq!(puts(&ctx).len(), 1, "{args:?}: the compute was sent once");
    }
}

#[tokio::test]
async fn a_wait_that_runs_out_says_what_is_left_and_a_re_run_finishes() {
    let ctx = ctx();
    ctx.arm()
        .hang("GET", "/computeOperationsStatus", 1, Stall::BeforeHeaders);
    let out = ctx.run::<Attach>(&with(AKS, &["--timeout", "2s"])).await;
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr.contains("not finished within --timeout")
            && out.stderr.contains("compute `aks-prod` may have been left")
            && out.stderr.contains("the same command again finishes"),
        "{out}"
    );
    let again = ctx.run::<Attach>(AKS).await;
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(puts(&ctx).len(), 1);
}

#[tokio::test]
async fn a_failed_operation_names_the_compute_it_left_and_how_to_remove_it() {
    let ctx = ctx();
    ctx.arm().fail_next_operation_on(
        "/computes/aks-prod",
        "ClusterUnreachable",
        "no route to the cluster",
    );
    let out = ctx.run::<Attach>(AKS).await;
    assert_eq!(out.code, 1, "{out}");
    let hint = out
        .stderr
        .lines()
        .find(|l| l.starts_with("hint:"))
        .unwrap_or("");
    assert!(
        out.stderr.contains("no route to the cluster")
            && hint.contains("compute `aks-prod` is left in workspace `ws1` in state Failed")
            && hint.contains("kubectl aml attach detach aks-prod"),
        "{out}"
    );
    // The same command again does not send it twice: it says the earlier one failed.
    let again = ctx.run::<Attach>(AKS).await;
    assert_eq!(again.code, 1, "{again}");
    assert!(again.stderr.contains("ended Failed"), "{again}");
    assert_eq!(puts(&ctx).len(), 1);
    // The hint's way out works.
    let detach = ctx.run::<Attach>(&["detach", "aks-prod", "--yes"]).await;
    assert_eq!(detach.code, 0, "{detach}");
    assert_eq!(ctx.run::<Attach>(AKS).await.code, 0);
}

#[tokio::test]
async fn a_put_that_keeps_failing_says_nothing_was_left() {
    let ctx = ctx();
    ctx.arm().fail(
        "PUT",
        "/computes/aks-prod",
        4,
        500,
        "InternalServerError",
        "try later",
    );
    let out = ctx.run::<Attach>(AKS).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("no compute `aks-prod` was left in workspace `ws1`: fix the cause, then run the same command again"),
        "{out}"
    );
    // A refusal (4xx) made nothing and keeps its own hint.
    ctx.arm().fail(
        "PUT",
        "/computes/aks-prod",
        1,
        400,
        "BadArgument",
        "bad body",
    );
    let refused = ctx.run::<Attach>(AKS).await;
    assert_eq!(refused.code, 1, "{refused}");
    assert!(!refused.stderr.contains("was left"), "{refused}");
    assert_eq!(ctx.run::<Attach>(AKS).await.code, 0);
}

#[tokio::test]
async fn a_compute_of_the_same_name_on_another_cluster_is_still_refused() {
    let ctx = ctx();
    assert_eq!(ctx.run::<Attach>(K8S).await.code, 0);
    let other_ns = ctx
        .run::<Attach>(&["k8s", "k8s-a", "--cluster", "aks1", "-n", "team-b"])
        .await;
    assert_eq!(other_ns.code, 1, "{other_ns}");
    assert!(other_ns.stderr.contains("already exists"), "{other_ns}");
    assert_eq!(puts(&ctx).len(), 1);
}

fn deletes(ctx: &TestContext) -> usize {
    ctx.arm()
        .journal()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .count()
}

#[tokio::test]
async fn a_re_run_of_an_interrupted_detach_waits_for_it_instead_of_sending_it_again() {
    let ctx = TestContext::new().with_arm(FakeArm::start_with(Options {
        polls: 3,
        ..Options::default()
    }));
    assert_eq!(ctx.run::<Attach>(AKS).await.code, 0);
    let detach = ["detach", "aks-prod", "--yes"];
    let started = ctx.run::<Attach>(&with(&detach, &["--no-wait"])).await;
    assert_eq!(started.code, 0, "{started}");
    let again = ctx.run::<Attach>(&detach).await;
    assert_eq!(again.code, 0, "{again}");
    assert!(
        again
            .stderr
            .contains("already being detached (an earlier run): waiting for it")
            && again.stdout.contains("compute/aks-prod detached"),
        "{again}"
    );
    assert_eq!(deletes(&ctx), 1, "the DELETE was sent once");
    let shown = ctx.run::<Attach>(&["show", "aks-prod"]).await;
    assert_eq!(shown.code, 4, "{shown}");
}

#[tokio::test]
async fn a_failed_detach_says_the_compute_is_still_there_and_a_re_run_finishes() {
    let ctx = ctx();
    assert_eq!(ctx.run::<Attach>(AKS).await.code, 0);
    ctx.arm().fail(
        "DELETE",
        "/computes/aks-prod",
        4,
        503,
        "ServiceUnavailable",
        "busy",
    );
    let detach = ["detach", "aks-prod", "--yes"];
    let out = ctx.run::<Attach>(&detach).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains(
            "compute `aks-prod` is still in workspace `ws1` in state Succeeded: run the same command again"
        ),
        "{out}"
    );
    let again = ctx.run::<Attach>(&detach).await;
    assert_eq!(again.code, 0, "{again}");
}
