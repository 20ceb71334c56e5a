//! `kubectl aml certs rotate`: one update with a precondition, backups, restart and rollout,
//! refusals, conflicts, dry runs, and interruptions — the secret never mixes two pairs.

use std::time::Duration;

use aml_tests::fake_kube::Action;
use aml_tests::{Outcome, TestContext};
use serde_json::json;

use crate::common::{
    Certs, assert_code, backup_dir, demo_with_pair, requests, row, secret_text, tls_path, tls_text,
};

const SECRET: &str = "/api/v1/namespaces/default/secrets/azuremlfessl";
pub(crate) const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/default/deployments/azureml-fe";

/// The arguments that rotate the demo's pair (rsa.crt, rsa.key) to (ec.crt, ec.key), with backups
/// in the temp dir.
fn rotate_args(ctx: &TestContext, extra: &[&str]) -> Vec<String> {
    let dir = ctx.path("backups");
    let _ = std::fs::create_dir(&dir);
    let base = [
        "rotate",
        "--cert",
        &tls_path("ec.crt"),
        "--key",
        &tls_path("ec.key"),
        "--backup-dir",
        dir.to_str().unwrap(),
    ];
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

pub(crate) async fn rotate(ctx: &TestContext, extra: &[&str]) -> Outcome {
    let args = rotate_args(ctx, extra);
    ctx.run::<Certs>(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await
}

pub(crate) fn holds(ctx: &TestContext, cert: &str, key: &str) -> bool {
    secret_text(&ctx.kube, "cert.pem") == tls_text(cert)
        && secret_text(&ctx.kube, "key.pem") == tls_text(key)
}

fn backups(ctx: &TestContext) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(ctx.path("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

#[tokio::test]
async fn replaces_both_keys_in_one_update_after_a_backup_then_restarts() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    let out = rotate(&ctx, &["--yes", "--wait"]).await;
    assert_code(&out, 0);
    assert!(holds(&ctx, "ec.crt", "ec.key"));
    let puts = requests(&ctx.kube, "PUT");
    assert_eq!(puts.len(), 1, "one update");
    assert!(
        puts[0].path == SECRET && puts[0].body["metadata"]["resourceVersion"].is_string(),
        "with a resourceVersion precondition"
    );
    let saved = backups(&ctx);
    assert_eq!(saved.len(), 1);
    assert!(
        saved[0].contains(&crate::common::b64(&tls_text("rsa.key"))),
        "the backup holds the old pair"
    );
    let patch = requests(&ctx.kube, "PATCH")
        .into_iter()
        .find(|r| r.path == DEPLOYMENT)
        .expect("a restart");
    assert!(
        patch
            .body
            .pointer("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt")
            .is_some(),
        "{:?}",
        patch.body
    );
    let deployment = ctx
        .kube
        .get("apps/v1", "Deployment", "default", "azureml-fe")
        .unwrap();
    assert_eq!(
        deployment["metadata"]["generation"], 2,
        "the pod template changed"
    );
    assert!(
        row(&out.stdout, "rollout", "complete").ends_with("complete"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("saved secret `default/azuremlfessl` to "),
        "{out}"
    );
}

#[tokio::test]
async fn the_same_pair_again_is_no_change() {
    let ctx = demo_with_pair("ec.crt", "ec-pkcs8.key");
    let out = rotate(&ctx, &["--yes"]).await;
    assert_code(&out, 0);
    assert!(
        out.stderr.contains("already holds this pair: no change"),
        "same key in SEC1 and PKCS#8 is the same pair\n{out}"
    );
    assert!(requests(&ctx.kube, "PUT").is_empty() && requests(&ctx.kube, "PATCH").is_empty());
}

#[tokio::test]
async fn a_bad_new_pair_is_refused_before_anything_changes() {
    let cases = [
        (
            ("rsa.crt", "other.key"),
            "key-match (the private key does not belong to the leaf certificate)",
        ),
        (
            ("expired.crt", "expired.key"),
            "valid-now (expired on 2021-01-01T00:00:00Z)",
        ),
        (
            ("selfsigned.crt", "selfsigned.key"),
            "cname (`fe.example.com` is not covered",
        ),
        (("rsa.crt", "rsa-encrypted.key"), "is encrypted"),
        (("rsa.key", "rsa.crt"), "expected only `CERTIFICATE` blocks"),
    ];
    for ((cert, key), message) in cases {
        let ctx = demo_with_pair("rsa.crt", "rsa.key");
        let dir = backup_dir(&ctx);
        let out = ctx
            .run::<Certs>(&[
                "rotate",
                "--cert",
                &tls_path(cert),
                "--key",
                &tls_path(key),
                "--yes",
                "--backup-dir",
                dir.to_str().unwrap(),
            ])
            .await;
        assert_code(&out, 1);
        assert!(out.stderr.contains(message), "{cert} + {key}\n{out}");
        assert!(
            requests(&ctx.kube, "PUT").is_empty() && std::fs::read_dir(&dir).unwrap().count() == 0,
            "nothing changed for {cert}"
        );
        assert!(holds(&ctx, "rsa.crt", "rsa.key"));
    }
}

#[tokio::test]
async fn cname_allows_a_deliberate_name_change() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    let dir = backup_dir(&ctx);
    let (cert, key) = (tls_path("selfsigned.crt"), tls_path("selfsigned.key"));
    let base = [
        "rotate",
        "--cert",
        &cert,
        "--key",
        &key,
        "--yes",
        "--backup-dir",
        dir.to_str().unwrap(),
    ];
    let refused = ctx.run::<Certs>(&base).await;
    assert!(refused.stderr.contains("hint: the new certificate must cover the name clients use now; if they will use another name, pass it with --cname"), "{refused}");
    let out = ctx
        .run::<Certs>(
            &[
                &base[..],
                &["--cname", "demo123456.westeurope.cloudapp.azure.com"],
            ]
            .concat(),
        )
        .await;
    assert_code(&out, 0);
    assert!(holds(&ctx, "selfsigned.crt", "selfsigned.key"));
}

#[tokio::test]
async fn a_conflicting_write_is_read_again_backed_up_and_retried() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    // Hold our update while someone else changes the secret.
    ctx.kube.inject(
        Some("PUT"),
        SECRET,
        1,
        Action::Delay(Duration::from_secs(1)),
    );
    let writer = async {
        while requests(&ctx.kube, "PUT").is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ctx.kube
            .update("v1", "Secret", "default", "azuremlfessl", |s| {
                s["metadata"]["labels"] = json!({"edited": "meanwhile"})
            });
    };
    let (out, ()) = tokio::join!(rotate(&ctx, &["--yes"]), writer);
    assert_code(&out, 0);
    assert!(
        out.stderr
            .contains("the secret changed while rotating (attempt 1 of 3): reading it again"),
        "{out}"
    );
    assert_eq!(
        requests(&ctx.kube, "PUT")
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        [409, 200]
    );
    let saved = backups(&ctx);
    assert_eq!(
        saved.len(),
        2,
        "the version written meanwhile was backed up too"
    );
    assert!(saved.iter().any(|b| b.contains("edited: meanwhile")));
    assert!(holds(&ctx, "ec.crt", "ec.key"));
    let secret = ctx
        .kube
        .get("v1", "Secret", "default", "azuremlfessl")
        .unwrap();
    assert_eq!(
        secret["metadata"]["labels"]["edited"], "meanwhile",
        "the other writer's change is kept"
    );
}

#[tokio::test]
async fn a_secret_that_keeps_changing_is_left_alone_after_three_tries() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    ctx.kube.fail_next("PUT", SECRET, 3, 409);
    let out = rotate(&ctx, &["--yes"]).await;
    assert_code(&out, 1);
    assert!(
        out.stderr.contains("error: the secret was not changed"),
        "{out}"
    );
    assert!(holds(&ctx, "rsa.crt", "rsa.key"));
}

#[tokio::test]
async fn an_interrupted_update_leaves_the_old_pair_whole_and_a_rerun_finishes() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    ctx.kube.hang_next("PUT", SECRET, 1);
    let out = rotate(&ctx, &["--yes", "--request-timeout", "1s"]).await;
    assert_code(&out, 5);
    assert!(
        out.stderr.contains("\nerror: the secret was not changed"),
        "{out}"
    );
    assert!(holds(&ctx, "rsa.crt", "rsa.key"), "old pair intact");
    let again = rotate(&ctx, &["--yes"]).await;
    assert_code(&again, 0);
    assert!(holds(&ctx, "ec.crt", "ec.key"));
}

