//! The sandbox's Deployment controller and kubelet for model Deployments (`isazuremlapp=true`, any
//! namespace) and the router's (`fe install`'s, labelled managed-by kubectl-aml), through the API
//! server: pods to match each Deployment (`controller::plan`), each
//! pod a free port of its own, run by [`super::pods`]; Deployment status kept as the real
//! controller keeps it; pods of a deleted Deployment removed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use super::controller::{self, HASH_LABEL, PodView};

use super::pods::{Process, Setup, kubelet};
use super::python::Runtime;
use super::replica::free_port;

/// A running controller + kubelet; stops every replica when dropped.
pub struct ProcessKubelet {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    reports: Arc<Mutex<Vec<String>>>,
}

impl ProcessKubelet {
    /// Starts managing the Deployments of the cluster `setup.kubeconfig` points at (on a thread
    /// and runtime of its own: processes are started and stopped with blocking calls).
    pub fn start(setup: Setup, runtime: Runtime) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let reports = Arc::new(Mutex::new(Vec::new()));
        let (flag, said) = (stop.clone(), reports.clone());
        let thread = std::thread::spawn(move || {
            aml_core::init_crypto();
            let tokio = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            tokio.block_on(async move {
                let config =
                    kube::config::Kubeconfig::read_from(&setup.kubeconfig).expect("kubeconfig");
                let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
                    .await
                    .expect("kubeconfig");
                let client = kube::Client::try_from(config).expect("client");
                run(client, runtime, setup, flag, said).await;
            });
        });
        Self {
            stop,
            thread: Some(thread),
            reports,
        }
    }

    /// Problems seen so far (a replica that exits, or never turns ready), one line each; taken.
    pub fn take_reports(&self) -> Vec<String> {
        std::mem::take(&mut *self.reports.lock().expect("reports"))
    }
}

