//! Azure Resource Manager failure modes through `kubectl aml attach`: errors with their hints and
//! exit codes, retries, the long-running-operation patterns, timeouts, credentials and settings.

use aml_tests::fake_arm::{Completion, Options};
use aml_tests::{FakeArm, TestContext};

use crate::attach::ctx;
use crate::common::Attach;

fn with(options: Options) -> TestContext {
    TestContext::new().with_arm(FakeArm::start_with(options))
}

const ATTACH: &[&str] = &["aks", "aks-prod", "--cluster", "aks1"];

#[tokio::test]
async fn authorization_failed_names_the_roles_and_exits_3() {
    let ctx = ctx();
    ctx.arm().forbid("PUT", "/computes/aks-prod");
    let out = ctx.run::<Attach>(ATTACH).await;
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stderr.contains("AuthorizationFailed: The client"),
        "{out}"
    );
    assert!(
        out.stderr.contains("Owner or Contributor")
            && out
                .stderr
                .contains("Azure Kubernetes Service Cluster Admin"),
        "{out}"
    );
}

#[tokio::test]
async fn a_409_on_create_explains_that_creation_is_not_idempotent() {
    let ctx = ctx();
    assert_eq!(ctx.run::<Attach>(ATTACH).await.code, 0);
    // Past our own check, the fake refuses the existing name as ARM does (on another cluster: on
    // the same one the compute is an earlier run's and the re-run reports it, `attach_resume`).
    let out = ctx
        .run::<Attach>(&["aks", "aks-prod", "--cluster", "aks9", "--skip-checks"])
        .await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("Conflict: Compute with name aks-prod already exists."),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("hint: creating a compute is not idempotent"),
        "{out}"
    );
    assert_eq!(
        ctx.arm()
            .journal()
            .iter()
            .filter(|r| r.status == 409)
            .count(),
        1
    );
}

#[tokio::test]
async fn a_public_ip_policy_failure_points_to_the_internal_load_balancer() {
    let ctx = ctx();
    ctx.arm().fail_next_operation("RequestDisallowedByPolicy", "Resource 'kubernetes' was disallowed by policy: Load Balancers should not have public IP addresses.");
    let out = ctx.run::<Attach>(ATTACH).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("ended Failed") && out.stderr.contains("RequestDisallowedByPolicy"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("--load-balancer-type InternalLoadBalancer --load-balancer-subnet"),
        "{out}"
    );
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_and_a_failed_put_is_looked_up_first() {
    let ctx = ctx();
    ctx.arm().throttle("GET", "/workspaces/ws1", 2, 0);
    ctx.arm().fail(
        "PUT",
        "/computes/aks-prod",
        1,
        500,
        "InternalServerError",
        "try again",
    );
    let out = ctx.run::<Attach>(ATTACH).await;
    assert_eq!(out.code, 0, "{out}");
    let journal = ctx.arm().journal();
    let statuses: Vec<(String, u16)> = journal
        .iter()
        .filter(|r| r.path.ends_with("/workspaces/ws1") || r.path.ends_with("/computes/aks-prod"))
        .map(|r| (r.method.clone(), r.status))
        .collect();
    let expected: Vec<(String, u16)> = [
        ("GET", 429),
        ("GET", 429),
        ("GET", 200),
        ("PUT", 500),
        ("GET", 404),
        ("PUT", 201),
        ("GET", 200),
    ]
    .iter()
    .map(|(m, s)| (m.to_string(), *s))
    .collect();
    assert_eq!(statuses, expected);
}

#[tokio::test]
async fn every_completion_pattern_ends_the_same_way() {
    for completion in [
        Completion::Immediate,
        Completion::AsyncOperation,
        Completion::Location,
        Completion::ResourceState,
    ] {
        let ctx = ctx();
        ctx.arm().set_completion(completion);
        let out = ctx.run::<Attach>(ATTACH).await;
        assert_eq!(out.code, 0, "{completion:?}: {out}");
        assert!(out.stdout.contains("Succeeded"), "{completion:?}: {out}");
        if completion != Completion::ResourceState {
            let detach = ctx.run::<Attach>(&["detach", "aks-prod", "--yes"]).await;
            assert_eq!(detach.code, 0, "{completion:?}: {detach}");
            assert!(ctx.arm().compute("aks-prod").is_none(), "{completion:?}");
        }
    }
}

#[tokio::test]
async fn failed_detach_operations_report_their_error() {
    let ctx = ctx();
    assert_eq!(ctx.run::<Attach>(ATTACH).await.code, 0);
    ctx.arm().set_completion(Completion::Location);
    ctx.arm()
        .fail_next_operation("InternalServerError", "the detach broke");
    let out = ctx.run::<Attach>(&["detach", "aks-prod", "--yes"]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("InternalServerError: the detach broke"),
        "{out}"
    );
}

#[tokio::test]
async fn a_slow_operation_times_out_with_exit_5_and_the_url_to_check() {
    let ctx = with(Options {
        polls: 1_000_000,
        ..Options::default()
    });
    let out = ctx
        .run::<Attach>(&["aks", "aks-prod", "--cluster", "aks1", "--timeout", "1s"])
        .await;
    assert_eq!(out.code, 5, "{out}");
    assert!(
        out.stderr.contains("not finished within --timeout (1s)"),
        "{out}"
    );
    assert!(
        out.stderr.contains("computeOperationsStatus"),
        "where to look later: {out}"
    );
}

#[tokio::test]
async fn a_signed_out_az_is_an_auth_error_and_nothing_is_sent() {
    let ctx = ctx();
    ctx.azure().sign_out();
    let out = ctx.run::<Attach>(ATTACH).await;
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stderr
            .contains("cannot get an Azure token with the Azure CLI credential"),
        "{out}"
    );
    assert!(
        out.stderr.contains("hint: sign in with `az login`"),
        "{out}"
    );
    assert!(ctx.arm().journal().is_empty());
}

