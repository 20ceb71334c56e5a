//! A stand-in for the Deployment controller and the kubelet of one model Deployment, for
//! autoscaler tests: every 50 ms it makes the pods match `spec.replicas` through the API server —
//! each pod a real scoring replica ([`ModelServer`]) on 127.0.0.1 that turns Ready after its
//! start-up delay; pods beyond `capacity` stay Pending as unschedulable until room frees; surplus
//! pods are deleted (unschedulable ones first) and their server stopped a second later.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::model_server::ModelServer;

/// What the kubelet did.
#[derive(Debug, Default, Clone)]
pub struct Activity {
    /// Pods created.
    pub created: usize,
    /// Pods deleted.
    pub deleted: usize,
    /// Pods that turned Ready.
    pub readied: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Posted {
    Nothing,
    Unschedulable,
    Starting,
    Ready,
}

struct Managed {
    server: Option<ModelServer>,
    port: u16,
    since: Instant,
    posted: Posted,
}

/// A running kubelet; stops (and stops every replica) on drop.
pub struct Kubelet {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    activity: Arc<Mutex<Activity>>,
}

impl Kubelet {
    /// Manages the pods of `deployment` (a Deployment as seeded) in the cluster of `kubeconfig`.
    pub fn start(
        kubeconfig: &Path,
        deployment: &Value,
        startup: Duration,
        capacity: usize,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let activity = Arc::new(Mutex::new(Activity::default()));
        let kubeconfig = kubeconfig.to_path_buf();
        let deployment = deployment.clone();
        let (flag, log) = (stop.clone(), activity.clone());
        let thread = std::thread::spawn(move || {
            aml_core::init_crypto();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(run(kubeconfig, deployment, startup, capacity, flag, log));
        });
        Self {
            stop,
            thread: Some(thread),
            activity,
        }
    }

    /// What it did so far.
    pub fn activity(&self) -> Activity {
        self.activity.lock().expect("activity").clone()
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

async fn run(
    kubeconfig: std::path::PathBuf,
    deployment: Value,
    startup: Duration,
    capacity: usize,
    stop: Arc<AtomicBool>,
    activity: Arc<Mutex<Activity>>,
) {
    let config = kube::config::Kubeconfig::read_from(&kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let namespace = deployment["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    let name = deployment["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let labels = deployment["spec"]["template"]["metadata"]["labels"].clone();
    let selector = labels
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    let mut managed: BTreeMap<String, Managed> = BTreeMap::new();
    let mut stopping: Vec<(Instant, ModelServer)> = Vec::new();
    let mut next = 0usize;
    while !stop.load(SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stopping.retain(|(at, _)| at.elapsed() < Duration::from_secs(1));
        let Ok(Some(current)) = deployments.get_opt(&name).await else {
            continue;
        };
        let wanted = current.spec.and_then(|s| s.replicas).unwrap_or(1).max(0) as usize;
        let Ok(listed) = pods.list(&ListParams::default().labels(&selector)).await else {
            continue;
        };
        let existing: Vec<String> = listed
            .items
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        managed.retain(|pod, m| {
            let keep = existing.contains(pod);
            if !keep && let Some(server) = m.server.take() {
                stopping.push((Instant::now(), server));
            }
            keep
        });
        while managed.len() < wanted {
            let pod = format!("{name}-{next}");
            next += 1;
            let object = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": namespace, "labels": labels},
                "spec": {"containers": [{"name": "inference-server", "image": "model",
                         "ports": [{"name": "http", "containerPort": free_port()}]}]},
            });
            let Ok(object) = serde_json::from_value::<Pod>(object) else {
                break;
            };
            let port = object
                .spec
                .as_ref()
                .and_then(|s| s.containers[0].ports.as_ref())
                .map_or(0, |p| p[0].container_port as u16);
            if pods.create(&PostParams::default(), &object).await.is_err() {
                break;
            }
            activity.lock().expect("activity").created += 1;
            managed.insert(
                pod,
                Managed {
                    server: None,
                    port,
                    since: Instant::now(),
                    posted: Posted::Nothing,
                },
            );
        }
        while managed.len() > wanted {
            // Like the ReplicaSet controller: unscheduled pods go first, then the newest.
            let victim = managed
                .iter()
                .filter(|(_, m)| m.server.is_none())
                .map(|(p, _)| p.clone())
                .next_back()
                .or_else(|| managed.keys().next_back().cloned());
            let Some(victim) = victim else { break };
            let _ = pods.delete(&victim, &DeleteParams::default()).await;
            if let Some(m) = managed.remove(&victim)
                && let Some(server) = m.server
            {
                stopping.push((Instant::now(), server));
            }
            activity.lock().expect("activity").deleted += 1;
        }
        let mut scheduled = managed.values().filter(|m| m.server.is_some()).count();
        for (pod, m) in managed.iter_mut() {
            let (next, status) = if m.server.is_some() {
                if m.posted == Posted::Ready || m.since.elapsed() < startup {
                    continue;
                }
                activity.lock().expect("activity").readied += 1;
                (
                    Posted::Ready,
                    json!({"phase": "Running", "podIP": "127.0.0.1", "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]}),
                )
            } else if scheduled < capacity {
                m.server = Some(ModelServer::start_on(pod, m.port));
                m.since = Instant::now();
                scheduled += 1;
                (
                    Posted::Starting,
                    json!({"phase": "Pending", "podIP": "127.0.0.1", "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}]}),
                )
            } else if m.posted == Posted::Unschedulable {
                continue;
            } else {
                (
                    Posted::Unschedulable,
                    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available: Insufficient cpu."}]}),
                )
            };
            m.posted = next;
            let _ = pods
                .patch_status(
                    pod,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"status": status})),
                )
                .await;
        }
    }
}
