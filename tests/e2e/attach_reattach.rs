//! `kubectl aml attach reattach`: the docs' re-attach in one command — the same settings and
//! TLS pair again, azureml-fe cleaned up in between — and a journal that lets the same command
//! finish after a failure at any step.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use aml_tests::TestContext;
use base64::Engine;
use serde_json::Value;

use crate::attach::{in_cluster_ctx, puts};
use crate::common::{Attach, DEMO, scale, tls_path};

/// Compute `aks-tls` attached with a custom certificate, azureml-fe running (the demo's eight
/// objects, as the attach would have installed them), its model service scaled to zero.
pub(crate) async fn attached() -> (TestContext, tempfile::TempDir) {
    let ctx = in_cluster_ctx();
    let out = ctx
        .run::<Attach>(&[
            "aks",
            "aks-tls",
            "--cluster",
            "aks1",
            "--cluster-purpose",
            "DevTest",
            "--ssl-cert-pem-file",
            &tls_path("rsa-chain.crt"),
            "--ssl-key-pem-file",
            &tls_path("rsa.key"),
            "--ssl-cname",
            "fe.example.com",
        ])
        .await;
    assert_eq!(out.code, 0, "{out}");
    ctx.kube.seed_yaml(DEMO);
    scale(&ctx.kube, "ws1", "sentiment", 0);
    (ctx, tempfile::tempdir().unwrap())
}

fn reattach<'a>(state: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    [&["reattach", "aks-tls", "--state-dir", state][..], extra].concat()
}

fn state_of(dir: &Path) -> String {
    dir.join("state").to_string_lossy().into_owned()
}

fn done_steps(state: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(state).join("reattach.json")).unwrap();
    let record: Value = serde_json::from_str(&text).unwrap();
    record["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn secret_key(ctx: &TestContext) -> String {
    let secret = ctx
        .kube
        .get("v1", "Secret", "default", "azuremlfessl")
        .unwrap();
    let b64 = secret["data"]["key.pem"].as_str().unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

fn fe_objects_left(ctx: &TestContext) -> usize {
    [
        ("apps/v1", "Deployment", "default", "azureml-fe"),
        ("v1", "Service", "default", "azureml-fe"),
        ("v1", "Secret", "default", "azuremlfessl"),
        ("v1", "ConfigMap", "default", "azuremlfeconfig"),
        ("v1", "ServiceAccount", "default", "azureml-fe"),
    ]
    .iter()
    .filter(|(v, k, ns, n)| ctx.kube.get(v, k, ns, n).is_some())
    .count()
}

#[tokio::test]
async fn reattach_gives_the_same_settings_and_pair_again_and_a_re_run_has_nothing_to_do() {
    let (ctx, tmp) = attached().await;
    let state = state_of(tmp.path());
    let key = secret_key(&ctx);
    let dry = ctx.run::<Attach>(&reattach(&state, &["--dry-run"])).await;
    assert_eq!(dry.code, 0, "{dry}");
    for line in [
        "1. read the compute's settings: GET ",
        "2. export the TLS pair (certs export): secret `default/azuremlfessl`",
        "3. detach the compute",
        "DELETE http://",
        "underlyingResourceAction=Detach",
        "4. delete the azureml-fe objects (fe cleanup)",
        "5. attach it again with the same settings",
        "\"clusterPurpose\": \"DevTest\"",
        "\"cname\": \"fe.example.com\"",
    ] {
        assert!(dry.stdout.contains(line), "{line} missing: {dry}");
    }
    let json = ctx
        .run::<Attach>(&reattach(&state, &["--dry-run", "-o", "json"]))
        .await;
    let steps: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(steps.as_array().unwrap().len(), 5, "{json}");
    assert!(!Path::new(&state).exists(), "a dry run writes nothing");
    assert_eq!(puts(&ctx).len(), 1, "a dry run sends nothing");

    let out = ctx
        .run::<Attach>(&reattach(&state, &["--yes", "-o", "json"]))
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("compute `aks-tls` re-attached"),
        "{out}"
    );
    // What the steps print is one document: an array, the compute attached again last.
    let printed: Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    let last = printed.as_array().and_then(|a| a.last()).cloned();
    assert_eq!(last.unwrap_or_default()["name"], "aks-tls", "{out}");
    assert_eq!(
        done_steps(&state),
        ["read", "export", "detach", "cleanup", "attach"]
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(Path::new(&state)), 0o700);
    assert_eq!(mode(&Path::new(&state).join("key.pem")), 0o600);
    assert_eq!(mode(&Path::new(&state).join("reattach.json")), 0o600);
    let backups = std::fs::read_dir(&state)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("azuremlfessl-")
        })
        .count();
    assert_eq!(
        backups, 1,
        "fe cleanup backed the secret up into the state directory"
    );
    assert_eq!(fe_objects_left(&ctx), 0, "azureml-fe was cleaned up");
    let sent = puts(&ctx);
    assert_eq!(sent.len(), 2);
    let again = &sent[1]["properties"]["properties"];
    assert_eq!(again["clusterPurpose"], "DevTest");
    assert_eq!(again["sslConfiguration"]["cname"], "fe.example.com");
    assert_eq!(again["sslConfiguration"]["key"].as_str().unwrap(), key);
    assert!(!out.stdout.contains("PRIVATE KEY") && !out.stderr.contains("PRIVATE KEY"));

    let rerun = ctx.run::<Attach>(&reattach(&state, &["--yes"])).await;
    assert_eq!(rerun.code, 0, "{rerun}");
    assert!(
        rerun.stderr.contains("is finished: nothing to do"),
        "{rerun}"
    );
    assert_eq!(puts(&ctx).len(), 2);
}

