//! The azureml-fe objects for our router, rendered without I/O: what `kubectl aml fe install`
//! applies (server-side, field manager [`FIELD_MANAGER`]) and prints for GitOps with
//! `--dry-run=client`. Names and order are [`AZUREML_FE`]'s, so `fe cleanup` removes exactly these.

use serde_json::{Value, json};

use super::azureml_fe::AZUREML_FE;

/// The field manager of our server-side applies.
pub const FIELD_MANAGER: &str = "kubectl-aml";
/// The label marking objects we installed (kubectl's recommended `managed-by` label).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY: &str = "kubectl-aml";
/// The label carrying the installed router's version.
pub const VERSION_LABEL: &str = "app.kubernetes.io/version";
/// The pod label the router's Services select (the one Azure ML's azureml-fe pods carry).
pub const APP_LABEL: &str = "azuremlappname";
/// The AKS annotation that puts a LoadBalancer Service on an internal load balancer.
pub const ILB_ANNOTATION: &str = "service.beta.kubernetes.io/azure-load-balancer-internal";
/// The AKS annotation naming the internal load balancer's subnet.
pub const ILB_SUBNET_ANNOTATION: &str =
    "service.beta.kubernetes.io/azure-load-balancer-internal-subnet";

/// The Secret (in the router's namespace) whose public keys sign the tokens of token-auth
/// services: written by whoever issues the tokens (the Azure ML extension; the sandbox's stand-in),
/// not by `fe install`. The router runs without token auth until it exists.
pub const TOKEN_KEYS_SECRET: &str = "azuremlfe-token-keys";
/// Container ports of the router (its `fe serve` listeners).
const HTTP_PORT: u16 = 8080;
const HTTPS_PORT: u16 = 8443;
const ADMIN_PORT: u16 = 9001;
/// The router's drain limit; the pod's grace period leaves 10 s more for the process to exit.
const DRAIN_SECONDS: u32 = 30;

/// The purposes `fe install` knows (the compute's `clusterPurpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Production: 3 router pods on different nodes, the router scales itself.
    FastProd,
    /// Dense production: as FastProd.
    DenseProd,
    /// Dev-test: 1 router pod, no self-scaling.
    DevTest,
}

impl Purpose {
    /// The `fe serve --cluster-purpose` value.
    pub fn flag(self) -> &'static str {
        match self {
            Self::FastProd => "fast-prod",
            Self::DenseProd => "dense-prod",
            Self::DevTest => "dev-test",
        }
    }

    /// Router pods at install.
    pub fn replicas(self) -> u32 {
        match self {
            Self::DevTest => 1,
            Self::FastProd | Self::DenseProd => 3,
        }
    }
}

/// Where the `azureml-fe` Service's address comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadBalancer {
    /// A public IP (the default).
    Public,
    /// An AKS internal load balancer, in this subnet if given.
    Internal {
        /// `--load-balancer-subnet`.
        subnet: Option<String>,
    },
}

/// Everything the manifests depend on.
#[derive(Debug, Clone)]
pub struct InstallSpec {
    /// The namespace of the namespaced objects.
    pub namespace: String,
    /// The router's container image.
    pub image: String,
    /// The version recorded on the objects.
    pub version: String,
    /// The cluster's purpose.
    pub purpose: Purpose,
    /// The router autoscaler's scale-down window.
    pub scale_down_window: std::time::Duration,
    /// The scoring Service's load balancer.
    pub load_balancer: LoadBalancer,
    /// `cert.pem` and `key.pem` for the `azuremlfessl` Secret; `None` leaves the Secret out
    /// (an existing one is kept).
    pub tls: Option<(String, String)>,
    /// Whether the router serves HTTPS (a certificate is given or already in the cluster).
    pub https: bool,
    /// What the router's autoscaler set on an installed Deployment, kept by a re-install.
    pub scaled: Option<RouterScale>,
}

/// The fields of the azureml-fe Deployment the router's own autoscaler owns: a re-install applies
/// them as they are (same value, shared ownership: no conflict, no undoing the autoscaler).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterScale {
    /// `spec.replicas`.
    pub replicas: Option<i64>,
    /// The router container's CPU request.
    pub cpu_request: Option<String>,
    /// The router container's CPU limit.
    pub cpu_limit: Option<String>,
}

impl RouterScale {
    /// Reads them from a live azureml-fe Deployment (as JSON).
    pub fn of(deployment: &Value) -> Self {
        let container = deployment
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["name"] == "azureml-fe"));
        let cpu = |path: &str| {
            container
                .and_then(|c| c.pointer(path))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Self {
            replicas: deployment.pointer("/spec/replicas").and_then(Value::as_i64),
            cpu_request: cpu("/resources/requests/cpu"),
            cpu_limit: cpu("/resources/limits/cpu"),
        }
    }
}

/// The ClusterRole's rules: exactly what `fe serve` and its autoscaler call, and why.
pub fn role_rules() -> Value {
    json!([
        // Discovery watches model Deployments; the autoscaler reads its own (self-scaling) and
        // patches its CPU; the scale subresource writes replica counts.
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["patch"]},
        // Model pods (discovery) and every pod's requests (room for growth); nodes' allocatable.
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
        // Services' keys, the TLS Secret and the token keys, each watched.
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]},
        // The router pods' admin addresses, for the leader to gather their counts.
        {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch"]},
        // ScaledUp/ScaledDown/… and the warnings.
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        // The autoscaler's election.
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]},
        // The guard: a Deployment an HPA targets is left alone.
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ["list", "watch"]}
    ])
}

fn labels(spec: &InstallSpec) -> Value {
    json!({
        "app.kubernetes.io/name": "azureml-fe",
        MANAGED_BY_LABEL: MANAGED_BY,
        VERSION_LABEL: spec.version,
    })
}

