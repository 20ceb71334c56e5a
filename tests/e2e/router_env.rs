//! Helpers for the router suites: a fake cluster with model services whose replicas are real
//! local servers, the router as a process, and `curl` as the client.

use std::process::Command;
use std::time::{Duration, Instant};

use aml_tests::TestContext;
use aml_tests::model_server::ModelServer;
use aml_tests::router::{self, RouterProcess};
use serde_json::Value;

/// The fe plugin's binary under its test name.
pub const FE: &str = env!("CARGO_BIN_EXE_aml-fe-dup");
/// Keys of every test service.
pub const PRIMARY: &str = "primary-key-0123456789";
pub const SECONDARY: &str = "secondary-key-9876543210";

/// A fake cluster with namespace `ws1`.
pub fn cluster() -> TestContext {
    let ctx = TestContext::new();
    ctx.kube.seed([router::namespace("ws1")]);
    ctx
}

/// Seeds v1 service `name` in `ws1` with its keys and `replicas` ready replicas `<name>-0`…, each
/// a running server; returns the servers.
pub fn v1_service(
    ctx: &TestContext,
    name: &str,
    replicas: usize,
    annotations: &[(&str, &str)],
) -> Vec<ModelServer> {
    let deployment = router::v1_deployment("ws1", name, annotations);
    ctx.kube.seed([
        deployment.clone(),
        router::keys_secret("ws1", &format!("{name}-keys"), PRIMARY, SECONDARY),
    ]);
    add_replicas(ctx, &deployment, name, 0..replicas)
}

/// Seeds v2 deployment `deployment` of endpoint `endpoint` in `ws1` (Deployment
/// `<endpoint>-<deployment>`, its keys) with `replicas` ready replicas.
pub fn v2_deployment(
    ctx: &TestContext,
    endpoint: &str,
    deployment: &str,
    replicas: usize,
    annotations: &[(&str, &str)],
) -> Vec<ModelServer> {
    let object = router::v2_deployment("ws1", endpoint, deployment, annotations);
    let name = format!("{endpoint}-{deployment}");
    ctx.kube.seed([
        object.clone(),
        router::keys_secret("ws1", &format!("{name}-keys"), PRIMARY, SECONDARY),
    ]);
    add_replicas(ctx, &object, &name, 0..replicas)
}

/// Starts servers `<prefix>-<i>` and seeds their Ready pods.
pub fn add_replicas(
    ctx: &TestContext,
    deployment: &Value,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> Vec<ModelServer> {
    range
        .map(|i| {
            let name = format!("{prefix}-{i}");
            let server = ModelServer::start(&name);
            ctx.kube
                .seed([router::pod_of(deployment, &name, server.port(), true)]);
            server
        })
        .collect()
}

/// The router, serving this cluster.
pub fn start(ctx: &TestContext, extra: &[&str]) -> RouterProcess {
    RouterProcess::start(FE, &ctx.kubeconfig, extra)
}

/// `http://<router>/api/v1/service/<name>/score`.
pub fn score_url(router: &RouterProcess, name: &str) -> String {
    format!("http://{}/api/v1/service/{name}/score", router.http)
}

/// What curl got.
#[derive(Debug)]
pub struct Curled {
    /// Status of the final answer (after any `100 Continue`).
    pub status: u16,
    /// Its headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: String,
}

impl Curled {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Runs the machine's `curl -s -i` with these arguments.
pub fn curl(args: &[&str]) -> Curled {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "30"])
        .args(args)
        .output()
        .expect("run curl (a prerequisite of the tests)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut rest = text.as_str();
    loop {
        let (head, body) = rest
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("curl got no answer: {text:?} {out:?}"));
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        if (100..200).contains(&status) {
            rest = body;
            continue;
        }
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        return Curled {
            status,
            headers,
            body: body.to_string(),
        };
    }
}

/// `curl -X POST` with the primary key and a small JSON body, plus `extra` arguments.
pub fn score(url: &str, extra: &[&str]) -> Curled {
    post(url, r#"{"data":[[1,2,3]]}"#, extra)
}

/// `curl -X POST --data-binary <data>` with the primary key (`data` may be `@file`).
pub fn post(url: &str, data: &str, extra: &[&str]) -> Curled {
    let auth = format!("Authorization: Bearer {PRIMARY}");
    let json = "Content-Type: application/json";
    let mut args = vec!["-X", "POST", "-H", &auth, "-H", json, "--data-binary", data];
    args.extend_from_slice(extra);
    args.push(url);
    curl(&args)
}

/// Polls `check` every 20 ms until it holds, at most `within`.
pub fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what}: not within {within:?}");
}

/// Resident set of a process, KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

/// Peak resident set of a process, KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmHWM:")
}

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .expect("field")
}