#[tokio::test]
async fn a_failed_restart_says_the_secret_already_changed() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    ctx.kube.fail_next("PATCH", DEPLOYMENT, 1, 500);
    let out = rotate(&ctx, &["--yes"]).await;
    assert_code(&out, 1);
    assert!(
        out.stderr
            .contains("error: the secret holds the new pair (backup: "),
        "{out}"
    );
    assert!(out.stderr.contains("but restarting azureml-fe failed: run `kubectl rollout restart deployment/azureml-fe -n default`"), "{out}");
    assert!(holds(&ctx, "ec.crt", "ec.key"));
}

#[tokio::test]
async fn wait_times_out_when_the_rollout_does_not_finish() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    ctx.kube.set_auto_ready(false);
    let out = rotate(&ctx, &["--yes", "--wait", "--timeout", "1s"]).await;
    assert_code(&out, 5);
    assert!(out.stderr.contains("\nerror: the secret holds the new pair and azureml-fe was restarted, but its rollout did not finish\n  caused by: timed out after 1s waiting for deployment `default/azureml-fe` to finish its rollout"), "{out}");
}

#[tokio::test]
async fn dry_runs_change_nothing() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    let out = rotate(&ctx, &["--dry-run"]).await;
    assert_code(&out, 0);
    assert!(
        ctx.kube.requests().iter().all(|r| r.method == "GET"),
        "client dry run only reads"
    );
    let out = rotate(&ctx, &["--dry-run=server"]).await;
    assert_code(&out, 0);
    let writes: Vec<_> = ctx
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert_eq!(writes.len(), 2, "a PUT and a PATCH, both dry: {writes:?}");
    assert!(
        writes
            .iter()
            .all(|r| r.param("dryRun").as_deref() == Some("All"))
    );
    assert!(holds(&ctx, "rsa.crt", "rsa.key") && backups(&ctx).is_empty());
    assert_eq!(
        ctx.kube
            .get("apps/v1", "Deployment", "default", "azureml-fe")
            .unwrap()["metadata"]["generation"],
        1
    );
}

