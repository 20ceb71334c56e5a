//! `kubectl aml fe cleanup` when things go wrong or take time: partial failures, hangs, objects
//! held by finalizers, the cascade to the azureml-fe pods, and proof the deletes run together.

use std::time::Duration;

use aml_tests::fake_kube::Action;
use serde_json::{Value, json};

use crate::common::{
    Fe, assert_code, demo_idle, fe, fe_object, fe_present, lines_ending, path_of, requests, row,
};

#[tokio::test]
async fn a_forbidden_object_does_not_stop_the_others_and_a_rerun_finishes() {
    let ctx = demo_idle();
    let secret = path_of(&fe("Secret", "azuremlfessl"), "default");
    ctx.kube.fail_next("DELETE", &secret, 1, 403);
    let out = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    // The one failure is a refusal: exit 3, as every refused verb.
    assert_code(&out, 3);
    assert!(row(&out.stdout, "Secret", "azuremlfessl").contains("failed: secrets \"azuremlfessl\" is forbidden: User \"fake-user\" cannot delete resource \"secrets\""), "{out}");
    assert!(
        row(&out.stdout, "ConfigMap", "azuremlfeconfig").ends_with("deleted"),
        "{out}"
    );
    assert!(out.stderr.contains("error: 1 of 8 azureml-fe objects were not deleted\nhint: fix the cause shown above and run the same command again"), "{out}");
    assert_eq!(fe_present(&ctx.kube, "default"), 1);

    let again = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&again, 0);
    assert!(
        row(&again.stdout, "Secret", "azuremlfessl").ends_with("deleted"),
        "{again}"
    );
    assert_eq!(lines_ending(&again.stdout, "already absent"), 7, "{again}");
}

/// Every DELETE refused: exit 3 (auth), nothing deleted; a refusal and a server error together:
/// exit 1.
#[tokio::test]
async fn every_delete_refused_is_exit_3_and_mixed_failures_exit_1() {
    let objects = [
        ("ServiceAccount", "azureml-fe"),
        ("ClusterRole", "azureml-fe-role"),
        ("ClusterRoleBinding", "azureml-fe-binding"),
        ("Service", "azureml-fe"),
        ("Service", "azureml-fe-int-http"),
        ("Deployment", "azureml-fe"),
        ("Secret", "azuremlfessl"),
        ("ConfigMap", "azuremlfeconfig"),
    ];
    let ctx = demo_idle();
    for (kind, name) in objects {
        ctx.kube
            .fail_next("DELETE", &path_of(&fe(kind, name), "default"), 1, 403);
    }
    let out = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&out, 3);
    assert!(
        out.stderr
            .contains("error: 8 of 8 azureml-fe objects were not deleted"),
        "{out}"
    );
    assert_eq!(fe_present(&ctx.kube, "default"), 8);

    let ctx = demo_idle();
    ctx.kube.fail_next(
        "DELETE",
        &path_of(&fe("Secret", "azuremlfessl"), "default"),
        1,
        403,
    );
    ctx.kube.fail_next(
        "DELETE",
        &path_of(&fe("ConfigMap", "azuremlfeconfig"), "default"),
        1,
        500,
    );
    let out = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&out, 1);
}

#[tokio::test]
async fn a_server_error_on_one_object_is_reported_per_object() {
    let ctx = demo_idle();
    let deployment = path_of(&fe("Deployment", "azureml-fe"), "default");
    ctx.kube.fail_next("DELETE", &deployment, 1, 500);
    let out = ctx
        .run::<Fe>(&["cleanup", "--yes", "--no-backup", "-o", "json"])
        .await;
    assert_code(&out, 1);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["failed"], 1);
    let failed: Vec<&Value> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["result"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["kind"], "Deployment");
    assert_eq!(
        failed[0]["error"],
        "Internal error occurred: injected fault (InternalError, 500)"
    );
    assert_eq!(fe_present(&ctx.kube, "default"), 1);
}

#[tokio::test]
async fn a_hanging_request_times_out_without_holding_up_the_others() {
    let ctx = demo_idle();
    ctx.kube.hang_next(
        "DELETE",
        &path_of(&fe("ServiceAccount", "azureml-fe"), "default"),
        1,
    );
    let out = ctx
        .run::<Fe>(&["cleanup", "--yes", "--no-backup", "--timeout", "1s"])
        .await;
    assert_code(&out, 5); // the one failure ran out of time
    assert!(
        row(&out.stdout, "ServiceAccount", "azureml-fe").ends_with("failed: no answer within 1s"),
        "{out}"
    );
    assert_eq!(lines_ending(&out.stdout, " deleted"), 7, "{out}");
}

#[tokio::test]
async fn deletes_are_sent_together_not_one_after_another() {
    let ctx = demo_idle();
    ctx.kube.inject(
        Some("DELETE"),
        "/*",
        8,
        Action::Delay(Duration::from_millis(300)),
    );
    let out = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&out, 0);
    let deletes = requests(&ctx.kube, "DELETE");
    let last_sent = deletes.iter().map(|r| r.received).max().unwrap();
    let first_answered = deletes.iter().filter_map(|r| r.answered).min().unwrap();
    assert!(
        last_sent < first_answered,
        "all eight DELETEs reached the server before any was answered"
    );
}

