//! The autoscaler loop, in every router process: take part in the election; once a second, if
//! leading, gather the load, let the scaler decide, and carry its actions out — scale writes with
//! a resourceVersion precondition (re-checking leadership right before each), Events, log lines.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use super::gather::{gather, watch_peers};
use super::leader::{self, Leadership, LeaseConfig};
use super::model::{Action, Key, Outcome, ServiceStatus, Tick};
use super::scaler::Scaler;
use crate::router::Shared;
use crate::router::events::{self, About};
use crate::router::watch::{self as watches, Change};

/// How the autoscaler runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The election.
    pub lease: LeaseConfig,
    /// Service whose Endpoints are the router pods' admin ports.
    pub peers_service: String,
    /// How long lower demand must last before a scale-down.
    pub scale_down_window: Duration,
    /// The router's own scaling.
    pub router: super::router_scaler::RouterScaling,
}

/// What `/autoscaler` on the admin port answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// This router.
    pub identity: String,
    /// Who holds the Lease, as last read.
    pub leader: Option<String>,
    /// Whether this router leads now.
    pub leading: bool,
    /// Per model Deployment (filled by the leader).
    pub services: Vec<ServiceStatus>,
}

/// The status, shared with the admin port.
pub type SharedStatus = Arc<RwLock<Status>>;

/// How long the leader waits for the router pods' counts each tick.
const GATHER_DEADLINE: Duration = Duration::from_millis(700);
/// Most time for one scale write.
const WRITE_DEADLINE: Duration = Duration::from_secs(2);

/// Starts the election and the loop; both end when `stop` turns true (a leader releases the Lease).
pub fn start(
    shared: Arc<Shared>,
    client: kube::Client,
    config: Config,
    status: SharedStatus,
    stop: watch::Receiver<bool>,
) {
    let leadership = Leadership::default();
    tokio::spawn(leader::run(
        client.clone(),
        config.lease.clone(),
        leadership.clone(),
        stop.clone(),
    ));
    tokio::spawn(run(shared, client, config, leadership, status, stop));
}

/// Each HorizontalPodAutoscaler (namespace, name) and the Deployment it targets, with its name.
type Targets = HashMap<(String, String), (Key, String)>;

/// HorizontalPodAutoscalers by the Deployment they target, kept current by a watch.
fn watch_hpas(shared: &Shared, client: &kube::Client) -> Arc<RwLock<HashMap<Key, String>>> {
    let hpas: Arc<RwLock<Targets>> = Arc::default();
    let targets: Arc<RwLock<HashMap<Key, String>>> = Arc::default();
    let api: Api<HorizontalPodAutoscaler> = match &shared.options.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    watches::spawn(
        api,
        Default::default(),
        "HorizontalPodAutoscalers".into(),
        tx,
        |change| change,
    );
    let found = targets.clone();
    tokio::spawn(async move {
        let entry = |hpa: &HorizontalPodAutoscaler| {
            let ns = hpa.metadata.namespace.clone().unwrap_or_default();
            let name = hpa.metadata.name.clone().unwrap_or_default();
            let target = hpa.spec.as_ref().map(|s| &s.scale_target_ref);
            let deployment = target
                .filter(|t| t.kind == "Deployment")
                .map(|t| t.name.clone());
            (
                (ns.clone(), name.clone()),
                deployment.map(|d| ((ns, d), name)),
            )
        };
        while let Some(change) = rx.recv().await {
            let mut all = hpas.write().unwrap_or_else(|e| e.into_inner());
            match change {
                Change::Resync(list) => {
                    all.clear();
                    for hpa in &list {
                        if let (id, Some(target)) = entry(hpa) {
                            all.insert(id, target);
                        }
                    }
                }
                Change::Apply(hpa) => match entry(&hpa) {
                    (id, Some(target)) => {
                        all.insert(id, target);
                    }
                    (id, None) => {
                        all.remove(&id);
                    }
                },
                Change::Delete(hpa) => {
                    all.remove(&entry(&hpa).0);
                }
            }
            *found.write().unwrap_or_else(|e| e.into_inner()) = all.values().cloned().collect();
        }
    });
    targets
}

