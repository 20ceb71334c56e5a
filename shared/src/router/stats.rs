//! What each router pod tells the autoscaler leader every second (`GET /stats` on the admin port):
//! per model Deployment, the time-weighted busy replicas and queued requests of the last second
//! (sliding: a load step shows at once), and its ready replicas. The leader sums these over all
//! router pods.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Shared;

/// How often windows close.
pub const WINDOW: Duration = Duration::from_secs(1);

/// One router pod's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStats {
    /// The reporting router's identity.
    pub identity: String,
    /// One entry per model Deployment it serves.
    pub services: Vec<ServiceStats>,
}

/// One model Deployment's load as one router pod saw it over its last window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStats {
    /// The Deployment's namespace.
    pub namespace: String,
    /// The Deployment's name.
    pub deployment: String,
    /// Average replicas' worth of requests in flight.
    pub busy: f64,
    /// Average requests waiting for a slot.
    pub queued: f64,
    /// Ready replicas this router sends to.
    pub ready: u32,
    /// Requests given a slot in the window.
    pub requests: u64,
    /// The window's length, seconds.
    pub seconds: f64,
}

/// This router's report now.
pub fn report(shared: &Shared) -> PodStats {
    let table = shared.table();
    let services = table
        .backends()
        .iter()
        .map(|backend| {
            let window = backend.pool.sliding_window(WINDOW);
            ServiceStats {
                namespace: backend.key.namespace.clone(),
                deployment: backend.config().deployment.clone(),
                busy: window.busy,
                queued: window.queued,
                ready: window.ready,
                requests: window.requests,
                seconds: window.seconds,
            }
        })
        .collect();
    PodStats {
        identity: shared.options.identity.clone(),
        services,
    }
}

/// Closes every backend's window each [`WINDOW`], for as long as the router runs.
pub async fn close_windows(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(WINDOW);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        for backend in shared.table().backends() {
            backend.close_window();
        }
    }
}
