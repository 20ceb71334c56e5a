//! A fake Azure Resource Manager for the Azure ML compute workflows, checked against the official
//! OpenAPI specs (`tests/fixtures/arm-specs`).
//!
//! Every request is recorded, must carry the expected bearer token (401 otherwise), may meet an
//! injected fault (any status with an ARM error body, 429 with `Retry-After`, 403
//! `AuthorizationFailed`), and — when a vendored spec declares its path — must name an api-version
//! the spec has and satisfy the operation's parameters and body schema (400 otherwise). Then
//! `routes.rs` answers it from the state in `state.rs`. Long-running operations finish after
//! `polls` polls, in the completion pattern chosen with [`FakeArm::set_completion`].

mod routes;
pub mod schema;
pub mod spec;
pub mod state;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::fake_kube::server::Body;
pub use crate::fake_kube::server::decode;
use crate::http_server::HttpServer;
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

/// One request as the fake saw it (the token is never kept).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// `x-ms-client-request-id`.
    pub request_id: String,
    /// `User-Agent`.
    pub user_agent: String,
    /// Whether `Authorization: Bearer …` was present.
    pub bearer: bool,
    /// Body (`null` when empty).
    pub body: Value,
    /// Status answered.
    pub status: u16,
}

/// An injected answer.
#[derive(Debug, Clone)]
struct Fault {
    method: String,
    path_contains: String,
    remaining: usize,
    reply: Reply,
}

/// An answer: status, headers and JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Reply {
    fn ok(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![],
            body: Some(body),
        }
    }

    fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: None,
        }
    }
}

/// An ARM error answer.
pub fn arm_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::ok(
        status,
        json!({"error": {"code": code, "message": message, "details": [],
        "additionalInfo": [{"type": "ComponentName", "info": {"value": "fake-arm"}}]}}),
    )
}

/// A parsed request.
pub struct Call {
    method: http::Method,
    path: String,
    query: std::collections::HashMap<String, String>,
    body: Value,
}

impl Call {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    fn json(&self) -> Value {
        self.body.clone()
    }
}

/// State shared by the server thread and the test.
pub struct Shared {
    state: Mutex<State>,
    journal: Mutex<Vec<Recorded>>,
    faults: Mutex<Vec<Fault>>,
    completion: Mutex<Completion>,
    next_failure: Mutex<Option<(String, String)>>,
    token: String,
    polls: u32,
    retry_after: Option<u64>,
    page_size: usize,
    url: Mutex<String>,
}

impl Shared {
    fn base_url(&self) -> String {
        self.url.lock().expect("url").clone()
    }
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
}

impl Default for Options {
    fn default() -> Self {
        Self {
            token: "fake-arm-token".into(),
            polls: 1,
            retry_after: Some(0),
            page_size: 100,
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
            url: Mutex::default(),
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
        fake
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
        *self.shared.next_failure.lock().expect("failure") = Some((code.into(), message.into()));
    }

    /// The next `times` requests whose method matches and whose path contains `path_contains`
    /// (case-insensitive) get `status` with an ARM error `code: message`.
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

async fn handle(
    shared: Arc<Shared>,
    request: hyper::Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = request.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let query: std::collections::HashMap<String, String> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let authorization = header("authorization");
    let parsed: Result<Value, _> = if bytes.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(&bytes)
    };
    let call = Call {
        method: parts.method.clone(),
        path: decode(parts.uri.path()),
        query: query.clone(),
        body: parsed.as_ref().cloned().unwrap_or(Value::Null),
    };
    let reply = if parsed.is_err() {
        arm_error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        )
    } else {
        answer(&shared, &call, &authorization)
    };
    shared.journal.lock().expect("journal").push(Recorded {
        method: call.method.to_string(),
        path: call.path.clone(),
        query: query.into_iter().collect(),
        request_id: header("x-ms-client-request-id"),
        user_agent: header("user-agent"),
        bearer: authorization.starts_with("Bearer "),
        body: call.body.clone(),
        status: reply.status,
    });
    let mut response = Response::builder().status(reply.status);
    response = response.header("x-ms-request-id", "fake-request-0001");
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    let bytes = match &reply.body {
        Some(body) => {
            response = response.header("content-type", "application/json; charset=utf-8");
            Bytes::from(serde_json::to_vec(body).expect("JSON"))
        }
        None => Bytes::new(),
    };
    Ok(response.body(Full::new(bytes).boxed()).expect("response"))
}

fn answer(shared: &Shared, call: &Call, authorization: &str) -> Reply {
    match authorization.strip_prefix("Bearer ") {
        None => {
            return arm_error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            );
        }
        Some(token) if token != shared.token => {
            return arm_error(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            );
        }
        Some(_) => {}
    }
    {
        let mut faults = shared.faults.lock().expect("faults");
        let path = call.path.to_ascii_lowercase();
        if let Some(fault) = faults.iter_mut().find(|f| {
            f.remaining > 0
                && f.method.eq_ignore_ascii_case(call.method.as_str())
                && path.contains(&f.path_contains)
        }) {
            fault.remaining -= 1;
            return fault.reply.clone();
        }
    }
    let Some(version) = call.param("api-version") else {
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    match spec::specs().find(call.method.as_str(), &call.path, Some(version)) {
        Err(versions) => {
            return arm_error(
                400,
                "NoRegisteredProviderFound",
                &format!(
                    "No registered resource provider found for API version '{version}'. The supported api-versions are '{}'.",
                    versions.join(", ")
                ),
            );
        }
        Ok(Some(operation)) => {
            let body = (!call.body.is_null()).then_some(&call.body);
            let problems = schema::check_request(spec::specs(), &operation, &call.query, body);
            if !problems.is_empty() {
                return arm_error(
                    400,
                    "InvalidRequestContent",
                    &format!(
                        "{} does not satisfy the spec: {}",
                        operation.id,
                        problems.join("; ")
                    ),
                );
            }
        }
        Ok(None) => {}
    }
    routes::route(shared, call)
}
