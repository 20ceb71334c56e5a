//! A fake Kubernetes API server that real clients (kube-rs and the machine's kubectl) can use.
//!
//! Routes (`server.rs`):
//!
//! | path | answers |
//! |---|---|
//! | `/version` | the configured Kubernetes version (the kubectl dispatcher picks its client by it) |
//! | `/api`, `/apis` | aggregated discovery v2 or v2beta1, or legacy, by `Accept` |
//! | `/api/v1`, `/apis/G`, `/apis/G/V` | legacy group and resource lists |
//! | `/openapi/v3[/…]` | an index and per-group-version documents with PATCH operations (for `kubectl apply`) |
//! | `/api/v1/[namespaces/NS/]PLURAL[/NAME[/SUB]]`, `/apis/G/V/…` | GET, LIST, WATCH, POST, PUT, PATCH (merge, JSON, strategic, apply), DELETE, DELETE collection; `scale` and `status` subresources |
//! | `/api/v1/namespaces/NS/pods/NAME[:PORT]/proxy/PATH` | GET forwarded to the pod's IP and port (`proxy.rs`) |
//!
//! Errors are `kind: Status` bodies worded like the real server's. Behaviour it simulates: uid,
//! resourceVersion, generation and timestamps; resourceVersion preconditions; finalizers and
//! `deletionTimestamp`; propagation (garbage collection runs at once); namespace existence and
//! deletion; server-side apply field ownership and conflicts; Deployment status (ready at once
//! unless `set_auto_ready(false)`); Service cluster IPs; Secret `stringData`.
//! Test controls: fault injection, latency, the request journal, direct object access.

mod apply;
mod collection;
mod defaults;
mod deletion;
mod discovery;
pub mod faults;
mod fieldset;
pub mod kinds;
mod managed;
mod ownership;
mod patch;
mod proxy;
mod route;
mod selectors;
pub mod server;
mod status;
mod store;
mod verbs;
mod watch;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use crate::http_server::HttpServer;
use crate::tls::TestTls;
pub use faults::{Action, Recorded};
use ownership::{Ownership, Write};
use server::Shared;
use store::Store;

/// How to start the fake.
#[derive(Debug, Clone)]
pub struct Options {
    /// Serve HTTPS with a fresh test CA.
    pub tls: bool,
    /// Require this bearer token on every request.
    pub token: Option<String>,
    /// Kubernetes minor version to report (1.`minor`).
    pub minor: u32,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The resourceVersion to count on from (another server's, to play a restarted one).
    pub resource_version: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tls: false,
            token: None,
            minor: 33,
            port: 0,
            resource_version: 1000,
        }
    }
}

/// A running fake API server; stops when dropped.
pub struct FakeKube {
    shared: Arc<Shared>,
    url: String,
    ca_pem: Option<String>,
    _server: HttpServer,
}

