//! Helpers shared by the end-to-end tests.

use aml_core::k8s::{AZUREML_FE, FeObject};
use aml_tests::{FakeKube, Outcome, TestContext};
use serde_json::Value;

/// The demo installation: the eight azureml-fe objects in `default`, model service `ws1/sentiment`.
pub const DEMO: &str = include_str!("../../scripts/demo/azureml-fe.yaml");

/// `kubectl aml fe`.
pub type Fe = kubectl_aml_fe::Cli;

/// A fake cluster seeded with the demo installation.
pub fn demo() -> TestContext {
    let ctx = TestContext::new();
    ctx.kube.seed_yaml(DEMO);
    ctx
}

/// The demo, with its model service scaled to zero so cleanup may proceed.
pub fn demo_idle() -> TestContext {
    let ctx = demo();
    scale(&ctx.kube, "ws1", "sentiment", 0);
    ctx
}

/// Sets a Deployment's replicas directly in the fake.
pub fn scale(kube: &FakeKube, namespace: &str, name: &str, replicas: i64) {
    kube.update("apps/v1", "Deployment", namespace, name, |d| {
        d["spec"]["replicas"] = replicas.into()
    });
}

fn api_version(object: &FeObject) -> String {
    if object.kind.group.is_empty() {
        object.kind.version.to_string()
    } else {
        format!("{}/{}", object.kind.group, object.kind.version)
    }
}

/// The stored state of one azureml-fe object in `namespace`.
pub fn fe_object(kube: &FakeKube, object: &FeObject, namespace: &str) -> Option<Value> {
    kube.get(
        &api_version(object),
        object.kind.kind,
        if object.kind.namespaced {
            namespace
        } else {
            ""
        },
        object.name,
    )
}

/// How many of the eight azureml-fe objects exist in `namespace`.
pub fn fe_present(kube: &FakeKube, namespace: &str) -> usize {
    AZUREML_FE
        .iter()
        .filter(|o| fe_object(kube, o, namespace).is_some())
        .count()
}

/// The API path of an azureml-fe object.
pub fn path_of(object: &FeObject, namespace: &str) -> String {
    let base = if object.kind.group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{}/{}", object.kind.group, object.kind.version)
    };
    match object.kind.namespaced {
        true => format!(
            "{base}/namespaces/{namespace}/{}/{}",
            object.kind.plural, object.name
        ),
        false => format!("{base}/{}/{}", object.kind.plural, object.name),
    }
}

/// The azureml-fe object with this kind and name.
pub fn fe(kind: &str, name: &str) -> FeObject {
    *AZUREML_FE
        .iter()
        .find(|o| o.kind.kind == kind && o.name == name)
        .expect("an azureml-fe object")
}

/// The requests with this method the fake has seen.
pub fn requests(kube: &FakeKube, method: &str) -> Vec<aml_tests::fake_kube::Recorded> {
    kube.requests()
        .into_iter()
        .filter(|r| r.method == method)
        .collect()
}

/// How many requests with this method the fake has seen.
pub fn count(kube: &FakeKube, method: &str) -> usize {
    requests(kube, method).len()
}

/// A new empty directory in the test's temp dir, for `--backup-dir`.
pub fn backup_dir(ctx: &TestContext) -> std::path::PathBuf {
    let dir = ctx.path("backups");
    std::fs::create_dir(&dir).expect("backup dir");
    dir
}

/// How many lines of `text` end with `suffix` (e.g. report rows with a given result).
pub fn lines_ending(text: &str, suffix: &str) -> usize {
    text.lines().filter(|l| l.ends_with(suffix)).count()
}

/// Asserts the exit code, showing the whole outcome when it differs.
#[track_caller]
pub fn assert_code(outcome: &Outcome, code: u8) {
    assert_eq!(outcome.code, code, "unexpected exit code\n{outcome}");
}

/// The row for `name` of `kind` in a table.
pub fn row<'a>(table: &'a str, kind: &str, name: &str) -> &'a str {
    table
        .lines()
        .find(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.first() == Some(&kind) && cells.get(1) == Some(&name)
        })
        .unwrap_or_else(|| panic!("no row for {kind} {name} in\n{table}"))
}

