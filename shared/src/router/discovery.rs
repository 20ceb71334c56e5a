//! Discovery: model Deployments, their pods and their keys Secrets, watched through the API
//! server, kept as backends with ready replicas and published as a new routing table after each
//! batch of changes. One task owns this state; the data path only reads what it publishes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::runtime::watcher;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use super::Shared;
use super::auth::Keys;
use super::backend::{Backend, Config, KeyState};
use super::contract::{self, AuthMode, BackendKey, MODEL_LABEL, ModelDeployment, PodReplica};
use super::events::{self, About};
use super::slots::Replica;
use super::table::Table;
use super::watch::{self, Change};

/// A namespace and a name.
type ObjectKey = (String, String);

/// What discovery knows of the model Deployments and their pods, for the autoscaler.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// Every model Deployment, sorted by namespace and name.
    pub deployments: Vec<ModelDeployment>,
    /// Every model pod.
    pub pods: Vec<PodReplica>,
    /// Whether both were listed (before that, absence means nothing).
    pub listed: bool,
}

/// What the watches send.
// One message per watch event, consumed at once: boxing the objects would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Update {
    /// Model Deployments changed.
    Deployments(Change<Deployment>),
    /// Model pods changed.
    Pods(Change<Pod>),
    /// A keys Secret appeared, changed or went away.
    Keys(ObjectKey, Option<Secret>),
}

