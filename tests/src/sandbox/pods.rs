//! The sandbox's kubelet half: each model pod a local [`Replica`] with its template's environment
//! (literal values); a pod whose container names a `command` (the router's) that program, its
//! `$(VAR)` arguments expanded from its environment (values, the pod's name and namespace,
//! ConfigMap keys) and `KUBECONFIG` pointing at the sandbox. Ready when its readiness path answers, restarted with back-off (1 s doubling
//! to 30 s) when it exits, stopped with SIGTERM then SIGKILL when its pod goes. A replica that
//! exits or never turns ready is reported once with its last log lines.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::python::Runtime;
use super::replica::Replica;

/// Where the kubelet's processes come from and go.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The sandbox's kubeconfig (for the controller, and given to programs as `KUBECONFIG`).
    pub kubeconfig: PathBuf,
    /// Where each process's output goes (`<pod>.log`).
    pub logs: PathBuf,
    /// Programs by the name a container's `command` uses (`kubectl-aml-fe` → a built binary);
    /// others are looked up on `PATH`.
    pub programs: Vec<(String, PathBuf)>,
}

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
    setup: &Setup,
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
            let started = match program(client, pod, setup).await {
                Some(Ok((command, port, path))) => {
                    Replica::spawn(&k.1, command, port, &path, &setup.logs)
                }
                Some(Err(e)) => Err(std::io::Error::other(e)),
                None => Replica::start(runtime, &k.1, port, &env, &setup.logs),
            };
            match started {
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

/// A pod whose container has a `command`: the program, its readiness port and path. `None` for a
/// model pod (the runtime runs it).
async fn program(
    client: &kube::Client,
    pod: &DynamicObject,
    setup: &Setup,
) -> Option<Result<(Command, u16, String), String>> {
    let c = &pod.data["spec"]["containers"][0];
    let words = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(str::to_string))
            .collect()
    };
    let command = words(&c["command"]);
    let first = command.first()?.clone();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let mut env = vec![(
        "KUBECONFIG".to_string(),
        setup.kubeconfig.display().to_string(),
    )];
    for e in c["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or_default().to_string();
        let value = if let Some(v) = e["value"].as_str() {
            v.to_string()
        } else if let Some(field) = e
            .pointer("/valueFrom/fieldRef/fieldPath")
            .and_then(Value::as_str)
        {
            match field {
                "metadata.name" => pod.metadata.name.clone().unwrap_or_default(),
                "metadata.namespace" => namespace.clone(),
                other => {
                    return Some(Err(format!(
                        "fieldRef {other} is not supported by the sandbox"
                    )));
                }
            }
        } else if let Some(r) = e.pointer("/valueFrom/configMapKeyRef") {
            let maps: kube::Api<DynamicObject> = kube::Api::namespaced_with(
                client.clone(),
                &namespace,
                &kube::discovery::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
            );
            let map = r["name"].as_str().unwrap_or_default();
            let key = r["key"].as_str().unwrap_or_default();
            match maps.get_opt(map).await {
                Ok(Some(m)) => match m.data["data"][key].as_str() {
                    Some(v) => v.to_string(),
                    None => {
                        return Some(Err(format!("ConfigMap {namespace}/{map} has no key {key}")));
                    }
                },
                _ => return Some(Err(format!("ConfigMap {namespace}/{map} cannot be read"))),
            }
        } else {
            continue;
        };
        env.push((name, value));
    }
    // Kubernetes expands $(VAR) in arguments from the container's environment.
    let expand = |word: &str| {
        env.iter().fold(word.to_string(), |w, (k, v)| {
            w.replace(&format!("$({k})"), v)
        })
    };
    let args: Vec<String> = command[1..]
        .iter()
        .chain(words(&c["args"]).iter())
        .map(|w| expand(w))
        .collect();
    let path = setup
        .programs
        .iter()
        .find(|(n, _)| *n == first)
        .map_or_else(|| PathBuf::from(&first), |(_, p)| p.clone());
    let ports = c["ports"].as_array().cloned().unwrap_or_default();
    let probe = &c["readinessProbe"]["httpGet"];
    let port_of = |p: &Value| -> Option<u64> {
        p.as_u64().or_else(|| {
            ports
                .iter()
                .find(|q| q["name"] == *p)
                .and_then(|q| q["containerPort"].as_u64())
        })
    };
    let port = port_of(&probe["port"])
        .or_else(|| ports.first().and_then(|p| p["containerPort"].as_u64()))? as u16;
    let readiness = probe["path"].as_str().unwrap_or("/").to_string();
    let mut command = Command::new(path);
    command.args(args).envs(env);
    Some(Ok((command, port, readiness)))
}