#[tokio::test]
async fn active_model_services_are_refused_unless_forced_before_anything_is_sent() {
    let (ctx, tmp) = attached().await;
    scale(&ctx.kube, "ws1", "sentiment", 2);
    let state = state_of(tmp.path());
    let out = ctx.run::<Attach>(&reattach(&state, &["--yes"])).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("model services are active") && out.stderr.contains("ws1/sentiment"),
        "{out}"
    );
    assert!(!Path::new(&state).exists());
    assert!(
        ctx.arm().writes().len() == 1,
        "only the first attach was sent"
    );
    let forced = ctx
        .run::<Attach>(&reattach(&state, &["--yes", "--force"]))
        .await;
    assert_eq!(forced.code, 0, "{forced}");
}

/// A failure at each writing step stops there with the journal's path; the same command again
/// continues from that step and ends with the compute attached once more.
#[tokio::test]
async fn a_failure_at_any_step_is_finished_by_the_same_command_again() {
    type Fault = fn(&TestContext);
    let faults: [(&str, Fault, u8, &[&str]); 4] = [
        (
            "export",
            |ctx| {
                ctx.kube.fail_next(
                    "GET",
                    "/api/v1/namespaces/default/secrets/azuremlfessl",
                    1,
                    403,
                )
            },
            3,
            &["read"],
        ),
        (
            "detach",
            |ctx| {
                ctx.arm().fail(
                    "DELETE",
                    "/computes/aks-tls",
                    4,
                    503,
                    "ServiceUnavailable",
                    "busy",
                )
            },
            1,
            &["read", "export"],
        ),
        (
            "cleanup",
            |ctx| {
                ctx.kube.fail_next(
                    "DELETE",
                    "/apis/apps/v1/namespaces/default/deployments/azureml-fe",
                    1,
                    403,
                )
            },
            3,
            &["read", "export", "detach"],
        ),
        (
            "attach",
            |ctx| {
                ctx.arm().fail(
                    "PUT",
                    "/computes/aks-tls",
                    4,
                    500,
                    "InternalServerError",
                    "later",
                )
            },
            1,
            &["read", "export", "detach", "cleanup"],
        ),
    ];
    for (at, fault, code, done) in faults {
        let (ctx, tmp) = attached().await;
        let state = state_of(tmp.path());
        fault(&ctx);
        let out = ctx.run::<Attach>(&reattach(&state, &["--yes"])).await;
        assert_eq!(out.code, code, "{at}: {out}");
        assert!(
            out.stderr.contains("failed;")
                && out
                    .stderr
                    .contains("the same command again continues from this one"),
            "{at}: {out}"
        );
        assert_eq!(done_steps(&state), done, "{at}");
        let again = ctx.run::<Attach>(&reattach(&state, &["--yes"])).await;
        assert_eq!(again.code, 0, "{at}: {again}");
        assert!(
            again.stderr.contains("done by an earlier run"),
            "{at}: {again}"
        );
        assert_eq!(done_steps(&state).len(), 5, "{at}");
        let shown = ctx.run::<Attach>(&["show", "aks-tls"]).await;
        assert_eq!(shown.code, 0, "{at}: {shown}");
        assert_eq!(fe_objects_left(&ctx), 0, "{at}");
    }
}