impl Drop for ProcessKubelet {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn api(
    client: &kube::Client,
    kind: (&str, &str, &str),
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let (group, version, plural) = kind;
    let gvk = kube::api::GroupVersionKind::gvk(group, version, "");
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

const DEPLOYMENTS: (&str, &str, &str) = ("apps", "v1", "deployments");
const PODS: (&str, &str, &str) = ("", "v1", "pods");
const MODEL_LABEL: &str = "isazuremlapp=true";
/// The router's Deployment as `fe install` labels it.
const ROUTER_LABEL: &str = "app.kubernetes.io/managed-by=kubectl-aml";
/// The label on every pod the sandbox made: the Deployment's name.
const OWNER_LABEL: &str = "kubectl-aml.io/sandbox-owner";

async fn run(
    client: kube::Client,
    runtime: Runtime,
    setup: Setup,
    stop: Arc<AtomicBool>,
    reports: Arc<Mutex<Vec<String>>>,
) {
    let mut processes: BTreeMap<(String, String), Process> = BTreeMap::new();
    let mut order = 0u64;
    let model = ListParams::default().labels(MODEL_LABEL);
    let installed = ListParams::default().labels(ROUTER_LABEL);
    let ours = ListParams::default().labels(OWNER_LABEL);
    while !stop.load(SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (Ok(models), Ok(routers), Ok(pods)) = (
            api(&client, DEPLOYMENTS, None).list(&model).await,
            api(&client, DEPLOYMENTS, None).list(&installed).await,
            api(&client, PODS, None).list(&ours).await,
        ) else {
            continue; // the API server is away: keep what runs, try again
        };
        let deployments: Vec<DynamicObject> =
            models.items.into_iter().chain(routers.items).collect();
        let mut owned: BTreeMap<(String, String), Vec<DynamicObject>> = BTreeMap::new();
        for pod in pods.items {
            let owner = pod
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(OWNER_LABEL))
                .cloned();
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            if let Some(owner) = owner {
                owned.entry((ns, owner)).or_default().push(pod);
            }
        }
        for deployment in &deployments {
            let ns = deployment.metadata.namespace.clone().unwrap_or_default();
            let name = deployment.metadata.name.clone().unwrap_or_default();
            let pods = owned
                .remove(&(ns.clone(), name.clone()))
                .unwrap_or_default();
            let data = json!({"metadata": {"generation": deployment.metadata.generation}, "spec": deployment.data["spec"]});
            let views: Vec<PodView> = pods
                .iter()
                .map(|p| {
                    let pod_name = p.metadata.name.clone().unwrap_or_default();
                    let key = (ns.clone(), pod_name.clone());
                    PodView {
                        ready: processes.get(&key).is_some_and(|p| p.ready),
                        order: p
                            .metadata
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get("kubectl-aml.io/sandbox-order"))
                            .and_then(|o| o.parse().ok())
                            .unwrap_or(0),
                        hash: p
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(HASH_LABEL))
                            .cloned()
                            .unwrap_or_default(),
                        name: pod_name,
                    }
                })
                .collect();
            let decided = controller::plan(&data, &views);
            let pods_api = api(&client, PODS, Some(&ns));
            for victim in &decided.delete {
                let _ = pods_api.delete(victim, &DeleteParams::default()).await;
            }
            for _ in 0..decided.create {
                order += 1;
                let pod = new_pod(deployment, &data, order);
                let _ = pods_api.create(&PostParams::default(), &pod).await;
            }
            let status = controller::status(&data, &views);
            let _ = api(&client, DEPLOYMENTS, Some(&ns))
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"status": status})),
                )
                .await;
        }
        // Pods whose Deployment is gone go too (the garbage collector's job).
        for ((ns, _), pods) in owned {
            for pod in pods {
                let _ = api(&client, PODS, Some(&ns))
                    .delete(
                        &pod.metadata.name.unwrap_or_default(),
                        &DeleteParams::default(),
                    )
                    .await;
            }
        }
        let listed = match api(&client, PODS, None).list(&ours).await {
            Ok(list) => list.items,
            Err(_) => continue,
        };
        kubelet(&client, &runtime, &setup, &listed, &mut processes, &reports).await;
    }
    for (_, process) in std::mem::take(&mut processes) {
        process.stop();
    }
}

/// A pod of `deployment`'s current template, on a free port of its own.
fn new_pod(deployment: &DynamicObject, data: &Value, order: u64) -> DynamicObject {
    let template = &data["spec"]["template"];
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let hash = controller::template_hash(data);
    let mut labels = template["metadata"]["labels"].clone();
    labels[HASH_LABEL] = json!(hash);
    labels[OWNER_LABEL] = json!(name);
    let mut spec = template["spec"].clone();
    // Every pod shares 127.0.0.1: each of its ports becomes a free one (a model's `http` port is
    // the one the router uses), and arguments naming a port (`--http=:8080`) follow.
    let container = &mut spec["containers"][0];
    let mut ports = container["ports"].as_array().cloned().unwrap_or_default();
    if ports.is_empty() {
        ports.push(json!({"name": "http", "containerPort": 5001}));
    }
    let mut args: Vec<String> = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    for port in ports.iter_mut() {
        let (old, new) = (port["containerPort"].as_u64().unwrap_or(0), free_port());
        port["containerPort"] = json!(new);
        for arg in args.iter_mut() {
            if arg.ends_with(&format!("=:{old}")) {
                *arg = arg.replace(&format!("=:{old}"), &format!("=127.0.0.1:{new}"));
            }
        }
    }
    container["ports"] = json!(ports);
    if !args.is_empty() {
        container["args"] = json!(args);
    }
    let object = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("{name}-{hash}-{order}"),
            "namespace": deployment.metadata.namespace,
            "labels": labels,
            "annotations": {"kubectl-aml.io/sandbox-order": order.to_string()},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                 "uid": deployment.metadata.uid, "controller": true}],
        },
        "spec": spec,
    });
    serde_json::from_value(object).expect("a pod")
}
