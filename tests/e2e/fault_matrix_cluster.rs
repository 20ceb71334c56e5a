//! The fault matrix of the verbs that write to the cluster (`fe cleanup`, `certs rotate`): every
//! request each sends to the API server × the same eight faults as the ARM verbs' matrix
//! ([`crate::fault_matrix`]), with the same assertions: the exit code, one `error:` line with a
//! hint, exit 0 only with the work done, and the same command again converging.

use std::fmt::Write as _;

use aml_tests::TestContext;
use aml_tests::fake_kube::Action;
use serde_json::{Value, json};

use crate::common::{Attach, Certs, Fe, demo_idle, demo_with_pair, tls_path, tls_text};
use crate::fault_matrix::{FAULTS, Fault, check_run, sigterm_at, write_verdicts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    FeCleanup,
    CertsRotate,
    /// `attach reattach`, its requests to the cluster (export, model services, cleanup).
    Reattach,
}

impl Verb {
    async fn prepared(self) -> TestContext {
        let ctx = match self {
            Self::Reattach => crate::attach_reattach::attached().await.0,
            Self::FeCleanup => demo_idle(),
            Self::CertsRotate => {
                let ctx = demo_with_pair("rsa.crt", "rsa.key");
                // A router pod on the old pair: a restart is owed until one happens.
                crate::certs_resume::old_router_pod(&ctx);
                ctx
            }
        };
        std::fs::create_dir(ctx.path("backups")).unwrap();
        ctx
    }

    fn args(self, ctx: &TestContext) -> Vec<String> {
        let backups = ctx.path("backups").to_string_lossy().into_owned();
        let (cert, key) = (tls_path("ec.crt"), tls_path("ec.key"));
        let args: Vec<&str> = match self {
            Self::FeCleanup => vec!["cleanup", "--yes", "--backup-dir", &backups],
            Self::CertsRotate => vec![
                "rotate",
                "--cert",
                &cert,
                "--key",
                &key,
                "--yes",
                "--backup-dir",
                &backups,
            ],
            Self::Reattach => vec!["reattach", "aks-tls", "--state-dir", &backups, "--yes"],
        };
        args.into_iter().map(String::from).collect()
    }

    async fn run(self, ctx: &TestContext, args: &[String]) -> aml_tests::Outcome {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match self {
            Self::FeCleanup => ctx.run::<Fe>(&args).await,
            Self::CertsRotate => ctx.run::<Certs>(&args).await,
            Self::Reattach => ctx.run::<Attach>(&args).await,
        }
    }

    fn binary(self) -> &'static str {
        match self {
            Self::FeCleanup => env!("CARGO_BIN_EXE_aml-fe-dup"),
            Self::CertsRotate => env!("CARGO_BIN_EXE_aml-certs-dup"),
            Self::Reattach => env!("CARGO_BIN_EXE_aml-attach-dup"),
        }
    }

    /// What the cluster holds, as far as this verb is concerned.
    fn held(self, ctx: &TestContext) -> Value {
        let kube = &ctx.kube;
        match self {
            // Re-attached, azureml-fe gone, and the journal finished (the compute's settings are
            // the ARM matrix's to check).
            Self::Reattach => {
                let journal = std::fs::read_to_string(ctx.path("backups").join("reattach.json"))
                    .unwrap_or_default();
                let done: Value = serde_json::from_str(&journal).unwrap_or(Value::Null);
                json!([Self::FeCleanup.held(ctx), done["done"]])
            }
            Self::FeCleanup => json!(
                aml_core::k8s::AZUREML_FE
                    .iter()
                    .map(|o| {
                        let namespace = if o.kind.namespaced { "default" } else { "" };
                        let api = match o.kind.group {
                            "" => o.kind.version.to_string(),
                            group => format!("{group}/{}", o.kind.version),
                        };
                        kube.get(&api, o.kind.kind, namespace, o.name).is_some()
                    })
                    .collect::<Vec<_>>()
            ),
            Self::CertsRotate => {
                let secret = kube.get("v1", "Secret", "default", "azuremlfessl");
                let text = |key: &str| {
                    use base64::Engine;
                    let encoded = secret
                        .as_ref()
                        .and_then(|s| s["data"][key].as_str())
                        .unwrap_or_default();
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(encoded)
                        .unwrap_or_default();
                    String::from_utf8(bytes).unwrap_or_default()
                };
                let restarted = kube
                    .get("apps/v1", "Deployment", "default", "azureml-fe")
                    .and_then(|d| d.pointer("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt").cloned())
                    .is_some();
                json!([
                    text("cert.pem") == tls_text("ec.crt"),
                    text("key.pem") == tls_text("ec.key"),
                    restarted
                ])
            }
        }
    }
}