#[tokio::test]
async fn asks_first_and_refuses_without_a_terminal() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    assert_code(&rotate(&ctx, &[]).await, 2);
    let args = rotate_args(&ctx, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let no = ctx.run_answering::<Certs>(&args, Some("n\n")).await;
    assert_code(&no, 1);
    assert!(
        no.stderr.contains(
            "and restart deployment/azureml-fe? [y/N]: error: cancelled: nothing was changed"
        ),
        "{no}"
    );
    assert!(requests(&ctx.kube, "PUT").is_empty());
}

#[tokio::test]
async fn no_restart_and_a_missing_deployment_restart_nothing() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    let out = rotate(&ctx, &["--yes", "--no-restart"]).await;
    assert_code(&out, 0);
    assert!(requests(&ctx.kube, "PATCH").is_empty(), "{out}");
    ctx.kube
        .delete("apps/v1", "Deployment", "default", "azureml-fe");
    let out = ctx
        .run::<Certs>(&[
            "rotate",
            "--cert",
            &tls_path("rsa.crt"),
            "--key",
            &tls_path("rsa.key"),
            "--yes",
            "--backup-dir",
            ctx.path("backups").to_str().unwrap(),
        ])
        .await;
    assert_code(&out, 0);
    assert!(
        out.stderr
            .contains("warning: no deployment `default/azureml-fe`: nothing to restart"),
        "{out}"
    );
}
