//! `kubectl aml fe cleanup`: the safety rules (model services, backup, confirmation, dry runs) and
//! idempotence. Failures and waits: `fe_cleanup_failures.rs`.

use aml_core::k8s::AZUREML_FE;
use serde_json::{Value, json};

use crate::common::{
    Fe, assert_code, backup_dir, count, demo, demo_idle, fe, fe_present, lines_ending, path_of,
    requests, row,
};

fn backup_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn refuses_while_a_model_service_is_active_and_names_it() {
    let ctx = demo();
    let out = ctx.run::<Fe>(&["cleanup", "--yes"]).await;
    assert_code(&out, 1);
    assert!(
        out.stderr
            .starts_with("error: 1 model service still active: ws1/sentiment (1 replica)\nhint: "),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("kubectl scale deployment/sentiment -n ws1 --replicas=0"),
        "{out}"
    );
    assert_eq!(count(&ctx.kube, "DELETE"), 0);
    assert_eq!(fe_present(&ctx.kube, "default"), 8);
}

#[tokio::test]
async fn deletes_all_eight_once_model_services_are_scaled_to_zero() {
    let ctx = demo_idle();
    let backups = backup_dir(&ctx);
    let out = ctx
        .run::<Fe>(&[
            "cleanup",
            "--yes",
            "--backup-dir",
            backups.to_str().unwrap(),
        ])
        .await;
    assert_code(&out, 0);
    for object in AZUREML_FE {
        assert!(
            row(&out.stdout, object.kind.kind, object.name).ends_with("deleted"),
            "{out}"
        );
    }
    assert_eq!(fe_present(&ctx.kube, "default"), 0);
    assert_eq!(count(&ctx.kube, "DELETE"), 8);
    assert!(
        ctx.kube
            .get("apps/v1", "Deployment", "ws1", "sentiment")
            .is_some(),
        "model services are left alone"
    );
}

#[tokio::test]
async fn force_deletes_while_model_services_are_active_with_a_warning() {
    let ctx = demo();
    let out = ctx
        .run::<Fe>(&["cleanup", "--yes", "--force", "--no-backup"])
        .await;
    assert_code(&out, 0);
    assert!(out.stderr.contains("warning: deleting azureml-fe while model services are active (--force): ws1/sentiment (1 replica)"), "{out}");
    assert_eq!(fe_present(&ctx.kube, "default"), 0);
}

#[tokio::test]
async fn saves_the_tls_secret_to_a_private_restorable_file_before_deleting_it() {
    let ctx = demo_idle();
    let original = ctx
        .kube
        .get("v1", "Secret", "default", "azuremlfessl")
        .unwrap();
    let dir = backup_dir(&ctx);
    let out = ctx
        .run::<Fe>(&[
            "cleanup",
            "--yes",
            "--backup-dir",
            dir.to_str().unwrap(),
            "-o",
            "json",
        ])
        .await;
    assert_code(&out, 0);
    let files = backup_files(&dir);
    assert_eq!(files.len(), 1, "{out}");
    let file = &files[0];
    assert!(
        out.stderr.contains(&format!(
            "saved secret `default/azuremlfessl` to {}",
            file.display()
        )),
        "{out}"
    );
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["backup"], json!(file.display().to_string()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let saved: Value = serde_saphyr::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(saved["data"], original["data"]);
    assert_eq!(
        (saved["kind"].as_str(), saved["metadata"]["name"].as_str()),
        (Some("Secret"), Some("azuremlfessl"))
    );
    assert_eq!(
        saved["metadata"].get("resourceVersion"),
        None,
        "restorable with `kubectl create -f`"
    );
    // Restore it through the API as `kubectl create -f` would, and get the same bytes back.
    ctx.kube.seed([saved]);
    assert_eq!(
        ctx.kube
            .get("v1", "Secret", "default", "azuremlfessl")
            .unwrap()["data"],
        original["data"]
    );
}

#[tokio::test]
async fn no_backup_deletes_the_secret_without_a_file() {
    let ctx = demo_idle();
    let dir = backup_dir(&ctx);
    let out = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&out, 0);
    assert!(
        backup_files(&dir).is_empty() && !out.stderr.contains("saved"),
        "{out}"
    );
    assert_eq!(fe_present(&ctx.kube, "default"), 0);
}