#[tokio::test]
async fn a_journal_of_another_compute_is_refused() {
    let (ctx, tmp) = attached().await;
    let state = state_of(tmp.path());
    std::fs::create_dir(&state).unwrap();
    std::fs::write(
        Path::new(&state).join("reattach.json"),
        r#"{"workspace": "/subscriptions/x/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/other", "compute": "aks-tls", "settings": {}, "done": ["read"]}"#,
    )
    .unwrap();
    let out = ctx.run::<Attach>(&reattach(&state, &["--yes"])).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("is the journal of compute `aks-tls` in"),
        "{out}"
    );
    assert_eq!(ctx.arm().writes().len(), 1);
}

#[tokio::test]
async fn a_kubernetes_compute_is_attached_again_with_its_namespace_and_identity() {
    let ctx = in_cluster_ctx();
    let args = [
        "k8s",
        "k8s-a",
        "--cluster",
        "aks1",
        "-n",
        "kube-public",
        "--identity-type",
        "SystemAssigned",
    ];
    assert_eq!(ctx.run::<Attach>(&args).await.code, 0);
    let tmp = tempfile::tempdir().unwrap();
    let state = state_of(tmp.path());
    let out = ctx
        .run::<Attach>(&["reattach", "k8s-a", "--state-dir", &state, "--yes"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(done_steps(&state), ["read", "detach", "attach"]);
    let sent = puts(&ctx);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1]["properties"]["properties"]["namespace"],
        "kube-public"
    );
    assert_eq!(sent[1]["identity"]["type"], "SystemAssigned");
    assert_eq!(
        sent[1]["properties"]["resourceId"],
        sent[0]["properties"]["resourceId"]
    );
}

/// SIGTERM while the detach is being waited for (the DELETE accepted, its operation hanging):
/// the process dies with the journal at "export"; the same command again waits for the detach
/// rather than sending it again, and finishes.
#[tokio::test]
async fn sigterm_during_the_detach_is_finished_by_the_same_command_again() {
    let (ctx, tmp) = attached().await;
    let state = state_of(tmp.path());
    ctx.arm().hang(
        "GET",
        "/computeOperationsStatus",
        1,
        aml_tests::fake_arm::Stall::BeforeHeaders,
    );
    let binary = env!("CARGO_BIN_EXE_aml-attach-dup");
    let mut child = crate::common::plugin_command(binary, &ctx, &reattach(&state, &["--yes"]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deleted = || {
        ctx.arm()
            .journal()
            .iter()
            .any(|r| r.method == "DELETE" && r.status == 202)
    };
    for _ in 0..500 {
        if deleted() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(deleted(), "the detach was sent");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status:?}");
    assert_eq!(done_steps(&state), ["read", "export"]);
    let again = crate::common::run_plugin(binary, &ctx, &reattach(&state, &["--yes"]));
    let stderr = crate::common::text(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    assert_eq!(done_steps(&state).len(), 5);
    let deletes = ctx
        .arm()
        .journal()
        .iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, 1, "the detach was not sent twice: {stderr}");
    assert_eq!(puts(&ctx).len(), 2);
}