/// The discovery task's state.
struct Discovery {
    shared: Arc<Shared>,
    client: kube::Client,
    tx: UnboundedSender<Update>,
    deployments: BTreeMap<ObjectKey, ModelDeployment>,
    pods: BTreeMap<ObjectKey, PodReplica>,
    backends: HashMap<BackendKey, Arc<Backend>>,
    replicas: HashMap<ObjectKey, Arc<Replica>>,
    key_watches: HashMap<ObjectKey, JoinHandle<()>>,
    key_states: HashMap<ObjectKey, KeyState>,
    /// Problems already reported, so each is logged and posted once.
    reported: HashSet<String>,
    listed: (bool, bool),
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectKey {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// Starts the Deployment and pod watches and the task that turns them into routing tables.
pub fn start(shared: Arc<Shared>, client: kube::Client) -> JoinHandle<()> {
    let (tx, rx) = unbounded_channel();
    let (deployments, pods): (Api<Deployment>, Api<Pod>) = match &shared.options.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let selector = format!("{MODEL_LABEL}=true");
    let config = watcher::Config::default().labels(&selector);
    watch::spawn(
        deployments,
        config.clone(),
        "model Deployments".into(),
        tx.clone(),
        Update::Deployments,
    );
    watch::spawn(pods, config, "model pods".into(), tx.clone(), Update::Pods);
    let discovery = Discovery {
        shared,
        client,
        tx,
        deployments: BTreeMap::new(),
        pods: BTreeMap::new(),
        backends: HashMap::new(),
        replicas: HashMap::new(),
        key_watches: HashMap::new(),
        key_states: HashMap::new(),
        reported: HashSet::new(),
        listed: (false, false),
    };
    tokio::spawn(discovery.run(rx))
}

impl Discovery {
    async fn run(mut self, mut rx: UnboundedReceiver<Update>) {
        while let Some(update) = rx.recv().await {
            self.apply(update);
            // Take everything already queued before rebuilding: one table per burst of changes.
            while let Ok(update) = rx.try_recv() {
                self.apply(update);
            }
            self.publish();
        }
    }

    fn apply(&mut self, update: Update) {
        match update {
            Update::Deployments(change) => {
                let parse = |d: &Deployment| {
                    contract::model_deployment(d).map(|m| (key_of(&d.metadata), m))
                };
                match change {
                    Change::Resync(all) => {
                        self.deployments = all.iter().filter_map(parse).collect();
                        self.listed.0 = true;
                    }
                    Change::Apply(d) => match parse(&d) {
                        Some((key, model)) => {
                            self.deployments.insert(key, model);
                        }
                        // Relabelled so it is no longer a model Deployment.
                        None => {
                            self.deployments.remove(&key_of(&d.metadata));
                        }
                    },
                    Change::Delete(d) => {
                        self.deployments.remove(&key_of(&d.metadata));
                    }
                }
            }
            Update::Pods(change) => {
                let parse = |p: &Pod| contract::pod_replica(p).map(|r| (key_of(&p.metadata), r));
                match change {
                    Change::Resync(all) => {
                        self.pods = all.iter().filter_map(parse).collect();
                        self.listed.1 = true;
                    }
                    Change::Apply(p) => match parse(&p) {
                        Some((key, replica)) => {
                            self.pods.insert(key, replica);
                        }
                        None => {
                            self.pods.remove(&key_of(&p.metadata));
                        }
                    },
                    Change::Delete(p) => {
                        self.pods.remove(&key_of(&p.metadata));
                    }
                }
            }
            Update::Keys(key, secret) => {
                let what = format!("Secret `{}/{}`", key.0, key.1);
                let state = match secret {
                    None => KeyState::Unusable(format!("{what} does not exist")),
                    Some(secret) => match Keys::from_secret(&secret, &what) {
                        Ok(keys) => KeyState::Loaded(keys),
                        Err(why) => KeyState::Unusable(why),
                    },
                };
                self.key_states.insert(key, state);
            }
        }
    }

    /// Makes backends, replicas, key watches and the table match what the watches saw.
    fn publish(&mut self) {
        let mut wanted: BTreeMap<BackendKey, ModelDeployment> = BTreeMap::new();
        let mut duplicates = Vec::new();
        for model in self.deployments.values() {
            match wanted.get(&model.key) {
                Some(first) => duplicates.push((first.name.clone(), model.clone())),
                None => {
                    wanted.insert(model.key.clone(), model.clone());
                }
            }
        }
        for (first, model) in duplicates {
            let message = format!(
                "Deployments {first} and {} in namespace {} both serve {}; serving {first}",
                model.name,
                model.key.namespace,
                model.key.app.describe()
            );
            self.report(&model, "DuplicateModel", message);
        }
        self.backends.retain(|key, backend| {
            let keep = wanted.contains_key(key);
            if !keep {
                backend.pool.set_ready(Vec::new());
            }
            keep
        });
        for (key, model) in &wanted {
            let config = Config {
                deployment: model.name.clone(),
                settings: model.settings.clone(),
            };
            match self.backends.get(key) {
                Some(backend) => {
                    backend.set_config(config);
                }
                None => {
                    let metrics = self.shared.metrics.backend(key);
                    self.backends
                        .insert(key.clone(), Backend::new(key.clone(), config, metrics));
                }
            }
            for bad in &model.bad {
                let message = format!(
                    "annotation {} not used: {}; using the default",
                    bad.annotation, bad.reason
                );
                self.report(model, "BadAnnotation", message);
            }
        }
        self.publish_replicas();
        self.publish_keys(&wanted);
        let (table, conflicts) = Table::build(self.backends.values().cloned().collect());
        for conflict in conflicts {
            if self.reported.insert(conflict.clone()) {
                tracing::warn!("{conflict}");
            }
        }
        *self.shared.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        self.shared.view.send_replace(Arc::new(ClusterView {
            deployments: self.deployments.values().cloned().collect(),
            pods: self.pods.values().cloned().collect(),
            listed: self.listed == (true, true),
        }));
        // Ready once both lists are in and every key-auth service has its keys Secret read
        // (found or not): before that, requests would fail for want of keys, not of a good key.
        if self.listed == (true, true) && !self.backends.values().any(|b| b.keys_pending()) {
            self.shared.health.set_synced();
        }
    }

    fn publish_replicas(&mut self) {
        let pods = &self.pods;
        self.replicas
            .retain(|key, replica| pods.get(key).and_then(|p| p.addr) == Some(replica.addr));
        let mut ready: HashMap<&BackendKey, Vec<Arc<Replica>>> = HashMap::new();
        for (key, pod) in pods {
            let Some(addr) = pod.addr else { continue };
            let replica = self
                .replicas
                .entry(key.clone())
                .or_insert_with(|| Replica::new(pod.name.clone(), addr));
            if pod.ready {
                ready.entry(&pod.key).or_default().push(replica.clone());
            }
        }
        for (key, backend) in &self.backends {
            backend
                .pool
                .set_ready(ready.remove(key).unwrap_or_default());
        }
    }

    /// Watches exactly the keys Secrets that key-auth services name, and gives each its keys.
    fn publish_keys(&mut self, wanted: &BTreeMap<BackendKey, ModelDeployment>) {
        let needed: HashSet<ObjectKey> = wanted
            .values()
            .filter(|m| m.settings.auth == AuthMode::Key)
            .map(|m| (m.key.namespace.clone(), m.settings.keys_secret.clone()))
            .collect();
        self.key_watches.retain(|key, watch| {
            let keep = needed.contains(key);
            if !keep {
                watch.abort();
            }
            keep
        });
        self.key_states.retain(|key, _| needed.contains(key));
        for key in &needed {
            if self.key_watches.contains_key(key) {
                continue;
            }
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &key.0);
            let what = format!("keys Secret {}/{}", key.0, key.1);
            let owned = key.clone();
            let handle = watch::spawn_one(api, &key.1, what, self.tx.clone(), move |secret| {
                Update::Keys(owned.clone(), secret)
            });
            self.key_watches.insert(key.clone(), handle);
        }
        let mut unusable = Vec::new();
        for model in wanted.values() {
            let Some(backend) = self.backends.get(&model.key) else {
                continue;
            };
            let secret = (
                model.key.namespace.clone(),
                model.settings.keys_secret.clone(),
            );
            let state = match model.settings.auth {
                AuthMode::Key => self
                    .key_states
                    .get(&secret)
                    .cloned()
                    .unwrap_or(KeyState::Pending),
                _ => KeyState::Pending,
            };
            if let KeyState::Unusable(why) = &state {
                unusable.push((model.clone(), why.clone()));
            }
            backend.set_keys(state);
        }
        for (model, why) in unusable {
            let message = format!(
                "{}: requests get 401 until it is fixed: {why}",
                model.key.app.describe()
            );
            self.report(&model, "KeysUnusable", message);
        }
    }

    /// Logs a problem with a model Deployment and posts it as a Warning Event, once per text.
    fn report(&mut self, model: &ModelDeployment, reason: &'static str, message: String) {
        if !self
            .reported
            .insert(format!("{}/{}: {message}", model.key.namespace, model.name))
        {
            return;
        }
        tracing::warn!(namespace = %model.key.namespace, deployment = %model.name, "{message}");
        let about = About {
            namespace: model.key.namespace.clone(),
            name: model.name.clone(),
            uid: model.uid.clone(),
        };
        events::warn(&self.client, about, reason, message);
    }
}
