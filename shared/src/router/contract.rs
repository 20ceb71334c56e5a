//! The open azureml-fe contract with model pods: which Deployments and pods are model replicas,
//! the settings their annotations carry (v1 defaults when absent), and where a replica listens.
//! Pure functions over the Kubernetes objects; README "The model pod contract" says the same.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

/// Label on model Deployments and their pods.
pub const MODEL_LABEL: &str = "isazuremlapp";
/// Pod label naming a v1 service.
pub const V1_SERVICE_LABEL: &str = "azuremlappname";
/// Pod label naming a v2 endpoint.
pub const V2_ENDPOINT_LABEL: &str = "ml.azure.com/endpoint-name";
/// Pod label naming a v2 endpoint's deployment.
pub const V2_DEPLOYMENT_LABEL: &str = "ml.azure.com/deployment-name";
/// Prefix of the settings annotations on a model Deployment.
pub const ANNOTATION_PREFIX: &str = "kubectl-aml.io/";
/// The scoring port when a pod declares none (the Azure ML inference server's).
pub const DEFAULT_PORT: u16 = 5001;

/// What a model Deployment serves: a v1 service, or one deployment of a v2 endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum App {
    /// `/api/v1/service/<name>/…`.
    Service(String),
    /// `/api/v1/endpoint/<endpoint>/…`, deployment `deployment`.
    Endpoint {
        /// The endpoint name.
        endpoint: String,
        /// The deployment name.
        deployment: String,
    },
}

impl App {
    /// The app named by model labels, if they name one (the v1 label wins when both are present).
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Self> {
        if labels.get(MODEL_LABEL).map(String::as_str) != Some("true") {
            return None;
        }
        if let Some(name) = labels.get(V1_SERVICE_LABEL).filter(|n| !n.is_empty()) {
            return Some(Self::Service(name.clone()));
        }
        let endpoint = labels.get(V2_ENDPOINT_LABEL).filter(|n| !n.is_empty())?;
        let deployment = labels.get(V2_DEPLOYMENT_LABEL).filter(|n| !n.is_empty())?;
        Some(Self::Endpoint {
            endpoint: endpoint.clone(),
            deployment: deployment.clone(),
        })
    }

    /// How messages name it: `service sentiment`, `endpoint ep1 (deployment blue)`.
    pub fn describe(&self) -> String {
        match self {
            Self::Service(name) => format!("service {name}"),
            Self::Endpoint {
                endpoint,
                deployment,
            } => format!("endpoint {endpoint} (deployment {deployment})"),
        }
    }
}

/// A model Deployment's identity: its namespace and what it serves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendKey {
    /// Namespace of the Deployment and its pods.
    pub namespace: String,
    /// What it serves.
    pub app: App,
}

/// How a service authenticates its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `Authorization: Bearer <primaryKey|secondaryKey>` (the default).
    Key,
    /// A JWT signed by a key of `--token-keys-secret`.
    Token,
    /// No check.
    None,
}

/// The settings of one model Deployment, from its annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `kubectl-aml.io/auth`.
    pub auth: AuthMode,
    /// `kubectl-aml.io/keys-secret`: Secret in the same namespace with `primaryKey`/`secondaryKey`.
    pub keys_secret: String,
    /// `kubectl-aml.io/max-concurrent-requests`: in flight per replica.
    pub max_concurrent: u32,
    /// `kubectl-aml.io/max-queue-wait-ms`.
    pub max_queue_wait: Duration,
    /// `kubectl-aml.io/request-timeout-ms`: until the replica's answer starts.
    pub request_timeout: Duration,
    /// `kubectl-aml.io/traffic` (v2): this deployment's weight; `None` when absent.
    pub traffic: Option<u32>,
    /// `kubectl-aml.io/token-audience`: the `aud` tokens must carry [default: the service or
    /// endpoint name].
    pub token_audience: Option<String>,
}

