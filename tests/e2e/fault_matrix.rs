//! The fault matrix of the verbs that write through Azure Resource Manager: every request a verb
//! sends (its steps, found by running it once on a clean fake) × {403, 404, 409, 500, 429, hang,
//! connection reset, SIGTERM}. Each case asserts the exit code, one `error:` line with a hint,
//! and that the same command again converges on what a clean run leaves. The verdicts are written
//! to `fault-matrix-VERB.txt` in the test's scratch directory of the target directory.

use std::fmt::Write as _;

use aml_tests::fake_arm::Stall;
use aml_tests::{FakeArm, TestContext};
use serde_json::Value;

use crate::common::{Attach, Deploy, plugin_command};

/// The ARM-writing verbs of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    AttachAks,
    AttachK8s,
    Detach,
    DeployCreate,
    DeployUpdate,
    DeployDelete,
    /// `attach reattach`, its ARM requests (the cluster's are in `fault_matrix_cluster`).
    Reattach,
}

/// The faults, each injected at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Forbidden,
    NotFound,
    Conflict,
    ServerError,
    Throttled,
    Hang,
    Reset,
    Sigterm,
}

pub(crate) const FAULTS: [Fault; 8] = [
    Fault::Forbidden,
    Fault::NotFound,
    Fault::Conflict,
    Fault::ServerError,
    Fault::Throttled,
    Fault::Hang,
    Fault::Reset,
    Fault::Sigterm,
];

impl Fault {
    /// The exit codes that are right for this fault when it fails the command. A verb may also
    /// absorb a fault and exit 0 (a 404 on a read that expects one, the answer of a read whose
    /// result is not needed): then the servers must already hold what a clean run leaves.
    pub(crate) fn allowed(self) -> &'static [u8] {
        match self {
            Self::Forbidden => &[0, 3],
            Self::NotFound => &[0, 1, 4],
            Self::Conflict => &[0, 1],
            Self::ServerError | Self::Throttled | Self::Reset => &[0, 1],
            Self::Hang => &[0, 5],
            Self::Sigterm => &[],
        }
    }
}

impl Verb {
    fn args(self) -> Vec<&'static str> {
        match self {
            Self::AttachAks => vec!["aks", "aks-prod", "--cluster", "aks1"],
            Self::AttachK8s => vec!["k8s", "k8s-a", "--cluster", "aks1", "-n", "team-a"],
            Self::Detach => vec!["detach", "aks-prod", "--yes"],
            Self::DeployCreate => vec![
                "create",
                "svc",
                "--compute",
                "k8s",
                "--model",
                "sentiment:1",
                "--environment",
                "sklearn-env:3",
            ],
            Self::DeployUpdate => vec!["update", "svc", "--cpu-cores", "0.2"],
            Self::DeployDelete => vec!["delete", "svc", "--yes"],
            Self::Reattach => vec!["reattach", "aks-tls", "--state-dir", "{state}", "--yes"],
        }
    }

    /// The arguments, `{state}` made a directory of this test's own.
    fn argv(self, ctx: &TestContext) -> Vec<String> {
        let state = ctx.path("state").to_string_lossy().into_owned();
        self.args()
            .into_iter()
            .map(|a| a.replace("{state}", &state))
            .collect()
    }

    fn is_deploy(self) -> bool {
        matches!(
            self,
            Self::DeployCreate | Self::DeployUpdate | Self::DeployDelete
        )
    }

    /// A re-run that finds its work already done may say "not found" (4) for these.
    fn removes(self) -> bool {
        matches!(self, Self::Detach | Self::DeployDelete)
    }

    async fn run(self, ctx: &TestContext, args: &[String]) -> aml_tests::Outcome {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let args = args.as_slice();
        if self.is_deploy() {
            ctx.run::<Deploy>(args).await
        } else {
            ctx.run::<Attach>(args).await
        }
    }

    /// A fresh fake with what the verb needs in place.
    async fn prepared(self) -> TestContext {
        if self == Self::Reattach {
            let (ctx, _) = crate::attach_reattach::attached().await;
            return ctx;
        }
        let ctx = TestContext::new().with_arm(FakeArm::start());
        if self.is_deploy() {
            ctx.arm().add_kubernetes_compute("k8s", "models");
        }
        let setup = match self {
            Self::Detach => Some(Self::AttachAks),
            Self::DeployUpdate | Self::DeployDelete => Some(Self::DeployCreate),
            _ => None,
        };
        if let Some(verb) = setup {
            let out = verb.run(&ctx, &verb.argv(&ctx)).await;
            assert_eq!(out.code, 0, "setup {verb:?}: {out}");
        }
        ctx
    }

    /// What the servers hold, as far as this verb is concerned.
    async fn held(self, ctx: &TestContext) -> Value {
        let out = if self.is_deploy() {
            ctx.run::<Deploy>(&["list", "-o", "json"]).await
        } else {
            ctx.run::<Attach>(&["list", "-o", "json"]).await
        };
        let listed: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        let pick = |v: &Value| -> Value {
            let states = |v: &Value| {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| serde_json::json!([d["name"], d["sku"], d["properties"]]))
                    .collect::<Vec<_>>()
            };
            match v.get("endpoint") {
                Some(e) => serde_json::json!([
                    e["name"],
                    e["properties"]["provisioningState"],
                    states(&v["deployments"])
                ]),
                None => serde_json::json!([
                    v["name"],
                    v["properties"]["provisioningState"],
                    v["properties"]["resourceId"],
                    v["properties"]["properties"]
                ]),
            }
        };
        let items = listed.as_array().cloned().unwrap_or_default();
        Value::Array(items.iter().map(pick).collect())
    }
}