impl FakeKube {
    /// Plain HTTP, no token, Kubernetes 1.33.
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// Starts with these options.
    pub fn start_with(options: Options) -> Self {
        aml_core::init_crypto();
        let tls = options.tls.then(TestTls::new);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::starting_at(options.resource_version)),
            faults: Mutex::default(),
            journal: Mutex::default(),
            token: options.token.clone(),
            minor: options.minor,
            address: Mutex::default(),
        });
        let handler_state = shared.clone();
        let handler = move |request| server::handle(handler_state.clone(), request);
        let config = tls.as_ref().map(|t| t.server_config.clone());
        let server =
            HttpServer::start(options.port, config, handler).expect("start the fake API server");
        let address = server.address();
        *shared.address.lock().expect("address") = address.to_string();
        let scheme = if options.tls { "https" } else { "http" };
        Self {
            shared,
            url: format!("{scheme}://{address}"),
            ca_pem: tls.map(|t| t.ca_pem),
            _server: server,
        }
    }

    /// The server URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store.lock().expect("store").resource_version()
    }

    /// The CA to trust, when serving HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A kubeconfig pointing at this server, with context `fake` and an optional namespace.
    pub fn kubeconfig(&self, namespace: Option<&str>) -> String {
        let ca = self
            .ca_pem
            .as_ref()
            .map(|pem| {
                format!(
                    "\n    certificate-authority-data: {}",
                    base64::engine::general_purpose::STANDARD.encode(pem)
                )
            })
            .unwrap_or_default();
        let namespace = namespace
            .map(|ns| format!("\n    namespace: {ns}"))
            .unwrap_or_default();
        let user = match &self.shared.token {
            Some(token) => format!("\n    token: {token}"),
            None => " {}".to_string(),
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}{ca}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake{namespace}\n\
             current-context: fake\nusers:\n- name: fake\n  user:{user}\n",
            self.url
        )
    }

    /// Writes [`Self::kubeconfig`] to a file (mode 0600: it may hold a token).
    pub fn write_kubeconfig(&self, path: &Path, namespace: Option<&str>) -> std::io::Result<()> {
        crate::write_private(path, self.kubeconfig(namespace).as_bytes())
    }

    /// Creates objects as a controller would (manager `seed`); a `status` in the input is then
    /// written through the status subresource, so seeded load-balancer IPs and the like stick.
    pub fn seed(&self, objects: impl IntoIterator<Item = Value>) {
        let mut store = self.shared.store.lock().expect("store");
        for object in objects {
            let kind = kind_of(&object);
            let namespace = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string();
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if kind.kind == "Namespace" && store.get(kind, "", &name).is_some() {
                continue;
            }
            let created = store
                .create(
                    kind,
                    &namespace,
                    object.clone(),
                    Ownership::Update("seed"),
                    false,
                )
                .unwrap_or_else(|e| panic!("seed {name}: {:?}", e.body));
            // A seeded object existed before: it keeps the age it is given.
            if let Some(created) = object["metadata"].get("creationTimestamp")
                && let Some(stored) = store.objects.get_mut(&store::key(kind, &namespace, &name))
            {
                stored["metadata"]["creationTimestamp"] = created.clone();
            }
            if let Some(status) = object.get("status") {
                let mut with_status = created;
                with_status["status"] = status.clone();
                store
                    .replace(
                        kind,
                        &namespace,
                        &name,
                        with_status,
                        Write::by(Ownership::Update("seed")).through(Some("status")),
                    )
                    .expect("seed status");
            }
        }
    }

    /// Seeds the objects of a multi-document YAML that do not exist yet (to restore a fixture).
    pub fn seed_missing_yaml(&self, text: &str) {
        let documents: Vec<Value> = serde_saphyr::from_multiple(text).expect("seed YAML");
        let missing = documents.into_iter().filter(|d| !d.is_null()).filter(|d| {
            let namespace = d["metadata"]["namespace"].as_str().unwrap_or("default");
            let kind = kind_of(d);
            let namespace = if kind.namespaced { namespace } else { "" };
            let name = d["metadata"]["name"].as_str().unwrap_or_default();
            self.shared
                .store
                .lock()
                .expect("store")
                .get(kind, namespace, name)
                .is_none()
        });
        self.seed(missing.collect::<Vec<_>>());
    }

    /// Seeds from multi-document YAML.
    pub fn seed_yaml(&self, text: &str) {
        let documents: Vec<Value> = serde_saphyr::from_multiple(text).expect("seed YAML");
        self.seed(documents.into_iter().filter(|d| !d.is_null()));
    }

    /// The stored object, if present.
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let kind = kinds::find_kind(api_version, kind).expect("a served kind");
        self.shared
            .store
            .lock()
            .expect("store")
            .get(kind, namespace, name)
            .cloned()
    }

    /// Changes a stored object as a controller would (e.g. drop a finalizer), through the store's
    /// normal update path: resourceVersion bump, watch event, deletion when the last finalizer goes.
    pub fn update(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) {
        let kind = kinds::find_kind(api_version, kind).expect("a served kind");
        let mut store = self.shared.store.lock().expect("store");
        let mut object = store
            .get(kind, namespace, name)
            .expect("object to update")
            .clone();
        change(&mut object);
        store
            .replace(
                kind,
                namespace,
                name,
                object,
                Write::by(Ownership::Update("test-controller")),
            )
            .expect("update");
    }

    /// Changes a stored object's `status` as its controller or kubelet would (through the status
    /// subresource: resourceVersion bump, watch event).
    pub fn update_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) {
        let kind = kinds::find_kind(api_version, kind).expect("a served kind");
        let mut store = self.shared.store.lock().expect("store");
        let mut object = store
            .get(kind, namespace, name)
            .expect("object to update")
            .clone();
        change(&mut object);
        store
            .replace(
                kind,
                namespace,
                name,
                object,
                Write::by(Ownership::Update("test-kubelet")).through(Some("status")),
            )
            .expect("update status");
    }

    /// Deletes an object out of band (background propagation), as another client would.
    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let kind = kinds::find_kind(api_version, kind).expect("a served kind");
        let mut store = self.shared.store.lock().expect("store");
        store
            .delete(
                kind,
                namespace,
                name,
                deletion::Propagation::Background,
                (None, None),
                false,
            )
            .expect("delete");
    }

    /// Deployments report their replicas ready at once (default) or never.
    pub fn set_auto_ready(&self, ready: bool) {
        self.shared.store.lock().expect("store").auto_ready = ready;
    }

    /// The next `times` requests with this method (any, if `None`) and path (`*` suffix = prefix)
    /// get `action`.
    pub fn inject(&self, method: Option<&str>, path: &str, times: usize, action: Action) {
        self.shared
            .faults
            .lock()
            .expect("faults")
            .add(method, path, times, action);
    }

    /// Shorthand: the next `times` matching requests answer `status` with a real-looking Status body.
    pub fn fail_next(&self, method: &str, path: &str, times: usize, status: u16) {
        self.inject(Some(method), path, times, Action::Status(status));
    }

    /// Shorthand: the next `times` matching requests never get an answer.
    pub fn hang_next(&self, method: &str, path: &str, times: usize) {
        self.inject(Some(method), path, times, Action::Hang);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().expect("faults").clear();
    }

    /// Adds this latency to every request.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults.lock().expect("faults").latency = latency;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.journal.lock().expect("journal").clone()
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        self.shared.journal.lock().expect("journal").clear();
    }
}

fn kind_of(object: &Value) -> &'static kinds::KindDef {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    kinds::find_kind(api_version, kind)
        .unwrap_or_else(|| panic!("the fake does not serve {api_version} {kind}"))
}
