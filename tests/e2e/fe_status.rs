//! `kubectl aml fe status`.

use aml_tests::TestContext;
use serde_json::Value;

use crate::common::{DEMO, Fe, assert_code, demo, row};

#[tokio::test]
async fn status_shows_each_object_and_model_services_per_namespace() {
    let ctx = demo();
    let out = ctx.run::<Fe>(&["status"]).await;
    assert_code(&out, 0);
    assert!(
        row(&out.stdout, "Deployment", "azureml-fe")
            .contains("3/3 ready, image mcr.microsoft.com/azureml/azureml-fe:demo"),
        "{out}"
    );
    assert!(
        row(&out.stdout, "Service", "azureml-fe").contains("LoadBalancer 10.96."),
        "{out}"
    );
    assert!(
        row(&out.stdout, "Service", "azureml-fe").contains("external 20.61.10.24"),
        "{out}"
    );
    assert!(
        row(&out.stdout, "Service", "azureml-fe-int-http").contains("ClusterIP 10.96."),
        "{out}"
    );
    assert!(
        row(&out.stdout, "Secret", "azuremlfessl").ends_with("keys: cert.pem, key.pem"),
        "{out}"
    );
    assert!(
        row(&out.stdout, "ClusterRole", "azureml-fe-role").contains("present"),
        "{out}"
    );
    assert!(out.stdout.contains("NAMESPACE   MODEL SERVICES   ACTIVE   REPLICAS\nws1         1                1        1"), "{out}");
    assert_eq!(out.stderr, "", "stderr carries nothing on success");
}

#[tokio::test]
async fn status_never_shows_secret_values() {
    let ctx = demo();
    let secret = ctx
        .kube
        .get("v1", "Secret", "default", "azuremlfessl")
        .unwrap();
    let cert = secret["data"]["cert.pem"].as_str().unwrap().to_string();
    for format in ["table", "wide", "json", "yaml"] {
        let out = ctx.run::<Fe>(&["status", "-o", format]).await;
        assert_code(&out, 0);
        assert!(
            !out.stdout.contains(&cert[..40]) && !out.stdout.contains("BEGIN"),
            "-o {format} leaked the secret\n{out}"
        );
    }
}

#[tokio::test]
async fn status_reports_absent_objects_on_an_empty_cluster() {
    let ctx = TestContext::new();
    let out = ctx.run::<Fe>(&["status"]).await;
    assert_code(&out, 0);
    assert_eq!(
        out.stdout
            .lines()
            .filter(|l| l.contains(" absent "))
            .count(),
        8,
        "{out}"
    );
    assert!(
        out.stdout
            .contains("none found (no Deployment labelled isazuremlapp=true)"),
        "{out}"
    );
}

#[tokio::test]
async fn status_json_is_for_scripts() {
    let ctx = demo();
    let out = ctx.run::<Fe>(&["status", "-o", "json"]).await;
    assert_code(&out, 0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["namespace"], "default");
    assert_eq!(report["objects"].as_array().unwrap().len(), 8);
    let deployment = &report["objects"][5];
    assert_eq!(
        (deployment["kind"].as_str(), deployment["status"].as_str()),
        (Some("Deployment"), Some("present"))
    );
    assert_eq!(deployment["details"]["readyReplicas"], 3);
    assert_eq!(
        report["objects"][1]["namespace"],
        Value::Null,
        "ClusterRole is cluster-scoped"
    );
    assert_eq!(
        report["objects"][6]["details"]["keys"],
        serde_json::json!(["cert.pem", "key.pem"])
    );
    assert_eq!(
        report["modelServices"][0]["services"][0]["name"],
        "sentiment"
    );
    assert_eq!(report["modelServices"][0]["active"], 1);
}

#[tokio::test]
async fn status_name_output_lists_present_objects_like_kubectl() {
    let ctx = demo();
    let out = ctx.run::<Fe>(&["status", "-o", "name"]).await;
    assert_code(&out, 0);
    assert!(
        out.stdout.starts_with(
            "serviceaccount/azureml-fe\nclusterrole.rbac.authorization.k8s.io/azureml-fe-role\n"
        ),
        "{out}"
    );
    assert!(out.stdout.contains("deployment.apps/azureml-fe\n"), "{out}");
}

#[tokio::test]
async fn status_reads_the_namespace_from_the_flag_or_the_context() {
    let ctx = TestContext::new();
    ctx.kube
        .seed_yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: azureml}");
    ctx.kube
        .seed_yaml(&DEMO.replace("namespace: default", "namespace: azureml"));
    let out = ctx
        .run::<Fe>(&["status", "-n", "azureml", "-o", "json"])
        .await;
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["objects"][0]["status"], "present", "{out}");

    let kubeconfig = ctx.path("azureml-context");
    ctx.kube
        .write_kubeconfig(&kubeconfig, Some("azureml"))
        .unwrap();
    let flag = kubeconfig.to_str().unwrap();
    let out = ctx
        .run::<Fe>(&["status", "--kubeconfig", flag, "-o", "json"])
        .await;
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (
            report["namespace"].as_str(),
            report["objects"][0]["status"].as_str()
        ),
        (Some("azureml"), Some("present")),
        "{out}"
    );
}

