//! `kubectl aml fe install`: the eight objects applied server-side, a re-run that changes nothing,
//! manifests for GitOps that the real kubectl applies, the refusal over a foreign azureml-fe, the
//! autoscaler's changes kept, bad input refused before anything is sent, and `fe status`.

use std::process::{Command, Stdio};

use aml_core::k8s::AZUREML_FE;
use aml_tests::TestContext;
use serde_json::{Value, json};

use crate::common::{Fe, assert_code, backup_dir, count, demo, fe_present, tls_path};

fn install_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["install"];
    args.extend_from_slice(extra);
    args
}

fn deployment(ctx: &TestContext) -> Value {
    ctx.kube
        .get("apps/v1", "Deployment", "default", "azureml-fe")
        .expect("the router's Deployment")
}

#[tokio::test]
async fn installs_the_eight_objects_and_a_rerun_changes_nothing() {
    let ctx = TestContext::new();
    let (cert, key) = (tls_path("rsa-chain.crt"), tls_path("rsa.key"));
    let args = install_args(&["--cert", &cert, "--key", &key]);
    let out = ctx.run::<Fe>(&args).await;
    assert_code(&out, 0);
    for object in AZUREML_FE {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with(&object.kubectl_name()));
        assert!(line.is_some_and(|l| l.ends_with("created")), "{out}");
    }
    assert_eq!(fe_present(&ctx.kube, "default"), 8);
    let d = deployment(&ctx);
    assert_eq!(d["spec"]["replicas"], 3, "FastProd: three routers");
    assert_eq!(d["metadata"]["managedFields"][0]["manager"], "kubectl-aml");
    let secret = ctx
        .kube
        .get("v1", "Secret", "default", "azuremlfessl")
        .unwrap();
    assert!(secret["data"]["cert.pem"].is_string() && secret["data"]["key.pem"].is_string());
    assert!(!out.stdout.contains("PRIVATE KEY") && !out.stderr.contains("PRIVATE KEY"));
    let versions: Vec<Value> = AZUREML_FE
        .iter()
        .map(|o| crate::common::fe_object(&ctx.kube, o, "default").unwrap()["metadata"]["resourceVersion"].clone())
        .collect();

    let again = ctx.run::<Fe>(&args).await;
    assert_code(&again, 0);
    assert_eq!(again.stdout.matches("unchanged").count(), 8, "{again}");
    // The secret already holds the given pair: nothing is replaced, so nothing is backed up.
    assert!(!again.stderr.contains("saved secret"), "{again}");
    let after: Vec<Value> = AZUREML_FE
        .iter()
        .map(|o| crate::common::fe_object(&ctx.kube, o, "default").unwrap()["metadata"]["resourceVersion"].clone())
        .collect();
    assert_eq!(versions, after, "a re-run writes nothing new");
    // …and `fe cleanup` removes exactly what install put in place.
    let gone = ctx.run::<Fe>(&["cleanup", "--yes", "--no-backup"]).await;
    assert_code(&gone, 0);
    assert_eq!(fe_present(&ctx.kube, "default"), 0);
}

#[tokio::test]
async fn dry_run_client_prints_manifests_the_real_kubectl_applies_and_sends_nothing() {
    let ctx = TestContext::new();
    let (cert, key) = (tls_path("ec.crt"), tls_path("ec.key"));
    let args = install_args(&[
        "--cert",
        &cert,
        "--key",
        &key,
        "--dry-run=client",
        "-o",
        "yaml",
        "--cluster-purpose",
        "DevTest",
        "--load-balancer-type",
        "InternalLoadBalancer",
        "--load-balancer-subnet",
        "inference",
    ]);
    let out = ctx.run::<Fe>(&args).await;
    assert_code(&out, 0);
    assert_eq!(ctx.kube.requests().len(), 0, "client dry run sends nothing");
    // One document: a v1 List of the eight objects, as kubectl prints several objects.
    let list: Value = serde_saphyr::from_str(&out.stdout).expect("one YAML document");
    assert_eq!(list["kind"], "List", "{out}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(8), "{out}");
    assert!(
        !out.stdout.contains("PRIVATE KEY"),
        "the key needs --show-secrets"
    );
    assert!(
        out.stdout
            .contains("azure-load-balancer-internal-subnet: inference"),
        "{out}"
    );

    let mut shown = args.clone();
    shown.push("--show-secrets");
    let manifests = ctx.run::<Fe>(&shown).await;
    assert_code(&manifests, 0);
    assert!(manifests.stdout.contains("PRIVATE KEY"));
    let mut kubectl = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&ctx.kubeconfig)
        .args([
            "apply",
            "--server-side",
            "--field-manager",
            "kubectl-aml",
            // kubectl validates a `List` against the OpenAPI v2 schema (its v3 check skips Lists;
            // 1.27/1.28 use v2 for everything), which it reads as protobuf and the fake does not
            // serve. Without client-side validation every kubectl applies; what was applied is
            // checked below.
            "--validate=false",
            "-f",
            "-",
        ])
        .env_remove("KUBECONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    use std::io::Write as _;
    kubectl
        .stdin
        .take()
        .unwrap()
        .write_all(manifests.stdout.as_bytes())
        .unwrap();
    let applied = kubectl.wait_with_output().unwrap();
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    assert_eq!(fe_present(&ctx.kube, "default"), 8);
    assert_eq!(
        deployment(&ctx)["spec"]["replicas"],
        1,
        "DevTest: one router"
    );
    // What kubectl applied is what install applies: a real install now finds nothing to change.
    let out = ctx
        .run::<Fe>(&install_args(&[
            "--cert",
            &cert,
            "--key",
            &key,
            "--cluster-purpose",
            "dev-test",
            "--load-balancer-type",
            "InternalLoadBalancer",
            "--load-balancer-subnet",
            "inference",
        ]))
        .await;
    assert_code(&out, 0);
    assert_eq!(out.stdout.matches("unchanged").count(), 8, "{out}");
}

#[tokio::test]
async fn refuses_over_a_foreign_azureml_fe_and_force_backs_its_secret_up_first() {
    let ctx = demo();
    let before = ctx.kube.requests().len();
    let out = ctx.run::<Fe>(&["install"]).await;
    assert_code(&out, 1);
    assert!(
        out.stderr.starts_with(
            "error: an azureml-fe that kubectl-aml did not install is in namespace `default`"
        ),
        "{out}"
    );
    assert!(out.stderr.contains("--force"), "{out}");
    assert_eq!(count(&ctx.kube, "PATCH"), 0);
    assert!(ctx.kube.requests().len() > before, "it read the objects");

    let backups = backup_dir(&ctx);
    let out = ctx
        .run::<Fe>(&[
            "install",
            "--force",
            "--yes",
            "--backup-dir",
            backups.to_str().unwrap(),
        ])
        .await;
    assert_code(&out, 0);
    let files: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{out}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("secret/azuremlfessl") && l.ends_with("kept")),
        "{out}"
    );
    let d = deployment(&ctx);
    assert_eq!(
        d["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubectl-aml"
    );
    // Taken over: a plain re-run no longer refuses.
    assert_code(&ctx.run::<Fe>(&["install"]).await, 0);
}