#[tokio::test]
async fn waits_until_an_object_held_by_a_finalizer_is_gone() {
    let ctx = demo_idle();
    ctx.kube
        .update("v1", "ConfigMap", "default", "azuremlfeconfig", |cm| {
            cm["metadata"]["finalizers"] = json!(["example.com/hold"])
        });
    let cleanup = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]);
    let controller = async {
        // Play the finalizer's controller: release once the plugin is watching the object, so the
        // deletion reaches it as a watch event.
        let watching = |r: &aml_tests::fake_kube::Recorded| {
            r.param("watch").is_some() && r.path.ends_with("/configmaps")
        };
        while !ctx.kube.requests().iter().any(watching) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ctx.kube
            .update("v1", "ConfigMap", "default", "azuremlfeconfig", |cm| {
                cm["metadata"]["finalizers"] = json!([])
            });
    };
    let (out, ()) = tokio::join!(cleanup, controller);
    assert_code(&out, 0);
    assert!(
        row(&out.stdout, "ConfigMap", "azuremlfeconfig").ends_with("deleted"),
        "{out}"
    );
    assert!(
        ctx.kube
            .get("v1", "ConfigMap", "default", "azuremlfeconfig")
            .is_none()
    );
}

#[tokio::test]
async fn gives_up_waiting_after_the_timeout_or_not_at_all_with_wait_false() {
    let ctx = demo_idle();
    ctx.kube
        .update("v1", "ConfigMap", "default", "azuremlfeconfig", |cm| {
            cm["metadata"]["finalizers"] = json!(["example.com/hold"])
        });
    let out = ctx
        .run::<Fe>(&["cleanup", "--yes", "--no-backup", "--timeout", "1s"])
        .await;
    assert_code(&out, 5); // the wait ran out of time
    assert!(row(&out.stdout, "ConfigMap", "azuremlfeconfig").contains("failed: timed out after 1s waiting for configmap `default/azuremlfeconfig` to be deleted"), "{out}");

    let out = ctx
        .run::<Fe>(&["cleanup", "--yes", "--no-backup", "--wait=false"])
        .await;
    assert_code(&out, 0);
    assert!(
        row(&out.stdout, "ConfigMap", "azuremlfeconfig").ends_with("deleting"),
        "{out}"
    );
}

#[tokio::test]
async fn cascade_chooses_what_happens_to_the_pods() {
    let ctx = demo_idle();
    let uid = fe_object(&ctx.kube, &fe("Deployment", "azureml-fe"), "default").unwrap()["metadata"]
        ["uid"]
        .clone();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "azureml-fe-abc", "namespace": "default",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "azureml-fe", "uid": uid}]},
        "spec": {"containers": [{"name": "fe", "image": "fe"}]}});
    ctx.kube.seed([pod]);
    let out = ctx
        .run::<Fe>(&["cleanup", "--yes", "--no-backup", "--cascade", "orphan"])
        .await;
    assert_code(&out, 0);
    let delete = ctx
        .kube
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE" && r.path.contains("deployments"))
        .unwrap();
    assert_eq!(delete.body["propagationPolicy"], "Orphan");
    let orphan = ctx
        .kube
        .get("v1", "Pod", "default", "azureml-fe-abc")
        .expect("orphaned pod stays");
    assert_eq!(orphan["metadata"].get("ownerReferences"), Some(&json!([])));
}

#[tokio::test]
async fn background_cascade_removes_the_pods_too() {
    let ctx = demo_idle();
    let uid = fe_object(&ctx.kube, &fe("Deployment", "azureml-fe"), "default").unwrap()["metadata"]
        ["uid"]
        .clone();
    ctx.kube.seed([json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "azureml-fe-abc", "namespace": "default",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "azureml-fe", "uid": uid}]}})]);
    let out = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&out, 0);
    assert!(
        ctx.kube
            .get("v1", "Pod", "default", "azureml-fe-abc")
            .is_none()
    );
}

#[tokio::test]
async fn a_secret_replaced_after_its_backup_is_not_deleted() {
    let ctx = demo_idle();
    let dir = crate::common::backup_dir(&ctx);
    let secret = path_of(&fe("Secret", "azuremlfessl"), "default");
    // Hold the secret's DELETE in the server while someone writes a new certificate.
    ctx.kube.inject(
        Some("DELETE"),
        &secret,
        1,
        Action::Delay(Duration::from_secs(2)),
    );
    let args = ["cleanup", "--yes", "--backup-dir", dir.to_str().unwrap()];
    let cleanup = ctx.run::<Fe>(&args);
    let writer = async {
        while !requests(&ctx.kube, "DELETE")
            .iter()
            .any(|r| r.path == secret)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ctx.kube
            .update("v1", "Secret", "default", "azuremlfessl", |s| {
                s["data"]["cert.pem"] = json!("TkVX")
            });
    };
    let (out, ()) = tokio::join!(cleanup, writer);
    assert_code(&out, 1);
    let row = row(&out.stdout, "Secret", "azuremlfessl");
    assert!(row.contains("failed: Operation cannot be fulfilled on secrets \"azuremlfessl\": Precondition failed: ResourceVersion"), "{out}");
    let kept = ctx
        .kube
        .get("v1", "Secret", "default", "azuremlfessl")
        .expect("the new secret is kept");
    assert_eq!(kept["data"]["cert.pem"], "TkVX");

    // Running again saves the new version, then deletes it.
    let again = ctx.run::<Fe>(&args).await;
    assert_code(&again, 0);
    let saved: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(saved.len(), 2);
    assert!(
        saved.iter().any(|text| text.contains("cert.pem: TkVX")),
        "the replacement was backed up too"
    );
    assert!(
        ctx.kube
            .get("v1", "Secret", "default", "azuremlfessl")
            .is_none()
    );
}