#[tokio::test]
async fn refuses_to_delete_anything_when_the_backup_cannot_be_written() {
    let ctx = demo_idle();
    // A directory nobody, root included, can create files in.
    let out = ctx
        .run::<Fe>(&["cleanup", "--yes", "--backup-dir", "/proc/self"])
        .await;
    assert_code(&out, 1);
    assert!(out.stderr.starts_with("error: refusing to delete anything: the TLS secret could not be backed up\n  caused by: failed to create the backup file `/proc/self/azuremlfessl-default-"), "{out}");
    assert_eq!(count(&ctx.kube, "DELETE"), 0);
    assert_eq!(fe_present(&ctx.kube, "default"), 8);

    // Under a regular file no directory can be made: refused before anything.
    let under_file = ctx.kubeconfig.join("backups");
    let out = ctx
        .run::<Fe>(&[
            "cleanup",
            "--yes",
            "--backup-dir",
            under_file.to_str().unwrap(),
        ])
        .await;
    assert_code(&out, 2);
    assert!(out.stderr.contains("is not a directory and cannot be made one\nhint: pass another --backup-dir, or --no-backup to go on without a copy"), "{out}");
    assert_eq!(count(&ctx.kube, "DELETE"), 0);

    // A missing one is made, 0700, and holds the backup.
    let missing = ctx.path("new/backups");
    let out = ctx
        .run::<Fe>(&[
            "cleanup",
            "--yes",
            "--backup-dir",
            missing.to_str().unwrap(),
        ])
        .await;
    assert_code(&out, 0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&missing).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert_eq!(
        std::fs::read_dir(&missing).unwrap().count(),
        1,
        "the secret's backup"
    );
}

#[tokio::test]
async fn refuses_when_the_secret_cannot_be_read_for_its_backup() {
    let ctx = demo_idle();
    let secret = path_of(&fe("Secret", "azuremlfessl"), "default");
    ctx.kube.fail_next("GET", &secret, 1, 403);
    let out = ctx
        .run::<Fe>(&[
            "cleanup",
            "--yes",
            "--backup-dir",
            ctx.path("").to_str().unwrap(),
        ])
        .await;
    assert_code(&out, 3); // the refused read's code
    assert!(
        out.stderr.contains(
            "cannot read the TLS secret to back it up: secrets \"azuremlfessl\" is forbidden"
        ),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("hint: fix access to the secret, or pass --no-backup"),
        "{out}"
    );
    assert_eq!(count(&ctx.kube, "DELETE"), 0);

    ctx.kube.fail_next("GET", &secret, 1, 403);
    let out = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&out, 0);
    assert_eq!(fe_present(&ctx.kube, "default"), 0);
}

#[tokio::test]
async fn is_idempotent_absent_objects_are_reported_not_errors() {
    let ctx = demo_idle();
    let first = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&first, 0);
    let again = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&again, 0);
    assert_eq!(lines_ending(&again.stdout, "already absent"), 8, "{again}");
}

#[tokio::test]
async fn deletes_what_is_there_and_reports_what_was_not() {
    let ctx = demo_idle();
    // A half-finished script already deleted two of the eight.
    ctx.kube
        .delete("v1", "ConfigMap", "default", "azuremlfeconfig");
    ctx.kube.delete(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "",
        "azureml-fe-role",
    );
    let out = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&out, 0);
    assert!(
        row(&out.stdout, "ConfigMap", "azuremlfeconfig").ends_with("already absent"),
        "{out}"
    );
    assert!(
        row(&out.stdout, "ClusterRole", "azureml-fe-role").ends_with("already absent"),
        "{out}"
    );
    assert_eq!(lines_ending(&out.stdout, " deleted"), 6, "{out}");
    assert_eq!(fe_present(&ctx.kube, "default"), 0);
}

#[tokio::test]
async fn client_dry_run_sends_no_change() {
    let ctx = demo_idle();
    let dir = backup_dir(&ctx);
    let out = ctx
        .run::<Fe>(&[
            "cleanup",
            "--dry-run",
            "--backup-dir",
            dir.to_str().unwrap(),
        ])
        .await;
    assert_code(&out, 0);
    assert_eq!(lines_ending(&out.stdout, "would delete"), 8, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "would save secret `default/azuremlfessl` to {}",
            dir.display()
        )),
        "{out}"
    );
    assert!(
        ctx.kube.requests().iter().all(|r| r.method == "GET"),
        "only reads were sent"
    );
    assert_eq!(fe_present(&ctx.kube, "default"), 8);
    assert!(backup_files(&dir).is_empty());
}

