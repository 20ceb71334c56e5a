//! The machine's kubectl against the fake: proof that the fake answers like a real API server.
//!
//! The `kubectl` on our machines is a dispatcher that runs the bundled client whose minor version
//! matches the server's `/version`, so each fake version below also picks a different kubectl; an
//! ordinary kubectl runs the same tests, the version-switching assertion skipped.

use std::process::{Command, Output};

use aml_tests::FakeKube;
use aml_tests::fake_kube::Options;
use serde_json::Value;

use crate::common::{DEMO, kubectl};

fn ok(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kubectl failed: {}\nstdout: {text}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn kubectl_gets_lists_and_prints_yaml() {
    let fake = FakeKube::start();
    fake.seed_yaml(DEMO);
    let dir = tempfile::tempdir().unwrap();
    let secrets = ok(&kubectl(&fake, dir.path(), &["get", "secrets"]));
    assert!(
        secrets.starts_with("NAME") && secrets.contains("azuremlfessl"),
        "{secrets}"
    );
    let yaml = ok(&kubectl(
        &fake,
        dir.path(),
        &["get", "secret/azuremlfessl", "-o", "yaml"],
    ));
    assert!(
        yaml.contains("kind: Secret") && yaml.contains("cert.pem: LS0t"),
        "{yaml}"
    );
    let all = ok(&kubectl(
        &fake,
        dir.path(),
        &[
            "get",
            "deploy",
            "-A",
            "-l",
            "isazuremlapp=true",
            "-o",
            "name",
        ],
    ));
    assert_eq!(all, "deployment.apps/sentiment\n");
    let short = ok(&kubectl(&fake, dir.path(), &["get", "sa,cm", "-o", "name"]));
    assert_eq!(
        short,
        "serviceaccount/azureml-fe\nconfigmap/azuremlfeconfig\n"
    );
}

#[test]
fn kubectl_applies_server_side_scales_and_deletes() {
    if crate::common::kubectl_too_old_to_apply("kubectl apply against the fake") {
        return;
    }
    let fake = FakeKube::start();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("fe.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: azuremlfeconfig}\ndata: {a: '1'}\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: azureml-fe}\nspec:\n  replicas: 2\n  \
         selector: {matchLabels: {app: fe}}\n  template:\n    metadata: {labels: {app: fe}}\n    \
         spec: {containers: [{name: fe, image: 'fe:1'}]}\n",
    )
    .unwrap();
    let applied = ok(&kubectl(
        &fake,
        dir.path(),
        &["apply", "--server-side", "-f", manifest.to_str().unwrap()],
    ));
    assert_eq!(
        applied,
        "configmap/azuremlfeconfig serverside-applied\ndeployment.apps/azureml-fe serverside-applied\n"
    );
    let deployment = fake
        .get("apps/v1", "Deployment", "default", "azureml-fe")
        .unwrap();
    assert_eq!(
        deployment["metadata"]["managedFields"][0]["manager"],
        "kubectl"
    );

    assert_eq!(
        ok(&kubectl(
            &fake,
            dir.path(),
            &["scale", "deploy/azureml-fe", "--replicas=5"]
        )),
        "deployment.apps/azureml-fe scaled\n"
    );
    assert_eq!(
        fake.get("apps/v1", "Deployment", "default", "azureml-fe")
            .unwrap()["spec"]["replicas"],
        5
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.method == "PATCH" && r.path.ends_with("/deployments/azureml-fe/scale"))
    );

    // Re-applying the old replica count now conflicts with kubectl's scale, as on a real cluster.
    let conflict = kubectl(
        &fake,
        dir.path(),
        &["apply", "--server-side", "-f", manifest.to_str().unwrap()],
    );
    assert!(!conflict.status.success());
    assert!(stderr(&conflict).contains("Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"), "{}", stderr(&conflict));

    assert_eq!(
        ok(&kubectl(
            &fake,
            dir.path(),
            &["delete", "cm", "azuremlfeconfig"]
        )),
        "configmap \"azuremlfeconfig\" deleted\n"
    );
    assert!(
        fake.get("v1", "ConfigMap", "default", "azuremlfeconfig")
            .is_none()
    );
    let again = kubectl(&fake, dir.path(), &["delete", "cm", "azuremlfeconfig"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        stderr(&again),
        "Error from server (NotFound): configmaps \"azuremlfeconfig\" not found\n"
    );
    assert_eq!(
        ok(&kubectl(
            &fake,
            dir.path(),
            &["delete", "cm", "azuremlfeconfig", "--ignore-not-found"]
        )),
        ""
    );
}

#[test]
fn kubectl_works_over_https_with_a_bearer_token() {
    let fake = FakeKube::start_with(Options {
        tls: true,
        token: Some("kubectl-token".into()),
        ..Options::default()
    });
    fake.seed_yaml(DEMO);
    let dir = tempfile::tempdir().unwrap();
    let names = ok(&kubectl(
        &fake,
        dir.path(),
        &["get", "deploy", "-n", "ws1", "-o", "name"],
    ));
    assert_eq!(names, "deployment.apps/sentiment\n");
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.auth_scheme.as_deref() == Some("Bearer") && r.status != 401)
    );

    let wrong = dir.path().join("wrong");
    std::fs::write(
        &wrong,
        fake.kubeconfig(None)
            .replace("token: kubectl-token", "token: nope"),
    )
    .unwrap();
    let denied = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&wrong)
        .args(["--cache-dir"])
        .arg(dir.path().join("c2"))
        .args(["get", "cm"])
        .output()
        .unwrap();
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        stderr(&denied).contains("You must be logged in to the server"),
        "{}",
        stderr(&denied)
    );
}

/// Each server version is served to the kubectl at hand; with this machine's dispatcher that is a
/// different client each time, with an ordinary kubectl the same one (the client-switching check is
/// then skipped, and said so).
#[test]
fn each_kubectl_version_finds_its_discovery_flavour() {
    // 1.27–1.29 read aggregated discovery v2beta1 only; 1.30+ prefer v2.
    let mut clients = Vec::new();
    for minor in [27, 29, 33] {
        let fake = FakeKube::start_with(Options {
            minor,
            ..Options::default()
        });
        fake.seed_yaml(DEMO);
        let dir = tempfile::tempdir().unwrap();
        let version: Value =
            serde_json::from_str(&ok(&kubectl(&fake, dir.path(), &["version", "-o", "json"])))
                .unwrap();
        let client: u32 = version["clientVersion"]["minor"]
            .as_str()
            .and_then(|m| m.trim_end_matches('+').parse().ok())
            .expect("kubectl's client minor version");
        clients.push(client);
        let names = ok(&kubectl(
            &fake,
            dir.path(),
            &["get", "deploy,svc", "-o", "name"],
        ));
        assert_eq!(
            names, "deployment.apps/azureml-fe\nservice/azureml-fe\nservice/azureml-fe-int-http\n",
            "kubectl 1.{minor}"
        );
        let accept = fake
            .requests()
            .into_iter()
            .find(|r| r.path == "/apis")
            .unwrap()
            .accept;
        let wanted = if client >= 30 { "v=v2;" } else { "v=v2beta1;" };
        assert!(accept.contains(wanted), "kubectl 1.{client} asked {accept}");
    }
    if clients.windows(2).any(|w| w[0] != w[1]) {
        assert_eq!(
            clients,
            [27, 29, 33],
            "the dispatcher runs the server's kubectl"
        );
    } else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "note: one kubectl (1.{}) for every server version (no version-switching kubectl): \
                 the version-switching assertion is skipped",
                clients[0]
            );
        }
    }
}