fn metadata(spec: &InstallSpec, name: &str, namespaced: bool) -> Value {
    let mut meta = json!({"name": name, "labels": labels(spec)});
    if namespaced {
        meta["namespace"] = json!(spec.namespace);
    }
    meta
}

/// The manifests in [`AZUREML_FE`] order; without a TLS pair the Secret is left out.
pub fn render(spec: &InstallSpec) -> Vec<Value> {
    let [
        sa,
        role,
        binding,
        service,
        internal,
        deployment,
        secret,
        config,
    ] = AZUREML_FE.map(|o| o.name);
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(spec, sa, true)}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": metadata(spec, role, false), "rules": role_rules(),
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": metadata(spec, binding, false),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": spec.namespace}],
        }),
        scoring_service(spec, service),
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": metadata(spec, internal, true),
            "spec": {
                "type": "ClusterIP",
                "selector": {APP_LABEL: "azureml-fe"},
                "ports": [{"name": "admin", "port": ADMIN_PORT, "targetPort": "admin", "protocol": "TCP"}],
            },
        }),
        router_deployment(spec, deployment, config),
    ];
    if let Some((cert, key)) = &spec.tls {
        objects.push(json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": metadata(spec, secret, true),
            "type": "Opaque",
            "stringData": {"cert.pem": cert, "key.pem": key},
        }));
    }
    objects.push(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(spec, config, true),
        "data": {
            "cluster-purpose": spec.purpose.flag(),
            "scale-down-window": format!("{}s", spec.scale_down_window.as_secs().max(1)),
            "version": spec.version,
        },
    }));
    objects
}

fn scoring_service(spec: &InstallSpec, name: &str) -> Value {
    let mut meta = metadata(spec, name, true);
    if let LoadBalancer::Internal { subnet } = &spec.load_balancer {
        meta["annotations"] = json!({ILB_ANNOTATION: "true"});
        if let Some(subnet) = subnet {
            meta["annotations"][ILB_SUBNET_ANNOTATION] = json!(subnet);
        }
    }
    let mut ports =
        vec![json!({"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"})];
    if spec.https {
        ports.push(json!({"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}));
    }
    json!({
        "apiVersion": "v1", "kind": "Service", "metadata": meta,
        "spec": {"type": "LoadBalancer", "selector": {APP_LABEL: "azureml-fe"}, "ports": ports},
    })
}

fn router_deployment(spec: &InstallSpec, name: &str, config: &str) -> Value {
    let from_config = |key: &str| json!({"configMapKeyRef": {"name": config, "key": key}});
    let mut args = vec![
        "serve".to_string(),
        "--fe-namespace=$(POD_NAMESPACE)".into(),
        format!("--http=:{HTTP_PORT}"),
        format!("--admin=:{ADMIN_PORT}"),
        "--cluster-purpose=$(CLUSTER_PURPOSE)".into(),
        "--scale-down-window=$(SCALE_DOWN_WINDOW)".into(),
        format!("--fe-deployment={name}"),
        format!("--drain-timeout={DRAIN_SECONDS}s"),
        format!("--token-keys-secret={TOKEN_KEYS_SECRET}"),
    ];
    if spec.https {
        args.insert(3, format!("--https=:{HTTPS_PORT}"));
    }
    let mut ports = vec![json!({"name": "http", "containerPort": HTTP_PORT})];
    if spec.https {
        ports.push(json!({"name": "https", "containerPort": HTTPS_PORT}));
    }
    ports.push(json!({"name": "admin", "containerPort": ADMIN_PORT}));
    let probe = |path: &str, period: u32| json!({"httpGet": {"path": path, "port": "admin"}, "periodSeconds": period, "timeoutSeconds": 2});
    let mut pod = json!({
        "serviceAccountName": AZUREML_FE[0].name,
        "terminationGracePeriodSeconds": DRAIN_SECONDS + 10,
        "containers": [{
            "name": "azureml-fe",
            "image": spec.image,
            "command": ["kubectl-aml-fe"],
            "args": args,
            "env": [
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "CLUSTER_PURPOSE", "valueFrom": from_config("cluster-purpose")},
                {"name": "SCALE_DOWN_WINDOW", "valueFrom": from_config("scale-down-window")},
            ],
            "ports": ports,
            "readinessProbe": probe("/readyz", 2),
            "livenessProbe": probe("/healthz", 10),
            "resources": {
                "requests": {"cpu": "900m", "memory": "800Mi"},
                "limits": {"memory": "800Mi"},
            },
        }],
    });
    if spec.purpose != Purpose::DevTest {
        // Spread over nodes so one node's loss leaves routers serving (the docs: 3 for HA).
        pod["affinity"] = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100,
            "podAffinityTerm": {
                "labelSelector": {"matchLabels": {APP_LABEL: "azureml-fe"}},
                "topologyKey": "kubernetes.io/hostname",
            },
        }]}});
    }
    let mut replicas = json!(spec.purpose.replicas());
    if let Some(scaled) = &spec.scaled {
        let resources = &mut pod["containers"][0]["resources"];
        if let Some(cpu) = &scaled.cpu_request {
            resources["requests"]["cpu"] = json!(cpu);
        }
        if let Some(cpu) = &scaled.cpu_limit {
            resources["limits"]["cpu"] = json!(cpu);
        }
        if let Some(n) = scaled.replicas {
            replicas = json!(n);
        }
    }
    let mut template_labels = labels(spec);
    template_labels[APP_LABEL] = json!("azureml-fe");
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(spec, name, true),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {APP_LABEL: "azureml-fe"}},
            // A new router is ready before an old one drains: no scoring request is refused.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": template_labels}, "spec": pod},
        },
    })
}

#[cfg(test)]
mod tests;