#[tokio::test]
async fn a_reinstall_keeps_what_the_routers_autoscaler_changed() {
    let ctx = TestContext::new();
    assert_code(&ctx.run::<Fe>(&["install"]).await, 0);
    // The router's leader scales itself: more pods through the scale subresource, more CPU by a
    // strategic patch — each as its own field manager, as `fe serve` does.
    ctx.kube
        .update("apps/v1", "Deployment", "default", "azureml-fe", |d| {
            d["spec"]["replicas"] = json!(5);
            d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] =
                json!("2");
            d["metadata"]["managedFields"].as_array_mut().unwrap().push(
                json!({"manager": "kubectl-aml-fe", "operation": "Update", "apiVersion": "apps/v1",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}),
            );
        });
    let out = ctx.run::<Fe>(&["install"]).await;
    assert_code(&out, 0);
    let d = deployment(&ctx);
    assert_eq!(d["spec"]["replicas"], 5, "{out}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "2"
    );
    // A new purpose starts the sizes over: dev-test runs one router on 900m.
    let out = ctx
        .run::<Fe>(&["install", "--cluster-purpose", "dev-test"])
        .await;
    assert_code(&out, 0);
    let d = deployment(&ctx);
    assert_eq!(d["spec"]["replicas"], 1, "{out}");
    let cpu = &d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"];
    assert_eq!(cpu, "900m");
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let ctx = TestContext::new();
    let (rsa, other, expired) = (
        tls_path("rsa.crt"),
        tls_path("other.key"),
        tls_path("expired.crt"),
    );
    let expired_key = tls_path("expired.key");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--image", "ghcr.io/Org/Router:1"],
            "is not an image reference",
        ),
        (vec!["--image", "router:"], "bad tag"),
        (
            vec!["--load-balancer-subnet", "s1"],
            "applies only to an internal load balancer",
        ),
        (vec!["--cert", &rsa, "--key", &other], "key-match"),
        (vec!["--cert", &expired, "--key", &expired_key], "valid-now"),
        (
            vec!["--cert", "/nonexistent.pem", "--key", &other],
            "nonexistent.pem",
        ),
        (vec!["--cluster-purpose", "Production"], "invalid value"),
        (vec!["--show-secret"], "--dry-run=client"),
        (vec!["--timeout", "0"], "greater than 0"),
    ];
    for (extra, says) in cases {
        let out = ctx.run::<Fe>(&install_args(&extra)).await;
        assert_code(&out, 2);
        assert!(out.stderr.contains(says), "{extra:?}: {out}");
        assert_eq!(
            out.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "{out}"
        );
    }
    assert_eq!(ctx.kube.requests().len(), 0, "nothing read or sent");
}

#[tokio::test]
async fn wait_returns_once_the_router_is_available_and_status_says_it_is_ours() {
    let ctx = TestContext::new();
    ctx.kube.seed([json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "azureml-fe-autoscaler", "namespace": "default"},
        "spec": {"holderIdentity": "azureml-fe-7d9c-abcde", "leaseDurationSeconds": 15},
    })]);
    let out = ctx
        .run::<Fe>(&[
            "install",
            "--wait",
            "--timeout",
            "20s",
            "--cluster-purpose",
            "dev-test",
        ])
        .await;
    assert_code(&out, 0);
    assert!(out.stderr.contains("serves HTTP only"), "{out}");
    let status = ctx.run::<Fe>(&["status", "-o", "json"]).await;
    assert_code(&status, 0);
    let report: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(report["router"]["installedBy"], "kubectl-aml");
    assert_eq!(report["router"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["router"]["leader"], "azureml-fe-7d9c-abcde");
    let foreign = demo();
    let status = foreign.run::<Fe>(&["status", "-o", "json"]).await;
    let report: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(report["router"]["installedBy"], "other");
}
