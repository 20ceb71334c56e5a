//! A fake Azure Resource Manager for the Azure ML compute workflows, checked against the official
//! OpenAPI specs (`tests/fixtures/arm-specs`).
//!
//! Every request is recorded, must carry the expected bearer token (401 otherwise), may meet an
//! injected fault (any status with an ARM error body, 429 with `Retry-After`, 403
//! `AuthorizationFailed`), and — when a vendored spec declares its path — must name an api-version
//! the spec has and satisfy the operation's parameters and body schema (400 otherwise). Then
//! `routes.rs` answers it from the state in `state.rs`. Long-running operations finish after
//! `polls` polls, in the completion pattern chosen with [`FakeArm::set_completion`].

mod computes;
mod endpoint_actions;
mod endpoints;
mod operations;
mod routes;
pub mod schema;
mod server;
pub mod spec;
pub mod state;
pub mod tokens;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

pub use crate::fake_kube::server::decode;
use crate::http_server::HttpServer;
use server::{Fault, Shared, handle};
pub use server::{Recorded, Reply, Stall, arm_error};
use state::State;
pub use state::{SUBSCRIPTION, TENANT, cluster_id, workspace_id};

/// How a create or delete answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// 200 at once.
    Immediate,
    /// PUT 201 + `Azure-AsyncOperation`; DELETE 202 + `Azure-AsyncOperation` + `Location` (the spec's).
    AsyncOperation,
    /// 201/202 + `Location` only.
    Location,
    /// PUT 201 without headers: the resource's `provisioningState` tells.
    ResourceState,
}

/// How to start the fake.
#[derive(Debug, Clone)]
pub struct Options {
    /// The bearer token every request must carry.
    pub token: String,
    /// Polls answered "in progress" before an operation ends.
    pub polls: u32,
    /// `Retry-After` seconds on operation answers (real ARM: 10–600; tests: 0).
    pub retry_after: Option<u64>,
    /// Computes per list page.
    pub page_size: usize,
    /// Time added to every answer (benchmarks: a network's round trip).
    pub latency: std::time::Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            token: "fake-arm-token".into(),
            polls: 1,
            retry_after: Some(0),
            page_size: 100,
            latency: std::time::Duration::ZERO,
        }
    }
}

/// A running fake ARM on 127.0.0.1; stops when dropped.
pub struct FakeArm {
    shared: Arc<Shared>,
    url: String,
    _server: HttpServer,
}

