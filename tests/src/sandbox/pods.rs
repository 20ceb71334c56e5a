//! The sandbox's kubelet half: each model pod a local [`Replica`] with its template's environment
//! (literal values), Ready when its readiness path answers, restarted with back-off (1 s doubling
//! to 30 s) when it exits, stopped with SIGTERM then SIGKILL when its pod goes. A replica that
//! exits or never turns ready is reported once with its last log lines.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::python::Runtime;
use super::replica::Replica;

/// How long a replica may take to turn ready before it is reported.
const NOT_READY_REPORT: Duration = Duration::from_secs(60);
/// Longest wait between restarts of a crashing replica.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest SIGTERM-to-SIGKILL wait (the pod's grace period, capped: a sandbox stops quickly).
const MAX_GRACE: Duration = Duration::from_secs(10);

/// One pod's process and what has been said about it.
pub struct Process {
    replica: Option<Replica>,
    started: Instant,
    restarts: u32,
    next_start: Instant,
    /// Whether it answers its readiness path (the controller counts it).
    pub ready: bool,
    posted: Option<bool>,
    reported: bool,
}

impl Process {
    /// Stops its replica (SIGTERM, then SIGKILL after a short grace).
    pub fn stop(self) {
        if let Some(replica) = self.replica {
            replica.stop(Duration::from_secs(5));
        }
    }
}

/// The pod's first container: its `http` port (else the first) and its literal environment.
fn container(pod: &DynamicObject) -> (u16, Vec<(String, String)>, Duration) {
    let spec = &pod.data["spec"];
    let c = &spec["containers"][0];
    let ports = c["ports"].as_array().cloned().unwrap_or_default();
    let port = ports
        .iter()
        .find(|p| p["name"] == "http")
        .or(ports.first())
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or(5001) as u16;
    let env = c["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect();
    let grace = spec["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    (port, env, Duration::from_secs(grace).min(MAX_GRACE))
}

/// One round: start, watch and stop the processes of `pods` (every model pod in the cluster).
pub async fn kubelet(
    client: &kube::Client,
    runtime: &Runtime,
    logs: &Path,
    pods: &[DynamicObject],
    processes: &mut BTreeMap<(String, String), Process>,
    reports: &Arc<Mutex<Vec<String>>>,
) {
    let now = Instant::now();
    let key = |p: &DynamicObject| {
        (
            p.metadata.namespace.clone().unwrap_or_default(),
            p.metadata.name.clone().unwrap_or_default(),
        )
    };
    let say = |line: String| reports.lock().expect("reports").push(line);
    // Gone or going pods: their processes stop (off this loop's thread: the grace can be seconds).
    let live: Vec<_> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(key)
        .collect();
    let gone: Vec<_> = processes
        .keys()
        .filter(|k| !live.contains(k))
        .cloned()
        .collect();
    for k in gone {
        if let Some(replica) = processes.remove(&k).and_then(|p| p.replica) {
            let grace = pods
                .iter()
                .find(|p| key(p) == k)
                .map_or(MAX_GRACE, |p| container(p).2);
            std::thread::spawn(move || replica.stop(grace));
        }
    }
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let k = key(pod);
        let (port, env, _) = container(pod);
        let process = processes.entry(k.clone()).or_insert_with(|| Process {
            replica: None,
            started: now,
            restarts: 0,
            next_start: now,
            ready: false,
            posted: None,
            reported: false,
        });
        if let Some(replica) = process.replica.as_mut()
            && let Some(status) = replica.exited()
        {
            say(format!(
                "replica {}/{} exited ({status}); restarting. Its last lines:\n{}",
                k.0,
                k.1,
                replica.last_log_lines(10)
            ));
            process.replica = None;
            process.ready = false;
            process.restarts += 1;
            let backoff = Duration::from_secs(1 << process.restarts.min(5).saturating_sub(1));
            process.next_start = now + backoff.min(MAX_BACKOFF);
        }
        if process.replica.is_none() && now >= process.next_start {
            match Replica::start(runtime, &k.1, port, &env, logs) {
                Ok(replica) => {
                    process.replica = Some(replica);
                    process.started = now;
                }
                Err(e) => say(format!("replica {}/{} could not start: {e}", k.0, k.1)),
            }
        }
        process.ready = process.replica.as_ref().is_some_and(Replica::ready);
        if !process.ready
            && !process.reported
            && now.duration_since(process.started) > NOT_READY_REPORT
        {
            process.reported = true;
            let lines = process
                .replica
                .as_ref()
                .map(|r| r.last_log_lines(10))
                .unwrap_or_default();
            say(format!(
                "replica {}/{} is not ready after {NOT_READY_REPORT:?}. Its last lines:\n{lines}",
                k.0, k.1
            ));
        }
        if process.posted != Some(process.ready) {
            let status = pod_status(process.ready, process.restarts);
            let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(
                client.clone(),
                &k.0,
                &kube::discovery::ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&()),
            );
            if api
                .patch_status(
                    &k.1,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"status": status})),
                )
                .await
                .is_ok()
            {
                process.posted = Some(process.ready);
            }
        }
    }
}

fn pod_status(ready: bool, restarts: u32) -> Value {
    let flag = if ready { "True" } else { "False" };
    json!({
        "phase": "Running",
        "podIP": "127.0.0.1",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": flag}],
        "containerStatuses": [{"name": "inference-server", "ready": ready, "restartCount": restarts}],
    })
}