/// The requests a verb sends, in order of first appearance, and what a clean run leaves.
async fn steps(verb: Verb) -> (Vec<(String, String)>, Value) {
    let ctx = verb.prepared().await;
    let before = ctx.kube.requests().len();
    let out = verb.run(&ctx, &verb.args(&ctx)).await;
    assert_eq!(out.code, 0, "clean {verb:?}: {out}");
    let mut steps: Vec<(String, String)> = Vec::new();
    for r in &ctx.kube.requests()[before..] {
        let step = (r.method.clone(), r.path.clone());
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    (steps, verb.held(&ctx))
}

fn inject(ctx: &TestContext, fault: Fault, method: &str, path: &str) {
    let kube = &ctx.kube;
    match fault {
        Fault::Forbidden => kube.fail_next(method, path, 1, 403),
        // A 404 on a DELETE is true: someone else deleted the object a moment before.
        Fault::NotFound if method == "DELETE" => {
            let url = format!("{}{path}", kube.url());
            let deleted = std::process::Command::new("curl")
                .args(["-sf", "-o", "/dev/null", "-X", "DELETE", &url])
                .status()
                .unwrap();
            assert!(deleted.success(), "DELETE {url}");
        }
        Fault::NotFound => kube.fail_next(method, path, 1, 404),
        Fault::Conflict => kube.fail_next(method, path, 1, 409),
        Fault::ServerError => kube.fail_next(method, path, 4, 500),
        Fault::Throttled => kube.fail_next(method, path, 4, 429),
        Fault::Hang | Fault::Sigterm => kube.hang_next(method, path, 1),
        Fault::Reset => kube.inject(Some(method), path, 4, Action::Reset),
    }
}

async fn case(
    verb: Verb,
    (method, path): &(String, String),
    fault: Fault,
    clean: &Value,
) -> String {
    let ctx = verb.prepared().await;
    inject(&ctx, fault, method, path);
    let mut args = verb.args(&ctx);
    let what = format!("{verb:?} {method} {path} × {fault:?}");
    let code = if fault == Fault::Sigterm {
        let at_step = || {
            let requests = ctx.kube.requests();
            requests
                .iter()
                .any(|r| &r.method == method && &r.path == path)
        };
        sigterm_at(verb.binary(), &ctx, &args, at_step).await
    } else {
        if fault == Fault::Hang {
            args.extend(["--request-timeout".into(), "1s".into()]);
        }
        let out = verb.run(&ctx, &args).await;
        check_run(&what, fault, &out);
        // A 404 on a write says the object is gone already (kubectl's --ignore-not-found): when
        // the fault lied, only the re-run below can make it right.
        let lied = fault == Fault::NotFound && method.as_str() != "GET";
        if out.code == 0 && !lied {
            ctx.kube.clear_faults();
            assert_eq!(
                &verb.held(&ctx),
                clean,
                "{what}: exit 0 with the work not done\n{out}"
            );
        }
        out.code.to_string()
    };
    ctx.kube.clear_faults();
    let again = verb.run(&ctx, &verb.args(&ctx)).await;
    // Only loss can stop a re-run: the TLS secret deleted by someone else before reattach
    // exported it cannot be given again; every run refuses the same way, and touches nothing.
    let lost =
        fault == Fault::NotFound && method.as_str() == "DELETE" && path.ends_with("/azuremlfessl");
    if lost && verb == Verb::Reattach && again.code.to_string() == code {
        assert!(
            again
                .stderr
                .contains("secret `default/azuremlfessl` not found"),
            "{what}: {again}"
        );
        return format!(
            "{method:<7} {path:<70} {:<12} exit {code:<4} re-run {} (secret lost: refused)",
            format!("{fault:?}"),
            again.code
        );
    }
    assert_eq!(again.code, 0, "{what}, re-run: {again}");
    assert_eq!(
        &verb.held(&ctx),
        clean,
        "{what}, re-run: the cluster holds what a clean run leaves\n{again}"
    );
    format!(
        "{method:<7} {path:<70} {:<12} exit {code:<4} re-run {}",
        format!("{fault:?}"),
        again.code
    )
}

async fn matrix(verb: Verb) -> usize {
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
            writeln!(table, "{}", case(verb, step, fault, &clean).await).unwrap();
            cases += 1;
        }
    }
    write_verdicts(&format!("fault-matrix-cluster-{verb:?}"), &table);
    cases
}

#[tokio::test]
async fn fe_cleanup_under_every_fault_at_every_step() {
    assert!(matrix(Verb::FeCleanup).await > 0);
}

#[tokio::test]
async fn certs_rotate_under_every_fault_at_every_step() {
    assert!(matrix(Verb::CertsRotate).await > 0);
}

#[tokio::test]
async fn reattach_under_every_fault_at_every_cluster_step() {
    assert!(matrix(Verb::Reattach).await > 0);
}