/// An annotation that could not be used; the service runs with the default instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadAnnotation {
    /// The full annotation name.
    pub annotation: String,
    /// Why it was not used (its value and the accepted range).
    pub reason: String,
}

const MAX_CONCURRENT_LIMIT: u32 = 1024;
/// v1 refuses scoring timeouts above 300 s.
const MAX_TIMEOUT_MS: u64 = 300_000;
const MAX_QUEUE_WAIT_MS: u64 = 300_000;

impl Settings {
    /// The v1 defaults: key auth, `<deployment>-keys`, 1 in flight, 500 ms queue wait, and a
    /// 60 s timeout for v1 services or 5 s for v2 endpoints.
    pub fn defaults(deployment: &str, app: &App) -> Self {
        Self {
            auth: AuthMode::Key,
            keys_secret: format!("{deployment}-keys"),
            max_concurrent: 1,
            max_queue_wait: Duration::from_millis(500),
            request_timeout: Duration::from_millis(match app {
                App::Service(_) => 60_000,
                App::Endpoint { .. } => 5_000,
            }),
            traffic: None,
            token_audience: None,
        }
    }

    /// Reads the annotations over the defaults; each unusable one is reported and left at its default.
    pub fn from_annotations(
        deployment: &str,
        app: &App,
        annotations: &BTreeMap<String, String>,
    ) -> (Self, Vec<BadAnnotation>) {
        let mut settings = Self::defaults(deployment, app);
        let mut bad = Vec::new();
        for (name, value) in annotations {
            let Some(key) = name.strip_prefix(ANNOTATION_PREFIX) else {
                continue;
            };
            let value = value.trim();
            let result: Result<(), String> = match key {
                "auth" => match value {
                    "key" | "token" | "none" => {
                        settings.auth = match value {
                            "key" => AuthMode::Key,
                            "token" => AuthMode::Token,
                            _ => AuthMode::None,
                        };
                        Ok(())
                    }
                    _ => Err(format!("`{value}` is not key, token or none")),
                },
                "keys-secret" if crate::k8s::names::is_dns_subdomain(value) => {
                    settings.keys_secret = value.into();
                    Ok(())
                }
                "keys-secret" => Err(format!("`{value}` is not a Secret name")),
                "max-concurrent-requests" => number(value, 1, MAX_CONCURRENT_LIMIT.into())
                    .map(|n| settings.max_concurrent = n as u32),
                "max-queue-wait-ms" => number(value, 0, MAX_QUEUE_WAIT_MS)
                    .map(|n| settings.max_queue_wait = Duration::from_millis(n)),
                "request-timeout-ms" => number(value, 1, MAX_TIMEOUT_MS)
                    .map(|n| settings.request_timeout = Duration::from_millis(n)),
                "traffic" => number(value, 0, 100).map(|n| settings.traffic = Some(n as u32)),
                "token-audience" if !value.is_empty() => {
                    settings.token_audience = Some(value.into());
                    Ok(())
                }
                "token-audience" => Err("it is empty".into()),
                // Other kubectl-aml.io annotations belong to the autoscaler or to later versions.
                _ => Ok(()),
            };
            if let Err(reason) = result {
                bad.push(BadAnnotation {
                    annotation: name.clone(),
                    reason,
                });
            }
        }
        (settings, bad)
    }
}