async fn run(
    shared: Arc<Shared>,
    client: kube::Client,
    config: Config,
    leadership: Leadership,
    status: SharedStatus,
    mut stop: watch::Receiver<bool>,
) {
    let hpas = watch_hpas(&shared, &client);
    let peers = watch_peers(
        client.clone(),
        &config.lease.namespace,
        &config.peers_service,
    );
    let view = shared.view.subscribe();
    let started = Instant::now();
    let mut scaler = Scaler::new(config.scale_down_window);
    let mut router_scaler = super::router_scaler::RouterScaler::new(config.router.clone());
    let mut was_leading = false;
    let mut ticker = tokio::time::interval(super::scaler::LOOP_PERIOD);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let leading = leadership.leading();
        if leading != was_leading {
            // A new leadership starts from the counts as they are (each policy holds a window).
            scaler.reset();
            was_leading = leading;
        }
        {
            let mut now = status.write().unwrap_or_else(|e| e.into_inner());
            now.identity.clone_from(&config.lease.identity);
            now.leader = leadership.holder();
            now.leading = leading;
            if !leading {
                now.services.clear();
            }
        }
        let snapshot = view.borrow().clone();
        if !leading || !snapshot.listed {
            continue;
        }
        let peer_list = peers.borrow().clone();
        let gathered = gather(peer_list, &shared, GATHER_DEADLINE).await;
        if !gathered.missing.is_empty() {
            tracing::warn!(
                answered = gathered.answered,
                "router pods left out of this tick: {}",
                gathered.missing.join("; ")
            );
        }
        let targets = hpas.read().unwrap_or_else(|e| e.into_inner()).clone();
        let at = started.elapsed();
        let tick = Tick {
            view: &snapshot,
            load: &gathered.load,
            complete: gathered.missing.is_empty(),
            hpas: &targets,
            at,
            wall: jiff::Timestamp::now(),
        };
        let mut actions: std::collections::VecDeque<Action> = scaler.tick(&tick).into();
        while let Some(action) = actions.pop_front() {
            match &action {
                Action::Scale { .. } if !leadership.leading() => {
                    tracing::warn!("leadership lapsed mid-tick: no more writes");
                    break;
                }
                Action::Scale {
                    key, to, version, ..
                } => {
                    let outcome = write_scale(&client, key, *to, version.as_deref()).await;
                    if outcome == Outcome::Written {
                        announce(&client, &action);
                    } else {
                        tracing::debug!(deployment = %format!("{}/{}", key.0, key.1), ?outcome, "scale write not done");
                    }
                    actions.extend(scaler.outcome(
                        &action,
                        &outcome,
                        started.elapsed(),
                        jiff::Timestamp::now(),
                    ));
                }
                Action::Event {
                    key,
                    uid,
                    warning,
                    reason,
                    message,
                } => {
                    if *warning {
                        tracing::warn!(deployment = %format!("{}/{}", key.0, key.1), "{message}");
                    }
                    events::post(&client, about(key, uid), *warning, reason, message.clone());
                }
                Action::Log(line) => tracing::info!("{line}"),
            }
        }
        status.write().unwrap_or_else(|e| e.into_inner()).services = scaler.status();
        if leadership.leading() {
            router_scaler
                .tick(&client, &gathered.processes, started.elapsed())
                .await;
        }
    }
}

fn about(key: &Key, uid: &Option<String>) -> About {
    About {
        namespace: key.0.clone(),
        name: key.1.clone(),
        uid: uid.clone(),
    }
}

/// A written decision: a Normal Event on the Deployment and a log line.
fn announce(client: &kube::Client, action: &Action) {
    if let Action::Scale {
        key,
        uid,
        reason,
        message,
        ..
    } = action
    {
        tracing::info!(deployment = %format!("{}/{}", key.0, key.1), "{message}");
        events::post(client, about(key, uid), false, reason, message.clone());
    }
}

/// Writes the replica count through the scale subresource, only if the Deployment is still `version`.
async fn write_scale(client: &kube::Client, key: &Key, to: u32, version: Option<&str>) -> Outcome {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &key.0);
    let mut patch = json!({"spec": {"replicas": to}});
    if let Some(version) = version {
        patch["metadata"] = json!({"resourceVersion": version});
    }
    let params = PatchParams::default();
    let patch = Patch::Merge(&patch);
    let write = api.patch_scale(&key.1, &params, &patch);
    match tokio::time::timeout(WRITE_DEADLINE, write).await {
        Ok(Ok(_)) => Outcome::Written,
        Ok(Err(kube::Error::Api(status))) if status.code == 409 => Outcome::Conflict,
        Ok(Err(kube::Error::Api(status))) if status.code == 403 => {
            tracing::warn!(
                deployment = %format!("{}/{}", key.0, key.1),
                "cannot write the replica count: {}; the router's role needs `patch` on `deployments/scale` (apps)",
                status.message
            );
            Outcome::Forbidden
        }
        Ok(Err(e)) => {
            tracing::warn!(deployment = %format!("{}/{}", key.0, key.1), error = %e, "scale write failed; backing off");
            Outcome::Failed(e.to_string())
        }
        Err(_) => {
            tracing::warn!(deployment = %format!("{}/{}", key.0, key.1), "scale write got no answer within {WRITE_DEADLINE:?}; backing off");
            Outcome::Failed("timeout".into())
        }
    }
}