#[tokio::test]
async fn settings_come_from_flags_before_az_configuration() {
    let ctx = ctx();
    let out = ctx.run::<Attach>(&["list", "-w", "other-ws"]).await;
    assert_eq!(out.code, 4, "{out}");
    assert!(
        out.stderr
            .contains("workspace `other-ws` not found in resource group `rg1`"),
        "{out}"
    );
    let out = ctx
        .run::<Attach>(&["list", "--subscription", "No Such Sub"])
        .await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("unknown subscription `No Such Sub`"),
        "{out}"
    );
    let out = ctx
        .run::<Attach>(&["list", "--subscription", "Fake Subscription"])
        .await;
    assert_eq!(out.code, 0, "a subscription by name: {out}");
    let out = ctx
        .run::<Attach>(&["list", "--cloud", "AzureMoonCloud"])
        .await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("unknown cloud `AzureMoonCloud`"),
        "{out}"
    );
    std::fs::write(
        ctx.azure().config_dir.join("config"),
        "[cloud]\nname = FakeCloud\n",
    )
    .unwrap();
    let out = ctx.run::<Attach>(&["list"]).await;
    assert_eq!(out.code, 2, "no default group: {out}");
    assert!(
        out.stderr.contains("no resource group given")
            && out.stderr.contains("az configure --defaults group="),
        "{out}"
    );
    let out = ctx.run::<Attach>(&["list", "-g", "rg1", "-w", "ws1"]).await;
    assert_eq!(out.code, 0, "{out}");
}

#[tokio::test]
async fn a_token_never_goes_over_plain_http_to_another_machine() {
    let ctx = ctx();
    std::fs::write(
        ctx.azure().config_dir.join("clouds.config"),
        "[FakeCloud]\nendpoint_resource_manager = http://management.example.com/\n",
    )
    .unwrap();
    let out = ctx.run::<Attach>(&["list"]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains(
            "refusing to send an Azure token over plain http to `http://management.example.com`"
        ),
        "{out}"
    );
}

#[tokio::test]
async fn a_terminal_sees_progress_and_a_script_does_not() {
    let ctx = with(Options {
        polls: 2,
        ..Options::default()
    });
    let out = ctx.run_answering::<Attach>(ATTACH, Some("")).await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("attaching cluster `aks1` as compute `aks-prod`: InProgress ("),
        "{out}"
    );
    let out = ctx
        .run::<Attach>(&["aks", "aks-two", "--cluster", "aks1", "--skip-checks"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.stderr.contains("InProgress"), "{out}");
}

#[tokio::test]
async fn a_version_azure_refuses_points_to_the_supported_ones() {
    let ctx = ctx();
    ctx.arm().fail_next_operation(
        "BadRequest",
        "Kubernetes version 1.25.6 is not supported in this region.",
    );
    let out = ctx.run::<Attach>(ATTACH).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("hint: compute `aks-prod` is left in workspace `ws1` in state Failed")
            && out
                .stderr
                .contains("; `kubectl aml attach versions --location REGION` lists"),
        "{out}"
    );
}
