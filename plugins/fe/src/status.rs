//! `kubectl aml fe status`: one row per azureml-fe object, and the model services per namespace.

use std::collections::BTreeMap;

use aml_core::cli::{Printer, Report, Table, human_age};
use aml_core::k8s::{self, AZUREML_FE, FeObject, Kind, Kube, ModelService, install};
use anyhow::Context as _;
use kube::api::DynamicObject;
use serde::Serialize;
use serde_json::Value;

use crate::object_error;

/// What one azureml-fe object looks like in the cluster.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectStatus {
    kind: &'static str,
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    /// `present`, `absent` or `unknown` (could not be read).
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(skip)]
    age: Option<String>,
    /// Kind-specific facts: replicas and image, service type and IPs, secret keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip)]
    object: FeObject,
}

/// Model services in one namespace.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NamespaceServices {
    namespace: String,
    services: Vec<ModelService>,
    active: usize,
}

/// The whole status report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusReport {
    namespace: String,
    objects: Vec<ObjectStatus>,
    model_services: Vec<NamespaceServices>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_services_error: Option<String>,
    router: RouterStatus,
}

/// Who installed the router, which version, and which router pod leads the autoscaler.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RouterStatus {
    /// `kubectl-aml`, `other` (Azure ML's own azureml-fe, or another tool) or `none`.
    installed_by: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    /// The holder of the autoscaler's Lease (`azureml-fe-autoscaler`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    leader: Option<String>,
}

/// The autoscaler's Lease (`fe serve --lease-name`'s default).
const LEASE: &str = "azureml-fe-autoscaler";

fn router_status(
    deployment: Option<&DynamicObject>,
    lease: Option<&DynamicObject>,
) -> RouterStatus {
    let label = |name: &str| {
        deployment
            .and_then(|d| d.metadata.labels.as_ref())
            .and_then(|l| l.get(name).cloned())
    };
    let installed_by = match (deployment, label(install::MANAGED_BY_LABEL)) {
        (None, _) => "none",
        (Some(_), Some(by)) if by == install::MANAGED_BY => "kubectl-aml",
        (Some(_), _) => "other",
    };
    let leader = lease
        .and_then(|l| l.data.pointer("/spec/holderIdentity"))
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .map(str::to_string);
    RouterStatus {
        installed_by,
        version: label(install::VERSION_LABEL).filter(|_| installed_by == "kubectl-aml"),
        leader,
    }
}

pub(crate) async fn run(kube: &Kube, out: &mut Printer) -> anyhow::Result<()> {
    let namespace = kube.namespace.clone();
    let reads = AZUREML_FE
        .iter()
        .map(|o| k8s::get_opt(kube, o.kind, &namespace, o.name));
    let (objects, services, lease) = futures::join!(
        futures::future::join_all(reads),
        k8s::list_model_services(kube),
        k8s::get_opt(kube, Kind::LEASE, &namespace, LEASE)
    );
    let deployment = objects[5].as_ref().ok().and_then(Option::as_ref);
    // The Lease is extra: without it (or the right to read it) the leader is just not shown.
    let router = router_status(deployment, lease.ok().flatten().as_ref());
    // When nothing at all could be read, the cause is the connection or the credential, not one
    // object: report it as such (with its own exit code and hint).
    if objects.iter().all(Result::is_err)
        && let Err(e) = services
    {
        return Err(anyhow::Error::new(e)).context(format!(
            "cannot read the azureml-fe objects in namespace `{namespace}`"
        ));
    }
    let now = jiff::Timestamp::now();
    let objects: Vec<ObjectStatus> = AZUREML_FE
        .iter()
        .zip(objects)
        .map(|(o, read)| object_status(*o, &namespace, read, now))
        .collect();
    let (model_services, model_services_error) = match services {
        Ok(list) => (group_by_namespace(list), None),
        Err(e) => (vec![], Some(object_error(&e))),
    };
    let report = StatusReport {
        namespace: namespace.clone(),
        objects,
        model_services,
        model_services_error,
        router,
    };
    out.report(&report)?;
    let unreadable = report.objects.iter().filter(|o| o.error.is_some()).count();
    if let Some(e) = &report.model_services_error {
        out.warn(&format!("cannot list model services: {e}"));
    }
    if unreadable > 0 || report.model_services_error.is_some() {
        let message = format!(
            "could not read {unreadable} of {} azureml-fe objects or the model services",
            AZUREML_FE.len()
        );
        return Err(aml_core::Error::failed(
            message,
            "check your permissions with `kubectl auth can-i get <resource>`",
        ))
        .context(format!("incomplete status for namespace `{namespace}`"));
    }
    Ok(())
}

fn object_status(
    object: FeObject,
    namespace: &str,
    read: Result<Option<DynamicObject>, k8s::Error>,
    now: jiff::Timestamp,
) -> ObjectStatus {
    let mut row = ObjectStatus {
        kind: object.kind.kind,
        name: object.name,
        namespace: object.kind.namespaced.then(|| namespace.to_string()),
        status: "absent",
        created: None,
        age: None,
        details: None,
        error: None,
        object,
    };
    match read {
        Ok(None) => {}
        Ok(Some(found)) => {
            row.status = "present";
            if let Some(created) = found.metadata.creation_timestamp.as_ref() {
                row.created = Some(created.0.to_string());
                row.age = Some(human_age(now.duration_since(created.0).as_secs()));
            }
            row.details = details(object.kind, &found.data);
        }
        Err(e) => {
            row.status = "unknown";
            row.error = Some(object_error(&e));
        }
    }
    row
}