#[tokio::test]
async fn status_marks_unreadable_objects_and_exits_1() {
    let ctx = demo();
    ctx.kube.fail_next(
        "GET",
        "/api/v1/namespaces/default/secrets/azuremlfessl",
        1,
        403,
    );
    let out = ctx.run::<Fe>(&["status"]).await;
    assert_code(&out, 1);
    let secret = row(&out.stdout, "Secret", "azuremlfessl");
    assert!(
        secret.contains("unknown") && secret.contains("secrets \"azuremlfessl\" is forbidden"),
        "{out}"
    );
    assert!(
        row(&out.stdout, "ConfigMap", "azuremlfeconfig").contains("present"),
        "the other rows are still shown\n{out}"
    );
    assert!(
        out.stderr.starts_with(
            "error: incomplete status for namespace `default`\n  caused by: could not read 1 of 8"
        ),
        "{out}"
    );
}

#[tokio::test]
async fn request_timeout_bounds_each_request() {
    let ctx = demo();
    ctx.kube
        .hang_next("GET", "/api/v1/namespaces/default/secrets/azuremlfessl", 1);
    let out = ctx.run::<Fe>(&["status", "--request-timeout", "1s"]).await;
    assert_code(&out, 1);
    let secret = row(&out.stdout, "Secret", "azuremlfessl");
    assert!(
        secret.contains("unknown") && secret.to_lowercase().contains("timed out"),
        "{out}"
    );
    assert!(
        row(&out.stdout, "ConfigMap", "azuremlfeconfig").contains("present"),
        "{out}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_exit_5() {
    let ctx = demo();
    ctx.kube
        .inject(Some("GET"), "/*", 100, aml_tests::fake_kube::Action::Hang);
    let out = ctx.run::<Fe>(&["status", "--request-timeout", "1s"]).await;
    assert_code(&out, 5);
    assert!(
        out.stderr
            .starts_with("error: cannot read the azureml-fe objects in namespace `default`"),
        "{out}"
    );
    assert!(
        out.stderr.contains(
            "hint: the API server did not answer in time: retry, or raise --request-timeout"
        ),
        "{out}"
    );
}

#[tokio::test]
async fn model_services_are_counted_across_list_pages() {
    let ctx = demo();
    let services: Vec<Value> = (0..501)
        .map(|i| {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": format!("m{i:03}"), "namespace": "ws1", "labels": {"isazuremlapp": "true"}},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "m"}},
                         "template": {"metadata": {"labels": {"app": "m"}}}}})
        })
        .collect();
    ctx.kube.seed(services);
    let out = ctx.run::<Fe>(&["status", "-o", "json"]).await;
    assert_code(&out, 0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        report["modelServices"][0]["services"]
            .as_array()
            .unwrap()
            .len(),
        502,
        "501 seeded + sentiment"
    );
    assert_eq!(report["modelServices"][0]["active"], 1);
    let lists: Vec<_> = ctx
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.path == "/apis/apps/v1/deployments")
        .collect();
    assert_eq!(lists.len(), 2, "two pages of 500");
    assert!(lists[1].param("continue").is_some());
}

/// A namespace the API server would refuse is refused before any request, in every plugin.
#[tokio::test]
async fn an_invalid_namespace_is_exit_2_before_any_request() {
    let ctx = TestContext::new();
    for bad in ["Bad_NS", "a.b", "x-", &"n".repeat(64)] {
        let before = ctx.kube.requests().len();
        let out = ctx.run::<Fe>(&["status", "-n", bad]).await;
        assert_code(&out, 2);
        assert!(out.stderr.contains("is not a valid namespace"), "{out}");
        let scale = ctx
            .run::<kubectl_aml_scale::Cli>(&["status", "-n", bad])
            .await;
        assert_code(&scale, 2);
        let certs = ctx
            .run::<kubectl_aml_certs::Cli>(&["inspect", "-n", bad])
            .await;
        assert_code(&certs, 2);
        assert_eq!(ctx.kube.requests().len(), before, "{bad}: nothing sent");
    }
    // Object names the API server would refuse, likewise.
    let before = ctx.kube.requests().len();
    for args in [
        &["inspect", "--secret", "Bad_Name"][..],
        &["rotate", "--cert", "c", "--key", "k", "--deployment", "x-"][..],
    ] {
        let out = ctx.run::<kubectl_aml_certs::Cli>(args).await;
        assert_code(&out, 2);
        assert!(out.stderr.contains("is not a valid object name"), "{out}");
    }
    let out = ctx
        .run::<kubectl_aml_scale::Cli>(&["status", "--lease-name", "a..b/c"])
        .await;
    assert_code(&out, 2);
    assert_eq!(ctx.kube.requests().len(), before, "nothing sent");
}