fn number(text: &str, min: u64, max: u64) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{text}` is not a whole number from {min} to {max}"
        )),
    }
}

/// A model Deployment as the router needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDeployment {
    /// Namespace and app.
    pub key: BackendKey,
    /// The Deployment's name (for Events and the default keys Secret).
    pub name: String,
    /// The Deployment's uid (for Events).
    pub uid: Option<String>,
    /// Its settings.
    pub settings: Settings,
    /// Annotations that could not be used.
    pub bad: Vec<BadAnnotation>,
    /// Desired replicas (`spec.replicas`; Kubernetes defaults it to 1).
    pub replicas: i32,
    /// Its resourceVersion, the precondition of a scale write.
    pub resource_version: Option<String>,
    /// Its `kubectl-aml.io/` annotations (the autoscaler reads its own from them).
    pub annotations: BTreeMap<String, String>,
}

/// The model Deployment this object is, if it is one: labelled `isazuremlapp=true` with pods
/// labelled for a v1 service or a v2 endpoint deployment.
pub fn model_deployment(deployment: &Deployment) -> Option<ModelDeployment> {
    let meta = &deployment.metadata;
    if meta.labels.as_ref()?.get(MODEL_LABEL).map(String::as_str) != Some("true") {
        return None;
    }
    let template_labels = deployment
        .spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .labels
        .as_ref()?;
    let app = App::from_labels(template_labels)?;
    let name = meta.name.clone()?;
    let empty = BTreeMap::new();
    let (settings, bad) =
        Settings::from_annotations(&name, &app, meta.annotations.as_ref().unwrap_or(&empty));
    Some(ModelDeployment {
        key: BackendKey {
            namespace: meta.namespace.clone().unwrap_or_default(),
            app,
        },
        name,
        uid: meta.uid.clone(),
        settings,
        bad,
        replicas: deployment
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(1),
        resource_version: meta.resource_version.clone(),
        annotations: meta
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| k.starts_with(ANNOTATION_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// Where a pod stands, as the autoscaler counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// Serving.
    Ready,
    /// Scheduled (or not yet considered) and starting.
    Starting,
    /// Pending because the scheduler found no room (`PodScheduled=False`, `Unschedulable`).
    Unschedulable,
    /// Being deleted.
    Terminating,
}

/// One pod of a model Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodReplica {
    /// Which model Deployment's pods it is.
    pub key: BackendKey,
    /// The pod's name.
    pub name: String,
    /// Where it listens for scoring requests, once it has an IP.
    pub addr: Option<SocketAddr>,
    /// Ready condition True, an IP, and not terminating.
    pub ready: bool,
    /// Where it stands.
    pub state: PodState,
}

/// The replica this pod is, if it is a model pod.
pub fn pod_replica(pod: &Pod) -> Option<PodReplica> {
    let meta = &pod.metadata;
    let app = App::from_labels(meta.labels.as_ref()?)?;
    let status = pod.status.as_ref();
    let ip: Option<IpAddr> = status
        .and_then(|s| s.pod_ip.as_deref())
        .and_then(|ip| ip.parse().ok());
    let ready_condition = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let addr = ip.map(|ip| SocketAddr::new(ip, scoring_port(pod)));
    let ready = ready_condition && addr.is_some() && meta.deletion_timestamp.is_none();
    let unschedulable = status.and_then(|s| s.conditions.as_ref()).is_some_and(|c| {
        c.iter().any(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
    });
    let state = if meta.deletion_timestamp.is_some() {
        PodState::Terminating
    } else if ready {
        PodState::Ready
    } else if unschedulable {
        PodState::Unschedulable
    } else {
        PodState::Starting
    };
    Some(PodReplica {
        key: BackendKey {
            namespace: meta.namespace.clone().unwrap_or_default(),
            app,
        },
        name: meta.name.clone()?,
        ready,
        state,
        addr,
    })
}

/// The container port named `http`, else the first declared container port, else 5001.
pub fn scoring_port(pod: &Pod) -> u16 {
    let ports: Vec<_> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .collect();
    let valid = |p: i32| u16::try_from(p).ok().filter(|p| *p > 0);
    ports
        .iter()
        .find(|p| p.name.as_deref() == Some("http"))
        .and_then(|p| valid(p.container_port))
        .or_else(|| ports.first().and_then(|p| valid(p.container_port)))
        .unwrap_or(DEFAULT_PORT)
}

#[cfg(test)]
mod tests;