/// The facts worth showing per kind; secrets show key names only, never values.
fn details(kind: Kind, data: &Value) -> Option<Value> {
    let text = |v: &Value| v.as_str().map(str::to_string);
    match kind {
        Kind::DEPLOYMENT => Some(serde_json::json!({
            "desiredReplicas": data.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1),
            "readyReplicas": data.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0),
            "images": data.pointer("/spec/template/spec/containers").and_then(Value::as_array)
                .map(|c| c.iter().filter_map(|c| text(&c["image"])).collect::<Vec<_>>()).unwrap_or_default(),
        })),
        Kind::SERVICE => {
            let ingress = data
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array);
            let external: Vec<String> = ingress
                .into_iter()
                .flatten()
                .filter_map(|i| text(&i["ip"]).or_else(|| text(&i["hostname"])))
                .collect();
            Some(serde_json::json!({
                "type": data.pointer("/spec/type").and_then(text).unwrap_or_else(|| "ClusterIP".into()),
                "clusterIP": data.pointer("/spec/clusterIP").and_then(text),
                "externalIPs": external,
            }))
        }
        Kind::SECRET => {
            let keys: Vec<&String> = data
                .get("data")
                .and_then(Value::as_object)
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            Some(serde_json::json!({"type": data.get("type").and_then(text), "keys": keys}))
        }
        _ => None,
    }
}

fn group_by_namespace(services: Vec<ModelService>) -> Vec<NamespaceServices> {
    let mut by_namespace: BTreeMap<String, Vec<ModelService>> = BTreeMap::new();
    for service in services {
        by_namespace
            .entry(service.namespace.clone())
            .or_default()
            .push(service);
    }
    by_namespace
        .into_iter()
        .map(|(namespace, services)| NamespaceServices {
            active: services.iter().filter(|s| s.is_active()).count(),
            namespace,
            services,
        })
        .collect()
}

fn info(row: &ObjectStatus) -> String {
    if let Some(e) = &row.error {
        return e.clone();
    }
    let Some(d) = &row.details else {
        return String::new();
    };
    let list = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    match row.object.kind {
        Kind::DEPLOYMENT => format!(
            "{}/{} ready, image {}",
            d["readyReplicas"],
            d["desiredReplicas"],
            list(&d["images"])
        ),
        Kind::SERVICE => {
            let mut text = format!(
                "{} {}",
                d["type"].as_str().unwrap_or(""),
                d["clusterIP"].as_str().unwrap_or("None")
            );
            match (d["type"].as_str(), list(&d["externalIPs"])) {
                (_, ips) if !ips.is_empty() => text.push_str(&format!(", external {ips}")),
                (Some("LoadBalancer"), _) => text.push_str(", external <pending>"),
                _ => {}
            }
            text
        }
        Kind::SECRET => format!("keys: {}", list(&d["keys"])),
        _ => String::new(),
    }
}

impl Report for StatusReport {
    fn tables(&self, wide: bool) -> Vec<Table> {
        let mut headers = vec!["KIND", "NAME"];
        if wide {
            headers.push("NAMESPACE");
        }
        headers.extend(["STATUS", "AGE", "INFO"]);
        let mut objects = Table::new(headers);
        for row in &self.objects {
            let mut cells = vec![row.kind.to_string(), row.name.to_string()];
            if wide {
                cells.push(row.namespace.clone().unwrap_or_else(|| "<cluster>".into()));
            }
            cells.extend([
                row.status.to_string(),
                row.age.clone().unwrap_or_else(|| "-".into()),
                info(row),
            ]);
            objects.row(cells);
        }
        let mut services = Table::new(["NAMESPACE", "MODEL SERVICES", "ACTIVE", "REPLICAS"]);
        for ns in &self.model_services {
            let replicas: i32 = ns.services.iter().map(|s| s.replicas).sum();
            services.row([
                ns.namespace.clone(),
                ns.services.len().to_string(),
                ns.active.to_string(),
                replicas.to_string(),
            ]);
        }
        let mut router = Table::new(["ROUTER INSTALLED BY", "VERSION", "AUTOSCALER LEADER"]);
        router.row([
            self.router.installed_by.to_string(),
            self.router.version.clone().unwrap_or_else(|| "-".into()),
            self.router.leader.clone().unwrap_or_else(|| "-".into()),
        ]);
        if services.is_empty() && self.model_services_error.is_none() {
            let mut none = Table::new(["MODEL SERVICES"]);
            none.row(["none found (no Deployment labelled isazuremlapp=true)"]);
            return vec![objects, router, none];
        }
        vec![objects, router, services]
    }

    fn names(&self) -> Vec<String> {
        self.objects
            .iter()
            .filter(|o| o.status == "present")
            .map(|o| o.object.kubectl_name())
            .collect()
    }
}