/// `kubectl aml certs`.
pub type Certs = kubectl_aml_certs::Cli;

/// The path of an openssl-made fixture in `tests/fixtures/tls`.
pub fn tls_fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tls")
        .join(name)
}

/// The path of a TLS fixture, as a flag value.
pub fn tls_path(name: &str) -> String {
    tls_fixture(name).display().to_string()
}

/// The text of a TLS fixture.
pub fn tls_text(name: &str) -> String {
    std::fs::read_to_string(tls_fixture(name)).expect("fixture")
}

/// Base64, as secret data holds it.
pub fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Replaces the `data` of the demo's `default/azuremlfessl` secret.
pub fn set_secret_data(kube: &FakeKube, data: Value) {
    kube.update("v1", "Secret", "default", "azuremlfessl", |s| {
        s["data"] = data
    });
}

/// The demo with `azuremlfessl` holding the fixtures `cert` and `key`.
pub fn demo_with_pair(cert: &str, key: &str) -> TestContext {
    let ctx = demo();
    set_secret_data(
        &ctx.kube,
        serde_json::json!({"cert.pem": b64(&tls_text(cert)), "key.pem": b64(&tls_text(key))}),
    );
    ctx
}

/// The decoded value of a key of the demo's TLS secret.
pub fn secret_text(kube: &FakeKube, key: &str) -> String {
    use base64::Engine;
    let secret = kube
        .get("v1", "Secret", "default", "azuremlfessl")
        .expect("secret");
    let encoded = secret["data"][key].as_str().unwrap_or_default().to_string();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64"),
    )
    .expect("utf-8")
}

/// `kubectl aml attach`.
pub type Attach = kubectl_aml_attach::Cli;

/// `kubectl aml deploy`.
pub type Deploy = kubectl_aml_deploy::Cli;

/// A plugin binary run as a process against the test's fake ARM (through its az setup) and
/// kubeconfig, with nothing else from this process's environment.
pub fn run_plugin(binary: &str, ctx: &TestContext, args: &[&str]) -> std::process::Output {
    plugin_command(binary, ctx, args).output().unwrap()
}

/// The command [`run_plugin`] runs, for a test that starts it and stops it half-way.
pub fn plugin_command(binary: &str, ctx: &TestContext, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(binary);
    command
        .args(args)
        .env_clear()
        .env("HOME", ctx.dir.path())
        .env("KUBECONFIG", &ctx.kubeconfig)
        .env("AML_POLL_INTERVAL", "0.01")
        .env("AML_RETRY_BACKOFF", "0.01")
        .env("NO_COLOR", "1");
    // Cluster-only tests have no fake ARM and no az.
    if let Some((_, azure)) = &ctx.arm {
        command
            .env("AZURE_CONFIG_DIR", &azure.config_dir)
            .env("PATH", azure.path());
    }
    command
}

/// A process's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The minor version of the `kubectl` on PATH as a client (`None` if it cannot say).
pub fn kubectl_minor() -> Option<u32> {
    let out = std::process::Command::new("kubectl")
        .args(["version", "--client", "-o", "json"])
        .output()
        .ok()?;
    let version: Value = serde_json::from_slice(&out.stdout).ok()?;
    version["clientVersion"]["minor"]
        .as_str()?
        .trim_end_matches('+')
        .parse()
        .ok()
}

/// Whether the `kubectl` on PATH is too old for `kubectl apply` against the fake (1.27 and 1.28 read
/// OpenAPI v2, which the fake does not serve); says so on stderr when it is.
pub fn kubectl_too_old_to_apply(what: &str) -> bool {
    let old = kubectl_minor().is_some_and(|m| m < 29);
    if old {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "note: kubectl older than 1.29 here: {what} is skipped (it needs OpenAPI v2)"
            );
        }
    }
    old
}

/// Runs kubectl with its own kubeconfig and a fresh discovery cache.
pub fn kubectl(fake: &FakeKube, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let kubeconfig = dir.join("kubeconfig");
    if !kubeconfig.exists() {
        fake.write_kubeconfig(&kubeconfig, None).unwrap();
    }
    std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl must be installed (see README: the machine provides it)")
}