/// A dry run previews while a model serves, saying the real run would refuse; the real run does.
#[tokio::test]
async fn a_dry_run_previews_while_a_model_serves_and_says_the_run_would_refuse() {
    let ctx = demo(); // ws1/sentiment has replicas
    for mode in ["--dry-run", "--dry-run=server"] {
        let out = ctx.run::<Fe>(&["cleanup", mode, "--no-backup"]).await;
        assert_code(&out, 0);
        assert_eq!(
            lines_ending(&out.stdout, "would delete"),
            8,
            "{mode}: {out}"
        );
        assert!(
            out.stderr.contains(
                "warning: the real run would refuse: 1 model service still active: ws1/sentiment"
            ),
            "{mode}: {out}"
        );
    }
    assert_eq!(fe_present(&ctx.kube, "default"), 8);
    let real = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&real, 1);
    assert_eq!(fe_present(&ctx.kube, "default"), 8);
}

#[tokio::test]
async fn server_dry_run_asks_the_server_with_dry_run_all_and_changes_nothing() {
    let ctx = demo_idle();
    let dir = backup_dir(&ctx);
    let out = ctx
        .run::<Fe>(&[
            "cleanup",
            "--dry-run=server",
            "--backup-dir",
            dir.to_str().unwrap(),
        ])
        .await;
    assert_code(&out, 0);
    let deletes = requests(&ctx.kube, "DELETE");
    assert_eq!(deletes.len(), 8);
    assert!(
        deletes
            .iter()
            .all(|r| r.param("dryRun").as_deref() == Some("All")
                || r.body["dryRun"] == json!(["All"])),
        "{deletes:?}"
    );
    assert_eq!(lines_ending(&out.stdout, "would delete"), 8, "{out}");
    assert_eq!(fe_present(&ctx.kube, "default"), 8);
    assert!(backup_files(&dir).is_empty());
}

#[tokio::test]
async fn asks_on_a_terminal_and_acts_only_on_yes() {
    let ctx = demo_idle();
    let out = ctx
        .run_answering::<Fe>(&["cleanup", "--no-backup"], Some("n\n"))
        .await;
    assert_code(&out, 1);
    assert!(out.stderr.contains("  configmap/azuremlfeconfig\nDelete 8 azureml-fe objects? [y/N]: error: cancelled: nothing was deleted"), "{out}");
    assert_eq!(count(&ctx.kube, "DELETE"), 0);

    let out = ctx
        .run_answering::<Fe>(&["cleanup", "--no-backup"], Some("y\n"))
        .await;
    assert_code(&out, 0);
    assert_eq!(fe_present(&ctx.kube, "default"), 0);
}

#[tokio::test]
async fn refuses_without_a_terminal_and_without_yes() {
    let ctx = demo_idle();
    let out = ctx.run::<Fe>(&["cleanup", "--no-backup"]).await;
    assert_code(&out, 2);
    assert!(out.stderr.contains("error: refusing to delete 8 azureml-fe objects without confirmation: stdin is not a terminal\nhint: pass --yes"), "{out}");
    assert_eq!(count(&ctx.kube, "DELETE"), 0);
}

#[tokio::test]
async fn refuses_when_model_services_cannot_be_checked_unless_forced() {
    let ctx = demo_idle();
    ctx.kube
        .fail_next("GET", "/apis/apps/v1/deployments", 1, 403);
    let out = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&out, 3);
    assert!(out.stderr.starts_with("error: cannot tell whether model services are still active\n  caused by: failed to list deployments.apps in all namespaces\n  caused by: deployments.apps is forbidden"), "{out}");
    assert!(out.stderr.contains("hint: check your permissions: `kubectl auth can-i list deployments.apps --all-namespaces`"), "{out}");
    assert_eq!(count(&ctx.kube, "DELETE"), 0);

    ctx.kube
        .fail_next("GET", "/apis/apps/v1/deployments", 1, 403);
    let out = ctx
        .run::<Fe>(&["cleanup", "--yes", "--no-backup", "--force"])
        .await;
    assert_code(&out, 0);
    assert!(
        out.stderr
            .contains("warning: cannot check for active model services (--force given, going on)"),
        "{out}"
    );
}
