//! The router, `kubectl aml fe serve`: an open, azureml-fe compatible inference router. It finds
//! model pods through the API server, authenticates scoring requests, queues them per service
//! with per-replica slots, forwards them over keep-alive connections, terminates TLS with the
//! `azuremlfessl` certificate, and reports health and metrics on an admin port.
//!
//! Modules: `contract` (what a model pod is, pure), `discovery` + `watch` (watches → backends and
//! the routing `table`), `slots` (queue and slots), `upstream` + `proxy` + `body` (the data path),
//! `auth` + `jwt` (keys and tokens), `tls` (the certificate resolver), `handler` (one request),
//! `answers` (the router's own answers), `listener` (accept loops and drain), `admin`, `metrics`,
//! `serve` (the whole process).

mod admin;
mod answers;
pub mod auth;
mod backend;
mod body;
pub mod contract;
pub mod discovery;
pub(crate) mod events;
mod handler;
pub mod jwt;
mod latency;
mod listener;
mod meter;
mod metrics;
mod proxy;
mod serve;
pub mod slots;
pub mod stats;
mod table;
pub mod tls;
mod upstream;
pub(crate) mod watch;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use answers::RequestIds;
pub use metrics::Metrics;
pub use serve::{Listening, serve};

use jwt::TokenKeys;
use table::Table;

/// Everything `fe serve` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Plain HTTP listener.
    pub http: Option<SocketAddr>,
    /// HTTPS listener; needs the TLS Secret.
    pub https: Option<SocketAddr>,
    /// Health, readiness and metrics.
    pub admin: SocketAddr,
    /// Only model Deployments in this namespace; `None` for all namespaces.
    pub namespace: Option<String>,
    /// Namespace of the TLS and token-keys Secrets.
    pub fe_namespace: String,
    /// The TLS Secret's name (`azuremlfessl`).
    pub tls_secret: String,
    /// Secret holding the public keys tokens are checked against.
    pub token_keys_secret: Option<String>,
    /// Largest request body.
    pub max_body_bytes: u64,
    /// Most time a client may take to send a request head (and longest keep-alive idle).
    pub header_timeout: Duration,
    /// Most time from SIGTERM to exit.
    pub drain_timeout: Duration,
    /// Most time for the start-up check of the API server.
    pub api_timeout: Duration,
    /// This router's name among its peers (the pod's name in a cluster).
    pub identity: String,
    /// The autoscaler's settings; `None` runs the router alone.
    pub autoscaler: Option<AutoscalerOptions>,
}

/// How the autoscaler in the router process runs.
#[derive(Debug, Clone)]
pub struct AutoscalerOptions {
    /// The Lease electing the leader, in the fe namespace.
    pub lease_name: String,
    /// The Service whose Endpoints are the router pods' admin ports.
    pub peers_service: String,
    /// How long lower demand must last before a scale-down.
    pub scale_down_window: Duration,
    /// The router's own Deployment (in the fe namespace), scaled by the leader.
    pub fe_deployment: String,
    /// The router's self-scaling tuning; its purpose `DevTest` turns it off.
    pub router: crate::autoscale::RouterSettings,
}

/// Completes on SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
pub async fn termination() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Readiness and drain state.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    synced: AtomicBool,
    /// The token-keys Secret has been read once (found or not), or none is configured.
    token_keys_read: AtomicBool,
    draining: AtomicBool,
    last_request_ms: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            synced: AtomicBool::new(false),
            token_keys_read: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            last_request_ms: AtomicU64::new(0),
        }
    }
}

impl Health {
    fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_request_ms.store(now, Relaxed);
    }

    /// Time since the last request arrived.
    fn quiet_for(&self) -> Duration {
        let now = self.started.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_request_ms.load(Relaxed)))
    }

    /// The first discovery lists are in.
    pub fn set_synced(&self) {
        self.synced.store(true, Relaxed);
    }

    /// The token-keys Secret was read (or there is none to read).
    pub fn set_token_keys_read(&self) {
        self.token_keys_read.store(true, Relaxed);
    }

    /// Whether token-auth services can be answered yet.
    pub fn token_keys_read(&self) -> bool {
        self.token_keys_read.load(Relaxed)
    }

    /// Whether SIGTERM arrived.
    pub fn draining(&self) -> bool {
        self.draining.load(Relaxed)
    }
}

/// State every connection and background task shares.
#[derive(Debug)]
pub struct Shared {
    /// What was asked for.
    pub options: Options,
    /// The routing table, swapped whole by discovery.
    pub table: Arc<RwLock<Arc<Table>>>,
    /// Public keys for token auth, once read.
    pub token_keys: RwLock<Option<Arc<TokenKeys>>>,
    /// The HTTPS certificate.
    pub certs: Arc<tls::CertStore>,
    /// Counters and histograms.
    pub metrics: Metrics,
    /// Readiness and drain.
    pub health: Health,
    /// Request ids.
    pub ids: RequestIds,
    /// The model Deployments and pods discovery sees, for the autoscaler.
    pub view: tokio::sync::watch::Sender<Arc<discovery::ClusterView>>,
    /// The autoscaler's status, for `/autoscaler` on the admin port.
    pub autoscaler: crate::autoscale::live::SharedStatus,
    /// The router's own routing time per request, for its self-scaling.
    pub routing: latency::RoutingTimes,
    /// The last closed window's routing p99 and CPU use of this process.
    pub process: RwLock<stats::ProcessWindow>,
}

impl Shared {
    /// Fresh state for these options.
    pub fn new(options: Options) -> Arc<Self> {
        let table: Arc<RwLock<Arc<Table>>> = Arc::default();
        let health = Health::default();
        if options.token_keys_secret.is_none() {
            health.set_token_keys_read();
        }
        Arc::new(Self {
            options,
            metrics: Metrics::with_table(table.clone()),
            table,
            token_keys: RwLock::new(None),
            certs: Arc::default(),
            health,
            ids: RequestIds::default(),
            view: tokio::sync::watch::Sender::new(Arc::default()),
            autoscaler: Arc::default(),
            routing: latency::RoutingTimes::default(),
            process: RwLock::default(),
        })
    }

    /// The routing table now.
    pub(crate) fn table(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Why the router is not ready, if it is not.
    pub fn not_ready(&self) -> Option<&'static str> {
        if self.health.draining() {
            Some("draining: shutting down")
        } else if !self.health.synced.load(Relaxed) {
            Some("discovery has not listed the model deployments and pods yet")
        } else if !self.health.token_keys_read() {
            Some("the token keys Secret has not been read yet")
        } else if self.options.https.is_some() && !self.certs.loaded() {
            Some("no TLS certificate loaded yet")
        } else {
            None
        }
    }
}
