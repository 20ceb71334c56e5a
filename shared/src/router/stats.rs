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
    /// The router process itself over its last closed window.
    #[serde(default)]
    pub process: ProcessWindow,
}

/// The router process over one window: its routing time and its CPU use, for self-scaling.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessWindow {
    /// The window's length, seconds.
    pub seconds: f64,
    /// p99 of the time the router added to a request, ms (`None`: no request).
    pub routing_p99_ms: Option<f64>,
    /// CPU seconds (user + system) the process used.
    pub cpu_seconds: f64,
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
        process: *shared.process.read().unwrap_or_else(|e| e.into_inner()),
    }
}

/// CPU time this process used so far (user + system).
fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return Duration::ZERO;
    };
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    micros(usage.user_time()) + micros(usage.system_time())
}

/// Closes every backend's window each [`WINDOW`], for as long as the router runs.
pub async fn close_windows(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(WINDOW);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut times, mut cpu, mut at) = (
        shared.routing.snapshot(),
        cpu_time(),
        tokio::time::Instant::now(),
    );
    loop {
        ticker.tick().await;
        for backend in shared.table().backends() {
            backend.close_window();
        }
        let (now_times, now_cpu, now) = (
            shared.routing.snapshot(),
            cpu_time(),
            tokio::time::Instant::now(),
        );
        let window = ProcessWindow {
            seconds: now.saturating_duration_since(at).as_secs_f64(),
            routing_p99_ms: super::latency::quantile(&times, &now_times, 0.99)
                .map(|d| d.as_secs_f64() * 1e3),
            cpu_seconds: now_cpu.saturating_sub(cpu).as_secs_f64(),
        };
        *shared.process.write().unwrap_or_else(|e| e.into_inner()) = window;
        (times, cpu, at) = (now_times, now_cpu, now);
    }
}