/// The requests a verb sends, in order of first appearance: (method, path).
async fn steps(verb: Verb) -> (Vec<(String, String)>, Value) {
    let ctx = verb.prepared().await;
    let before = ctx.arm().journal().len();
    let out = verb.run(&ctx, &verb.argv(&ctx)).await;
    assert_eq!(out.code, 0, "clean {verb:?}: {out}");
    let mut steps: Vec<(String, String)> = Vec::new();
    for r in &ctx.arm().journal()[before..] {
        let step = (r.method.clone(), r.path.clone());
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    (steps, verb.held(&ctx).await)
}

fn inject(ctx: &TestContext, fault: Fault, method: &str, path: &str) {
    let exact = format!("{path}$");
    let arm = ctx.arm();
    match fault {
        Fault::Forbidden => arm.fail(
            method,
            &exact,
            1,
            403,
            "AuthorizationFailed",
            "The client does not have authorization to perform this action.",
        ),
        Fault::NotFound => arm.fail(
            method,
            &exact,
            1,
            404,
            "ResourceNotFound",
            "The resource was not found.",
        ),
        Fault::Conflict => arm.fail(
            method,
            &exact,
            1,
            409,
            "Conflict",
            "Another operation is in progress on this resource.",
        ),
        // Every try fails: the retries give up.
        Fault::ServerError => arm.fail(
            method,
            &exact,
            4,
            500,
            "InternalServerError",
            "Something went wrong.",
        ),
        Fault::Throttled => arm.throttle(method, &exact, 4, 0),
        Fault::Hang | Fault::Sigterm => arm.hang(method, &exact, 1, Stall::BeforeHeaders),
        Fault::Reset => arm.hang(method, &exact, 4, Stall::Reset),
    }
}

/// One case: the verdict line, or a panic saying what was wrong.
async fn case(verb: Verb, step: &(String, String), fault: Fault, clean: &Value) -> String {
    let ctx = verb.prepared().await;
    let (method, path) = step;
    inject(&ctx, fault, method, path);
    let mut args = verb.argv(&ctx);
    let code = if fault == Fault::Sigterm {
        let binary = if verb.is_deploy() {
            env!("CARGO_BIN_EXE_aml-deploy-dup")
        } else {
            env!("CARGO_BIN_EXE_aml-attach-dup")
        };
        let at_step = || {
            let journal = ctx.arm().journal();
            journal
                .iter()
                .any(|r| &r.method == method && &r.path == path)
        };
        sigterm_at(binary, &ctx, &args, at_step).await
    } else {
        if fault == Fault::Hang {
            args.extend(["--timeout".into(), "1s".into()]);
        }
        let out = verb.run(&ctx, &args).await;
        let what = format!("{verb:?} {method} {path} × {fault:?}");
        check_run(&what, fault, &out);
        // A 404 on a write says the object is gone already (kubectl's --ignore-not-found): when
        // the fault lied, only the re-run below can make it right.
        let lied = fault == Fault::NotFound && method.as_str() != "GET";
        if out.code == 0 && !lied {
            ctx.arm().clear_faults(); // faults the run did not use would fail the look
            assert_eq!(
                &verb.held(&ctx).await,
                clean,
                "{what}: exit 0 with the work not done\n{out}"
            );
        }
        out.code.to_string()
    };
    ctx.arm().clear_faults();
    let again = verb.run(&ctx, &verb.argv(&ctx)).await;
    let what = format!("{verb:?} {method} {path} × {fault:?}, re-run");
    let converged_codes: &[u8] = if verb.removes() { &[0, 4] } else { &[0] };
    assert!(converged_codes.contains(&again.code), "{what}: {again}");
    assert_eq!(
        &verb.held(&ctx).await,
        clean,
        "{what}: the servers hold what a clean run leaves\n{again}"
    );
    format!(
        "{:<6} {:<110} {:<12} exit {code:<4} re-run {}",
        method,
        short(path),
        format!("{fault:?}"),
        again.code
    )
}

fn short(path: &str) -> String {
    path.split_once("/providers/")
        .map(|(_, rest)| format!("…/{rest}"))
        .unwrap_or_else(|| path.to_string())
}

/// The checks every faulted run passes: an exit code right for the fault, no panic, and when it
/// fails, one `error:` line and a hint.
pub(crate) fn check_run(what: &str, fault: Fault, out: &aml_tests::Outcome) {
    assert!(
        fault.allowed().contains(&out.code),
        "{what}: exit {} not in {:?}\n{out}",
        out.code,
        fault.allowed()
    );
    assert!(!out.stderr.contains("panicked"), "{what}: {out}");
    if out.code != 0 {
        let errors = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count();
        assert_eq!(errors, 1, "{what}: one error line\n{out}");
        assert!(out.stderr.contains("\nhint: "), "{what}: a hint\n{out}");
    }
}

/// Runs `binary` as a process, waits until `at_step` sees it at the (hung) step, and stops it
/// there with SIGTERM; its exit as text (`TERM` when the signal ended it).
pub(crate) async fn sigterm_at(
    binary: &str,
    ctx: &TestContext,
    args: &[String],
    at_step: impl Fn() -> bool,
) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = plugin_command(binary, ctx, &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..1000 {
        if at_step() || child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The case is an interruption at this step only if the process got there.
    assert!(at_step(), "{args:?} never reached the step");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let status = child.wait().unwrap();
    status.code().map_or("TERM".into(), |c| c.to_string())
}

/// Writes a matrix's verdicts to `target/tmp/NAME.txt`.
pub(crate) fn write_verdicts(name: &str, table: &str) {
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.txt"));
    std::fs::write(file, table).unwrap();
}

/// Every step × every fault of `verb`; the verdicts go to a file, the count is returned.
pub(crate) async fn matrix(verb: Verb) -> usize {
    let (steps, clean) = steps(verb).await;
    assert!(!steps.is_empty());
    let mut table = format!(
        "{verb:?}: {} steps × {} faults\n",
        steps.len(),
        FAULTS.len()
    );
    let mut cases = 0;
    for step in &steps {
        for fault in FAULTS {
            let line = case(verb, step, fault, &clean).await;
            writeln!(table, "{line}").unwrap();
            cases += 1;
        }
    }
    write_verdicts(&format!("fault-matrix-{verb:?}"), &table);
    cases
}

#[tokio::test]
async fn attach_aks_under_every_fault_at_every_step() {
    assert!(matrix(Verb::AttachAks).await > 0);
}

#[tokio::test]
async fn attach_k8s_under_every_fault_at_every_step() {
    assert!(matrix(Verb::AttachK8s).await > 0);
}

#[tokio::test]
async fn detach_under_every_fault_at_every_step() {
    assert!(matrix(Verb::Detach).await > 0);
}

#[tokio::test]
async fn deploy_create_under_every_fault_at_every_step() {
    assert!(matrix(Verb::DeployCreate).await > 0);
}

#[tokio::test]
async fn deploy_update_under_every_fault_at_every_step() {
    assert!(matrix(Verb::DeployUpdate).await > 0);
}

#[tokio::test]
async fn deploy_delete_under_every_fault_at_every_step() {
    assert!(matrix(Verb::DeployDelete).await > 0);
}

#[tokio::test]
async fn reattach_under_every_fault_at_every_step() {
    assert!(matrix(Verb::Reattach).await > 0);
}
