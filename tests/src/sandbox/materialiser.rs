//! The sandbox's Azure ML extension at work: every 300 ms it reads the online deployments ARM holds
//! and makes the cluster match (`extension::render`, applied server-side as `azureml-extension`):
//! new deployments appear, changed settings and regenerated keys follow, deleted ones go. It also
//! keeps the token keys Secret the router trusts (`TOKEN_KEYS_SECRET`) holding ARM's token key.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::thread::JoinHandle;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};

use aml_core::k8s::install::TOKEN_KEYS_SECRET;

use super::extension::{MATERIALISED_LABEL, Online, render};

/// What ARM holds now: each online deployment and its compute's namespace.
pub type Snapshot = Box<dyn Fn() -> Vec<(Online, String)> + Send>;

/// The public keys of the tokens ARM issues, and the router's namespace to put them in.
pub struct TokenKeys {
    /// The router's (azureml-fe's) namespace.
    pub namespace: String,
    /// The JWKS document (`FakeArm::token_jwks`).
    pub jwks: String,
}

/// The running extension; stops when dropped (what it made stays, as in a cluster).
pub struct Extension {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Extension {
    /// Starts keeping the cluster of `kubeconfig` in step with `snapshot`.
    pub fn start(kubeconfig: &Path, snapshot: Snapshot, token_keys: Option<TokenKeys>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let kubeconfig = kubeconfig.to_path_buf();
        let thread = std::thread::spawn(move || {
            aml_core::init_crypto();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let config = kube::config::Kubeconfig::read_from(&kubeconfig).expect("kubeconfig");
                let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
                    .await
                    .expect("kubeconfig");
                let client = kube::Client::try_from(config).expect("client");
                while !flag.load(SeqCst) {
                    if let Some(keys) = &token_keys {
                        put_token_keys(&client, keys).await;
                    }
                    sync(&client, &snapshot()).await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            });
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Extension {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The token keys Secret, as the router reads it (a JWKS under `jwks.json`).
async fn put_token_keys(client: &kube::Client, keys: &TokenKeys) {
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": TOKEN_KEYS_SECRET, "namespace": keys.namespace},
        "stringData": {"jwks.json": keys.jwks},
    });
    let _ = Api::<Secret>::namespaced(client.clone(), &keys.namespace)
        .patch(
            TOKEN_KEYS_SECRET,
            &PatchParams::apply("azureml-extension").force(),
            &Patch::Apply(&secret),
        )
        .await;
}

/// One pass; errors (the API server away) are left for the next.
async fn sync(client: &kube::Client, wanted: &[(Online, String)]) {
    let apply = PatchParams::apply("azureml-extension").force();
    let mut names = BTreeSet::new();
    for (online, namespace) in wanted {
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let name = online.object_name();
        names.insert((namespace.clone(), name.clone()));
        // An autoscaled Deployment keeps the count the router's autoscaler gave it.
        let live = match deployments.get_opt(&name).await {
            Ok(live) => live
                .and_then(|d| d.spec)
                .and_then(|s| s.replicas)
                .map(i64::from),
            Err(_) => continue,
        };
        let (object, secret) = render(online, namespace, live);
        let _ = secrets
            .patch(&format!("{name}-keys"), &apply, &Patch::Apply(&secret))
            .await;
        let _ = deployments
            .patch(&name, &apply, &Patch::Apply(&object))
            .await;
    }
    let ours = ListParams::default().labels(&format!("{MATERIALISED_LABEL}=true"));
    if let Ok(list) = Api::<Deployment>::all(client.clone()).list(&ours).await {
        for d in list.items {
            let (ns, name) = (
                d.metadata.namespace.unwrap_or_default(),
                d.metadata.name.unwrap_or_default(),
            );
            if !names.contains(&(ns.clone(), name.clone())) {
                let _ = Api::<Deployment>::namespaced(client.clone(), &ns)
                    .delete(&name, &DeleteParams::default())
                    .await;
                let _ = Api::<Secret>::namespaced(client.clone(), &ns)
                    .delete(&format!("{name}-keys"), &DeleteParams::default())
                    .await;
            }
        }
    }
}