impl FakeArm {
    /// Starts with default options and the seed: workspace `rg1/ws1` in eastus, cluster
    /// `rg1/aks1` (3 × Standard_D3_v2 = 12 vCPUs) with the Azure ML extension, versions, VM sizes.
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// Starts with these options and the seed.
    pub fn start_with(options: Options) -> Self {
        let mut state = State::default();
        let ws = workspace_id("rg1", "ws1");
        state.workspaces.insert(ws.to_ascii_lowercase(), json!({"id": ws, "name": "ws1", "location": "eastus",
            "type": "Microsoft.MachineLearningServices/workspaces", "properties": {"provisioningState": "Succeeded"}}));
        state.vm_sizes = state::default_vm_sizes();
        state
            .versions
            .insert("eastus".into(), state::default_versions());
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            journal: Mutex::default(),
            faults: Mutex::default(),
            completion: Mutex::new(Completion::AsyncOperation),
            next_failure: Mutex::default(),
            token: options.token,
            polls: options.polls,
            retry_after: options.retry_after,
            page_size: options.page_size,
            latency: options.latency,
            url: Mutex::default(),
            signer: tokens::Signer::new(),
        });
        let handler_state = shared.clone();
        let server = HttpServer::start(0, None, move |request| {
            handle(handler_state.clone(), request)
        })
        .expect("fake ARM server");
        let url = format!("http://{}", server.address());
        *shared.url.lock().expect("url") = url.clone();
        let fake = Self {
            shared,
            url,
            _server: server,
        };
        fake.add_cluster("rg1", "aks1", "eastus", 3, "Standard_D3_v2", true);
        for (kind, name, version) in [
            ("models", "sentiment", "1"),
            ("models", "sentiment", "2"),
            ("environments", "sklearn-env", "3"),
            ("codes", "score-code", "1"),
        ] {
            fake.add_asset(kind, name, version);
        }
        fake
    }

    /// The id of a registered asset version in rg1/ws1 (`models`, `environments`, `codes`).
    pub fn asset_id(kind: &str, name: &str, version: &str) -> String {
        format!(
            "{}/{kind}/{name}/versions/{version}",
            workspace_id("rg1", "ws1")
        )
    }

    /// Registers an asset version in rg1/ws1.
    pub fn add_asset(&self, kind: &str, name: &str, version: &str) {
        let id = Self::asset_id(kind, name, version);
        let asset = json!({"id": id, "name": version, "type": format!("Microsoft.MachineLearningServices/workspaces/{kind}/versions"),
            "properties": {"description": format!("{name} version {version}")}});
        self.shared
            .state
            .lock()
            .expect("state")
            .assets
            .insert(id.to_ascii_lowercase(), asset);
    }

    /// Adds a provisioned Kubernetes compute in rg1/ws1 on cluster rg1/aks1.
    pub fn add_kubernetes_compute(&self, name: &str, namespace: &str) {
        self.put_compute(
            "rg1",
            "ws1",
            name,
            json!({"computeType": "Kubernetes", "provisioningState": "Succeeded",
            "isAttachedCompute": true, "resourceId": cluster_id("rg1", "aks1"),
            "properties": {"namespace": namespace}}),
        );
    }

    /// An online endpoint (`deployment` `None`) or one of its deployments, as stored.
    pub fn endpoint(&self, endpoint: &str, deployment: Option<&str>) -> Option<Value> {
        let mut id = format!("{}/onlineEndpoints/{endpoint}", workspace_id("rg1", "ws1"));
        if let Some(d) = deployment {
            id = format!("{id}/deployments/{d}");
        }
        self.shared
            .state
            .lock()
            .expect("state")
            .endpoints
            .get(&id.to_ascii_lowercase())
            .cloned()
    }

    /// Every online deployment on a Kubernetes compute, with its endpoint, the endpoint's keys and
    /// the compute's namespace — what the Azure ML extension in that cluster would run — read
    /// afresh at each call of the function returned (which outlives `self`'s borrow).
    pub fn online_source(&self) -> impl Fn() -> Vec<Online> + Send + Sync + 'static {
        let shared = self.shared.clone();
        move || online_deployments(&shared.state.lock().expect("state"))
    }

    /// The public key of the tokens `POST …/token` issues, as a JWKS document.
    pub fn token_jwks(&self) -> String {
        self.shared.signer.jwks()
    }

    /// Makes new endpoints' scoring URIs point at `host[:port]` (the sandbox's load balancer).
    pub fn set_scoring_host(&self, host: &str) {
        self.shared.state.lock().expect("state").scoring_host = Some(host.to_string());
    }

    /// An endpoint's keys (primary, secondary).
    pub fn keys(&self, endpoint: &str) -> Option<(String, String)> {
        let id = format!("{}/onlineEndpoints/{endpoint}", workspace_id("rg1", "ws1"))
            .to_ascii_lowercase();
        self.shared
            .state
            .lock()
            .expect("state")
            .keys
            .get(&id)
            .cloned()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The token requests must carry.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Adds (or replaces) a managed cluster; `extension` installs the Azure ML extension.
    pub fn add_cluster(
        &self,
        group: &str,
        name: &str,
        location: &str,
        nodes: u32,
        vm_size: &str,
        extension: bool,
    ) {
        let cluster = state::managed_cluster(group, name, location, nodes, vm_size);
        self.put_cluster(cluster, extension);
    }

    /// Adds a cluster given whole (edit [`state::managed_cluster`]'s output for special cases).
    pub fn put_cluster(&self, cluster: Value, extension: bool) {
        let id = cluster["id"].as_str().expect("cluster id").to_string();
        let mut state = self.shared.state.lock().expect("state");
        state.clusters.insert(id.to_ascii_lowercase(), cluster);
        let extensions = if extension {
            vec![state::azureml_extension(&id)]
        } else {
            vec![]
        };
        state.extensions.insert(id.to_ascii_lowercase(), extensions);
    }

    /// Adds a compute as ARM would show it, already provisioned.
    pub fn put_compute(&self, group: &str, workspace: &str, name: &str, properties: Value) {
        let id = format!("{}/computes/{name}", workspace_id(group, workspace));
        let compute = json!({"id": id, "name": name, "location": "eastus",
            "type": "Microsoft.MachineLearningServices/workspaces/computes", "properties": properties});
        self.shared
            .state
            .lock()
            .expect("state")
            .computes
            .insert(id.to_ascii_lowercase(), compute);
    }

    /// A compute as stored (secrets included), if present.
    pub fn compute(&self, name: &str) -> Option<Value> {
        let id = format!("{}/computes/{name}", workspace_id("rg1", "ws1")).to_ascii_lowercase();
        self.shared
            .state
            .lock()
            .expect("state")
            .computes
            .get(&id)
            .cloned()
    }

    /// Number of clusters held.
    pub fn cluster_count(&self) -> usize {
        self.shared.state.lock().expect("state").clusters.len()
    }

    /// Chooses how creates and deletes answer.
    pub fn set_completion(&self, completion: Completion) {
        *self.shared.completion.lock().expect("completion") = completion;
    }

    /// Makes the next started operation end `Failed` with this error.
    pub fn fail_next_operation(&self, code: &str, message: &str) {
        self.fail_next_operation_on("", code, message);
    }

    /// Makes the next operation started on a path containing `path_contains` (case-insensitive)
    /// end `Failed` with this error.
    pub fn fail_next_operation_on(&self, path_contains: &str, code: &str, message: &str) {
        *self.shared.next_failure.lock().expect("failure") = Some((
            path_contains.to_ascii_lowercase(),
            code.into(),
            message.into(),
        ));
    }

    /// The next `times` requests whose method matches and whose path contains `path_contains`
    /// (case-insensitive; ending in `$`: whose path ends there) get `status` with an ARM error
    /// `code: message`. The same matching holds for every fault below.
    pub fn fail(
        &self,
        method: &str,
        path_contains: &str,
        times: usize,
        status: u16,
        code: &str,
        message: &str,
    ) {
        self.add_fault(
            method,
            path_contains,
            times,
            arm_error(status, code, message),
        );
    }

    /// The next `times` matching requests get `status` with `body` (an answer ARM could give).
    pub fn respond(
        &self,
        method: &str,
        path_contains: &str,
        times: usize,
        status: u16,
        body: serde_json::Value,
    ) {
        self.add_fault(method, path_contains, times, Reply::ok(status, body));
    }

    /// The next `times` matching requests hang: before any header, or half-way through the body
    /// of the answer they would have had (a 200 with an ARM-shaped list).
    pub fn hang(&self, method: &str, path_contains: &str, times: usize, stall: Stall) {
        let mut reply = Reply::ok(200, serde_json::json!({"value": [], "nextLink": null}));
        reply.stall = stall;
        self.add_fault(method, path_contains, times, reply);
    }

    /// The next `times` matching requests get 429 with `Retry-After: seconds`.
    pub fn throttle(&self, method: &str, path_contains: &str, times: usize, seconds: u64) {
        let mut reply = arm_error(429, "TooManyRequests", "The request is being throttled.");
        reply.headers.push(("Retry-After", seconds.to_string()));
        self.add_fault(method, path_contains, times, reply);
    }

    /// Matching requests get 403 `AuthorizationFailed`, worded like ARM's.
    pub fn forbid(&self, method: &str, path_contains: &str) {
        let message = format!(
            "The client 'user@example.com' with object id '99999999-0000-0000-0000-000000000009' does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/computes/write' over scope '{path_contains}' or the scope is invalid. If access was recently granted, please refresh your credentials."
        );
        self.fail(
            method,
            path_contains,
            usize::MAX,
            403,
            "AuthorizationFailed",
            &message,
        );
    }

    fn add_fault(&self, method: &str, path_contains: &str, times: usize, reply: Reply) {
        self.shared.faults.lock().expect("faults").push(Fault {
            method: method.to_string(),
            path_contains: path_contains.to_ascii_lowercase(),
            remaining: times,
            reply,
        });
    }

    /// Removes every fault not yet used (and a pending operation failure).
    pub fn clear_faults(&self) {
        self.shared.faults.lock().expect("faults").clear();
        *self.shared.next_failure.lock().expect("failure") = None;
    }

    /// Every request so far.
    pub fn journal(&self) -> Vec<Recorded> {
        self.shared.journal.lock().expect("journal").clone()
    }

    /// Requests other than GET so far.
    pub fn writes(&self) -> Vec<Recorded> {
        self.journal()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }
}

/// An online deployment with its endpoint, the endpoint's keys and its compute's namespace.
pub type Online = (Value, Value, (String, String), String);

fn online_deployments(state: &State) -> Vec<Online> {
    let mut found = Vec::new();
    for (id, deployment) in &state.endpoints {
        let Some((endpoint_id, _)) = id.rsplit_once("/deployments/") else {
            continue;
        };
        let Some(endpoint) = state.endpoints.get(endpoint_id) else {
            continue;
        };
        let compute = endpoint["properties"]["compute"]
            .as_str()
            .unwrap_or_default();
        let Some(compute) = state.computes.get(&compute.to_ascii_lowercase()) else {
            continue;
        };
        let namespace = compute["properties"]["properties"]["namespace"].as_str();
        let failed = deployment["properties"]["provisioningState"] == "Failed";
        if let (Some(namespace), false) = (namespace, failed) {
            let keys = state.keys.get(endpoint_id).cloned().unwrap_or_default();
            found.push((
                endpoint.clone(),
                deployment.clone(),
                keys,
                namespace.to_string(),
            ));
        }
    }
    found
}
