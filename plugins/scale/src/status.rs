//! `kubectl aml scale status`: what the autoscaler decided, per model Deployment, and who leads.
//! The numbers come from the leader's `/autoscaler` (through the API server's pod proxy, or
//! `--admin` directly); when it cannot be reached, from the cluster objects instead (Deployments,
//! HorizontalPodAutoscalers and the scaling Events), without utilisation.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aml_core::autoscale::live::annotations;
use aml_core::autoscale::live::gather;
use aml_core::autoscale::live::{LastChange, ServiceStatus, Status};
use aml_core::cli::{Printer, Report, Table, human_age};
use aml_core::k8s::{self, Kube, Target};
use aml_core::router::contract::model_deployment;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::ListParams;
use serde::Serialize;

use crate::cli::StatusArgs;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusReport {
    /// `namespace/name` of the Lease.
    lease: String,
    /// Who holds it.
    leader: Option<String>,
    /// `leader` (its own account) or `cluster` (the objects, when the leader was unreachable).
    source: &'static str,
    services: Vec<ServiceStatus>,
}

fn percent(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.0}%"))
}

impl Report for StatusReport {
    fn tables(&self, wide: bool) -> Vec<Table> {
        let mut headers = vec![
            "NAMESPACE",
            "DEPLOYMENT",
            "READY",
            "MIN",
            "MAX",
            "TARGET",
            "UTILISATION",
            "1 MIN",
            "LAST CHANGE",
            "STATUS",
        ];
        if wide {
            headers.extend(["REASON", "LAST CHANGE REASON"]);
        }
        let mut services = Table::new(headers);
        let now = jiff::Timestamp::now();
        for s in &self.services {
            let last = s.last_change.as_ref().map_or("-".into(), |c| {
                let age = human_age((now - c.at).get_seconds());
                format!("{} → {}, {age} ago", c.from, c.to)
            });
            let number = |n: Option<u32>| n.map_or("-".into(), |n| n.to_string());
            let mut row = vec![
                s.namespace.clone(),
                s.deployment.clone(),
                format!("{}/{}", s.ready, s.desired),
                number(s.min),
                number(s.max),
                s.target.map_or("-".into(), |t| format!("{t}%")),
                percent(s.utilisation),
                percent(s.utilisation_minute),
                last,
                s.not_scaled.clone().unwrap_or_else(|| "autoscaled".into()),
            ];
            if wide {
                row.push(s.reason.clone().unwrap_or_else(|| "-".into()));
                row.push(
                    s.last_change
                        .as_ref()
                        .map_or("-".into(), |c| c.reason.clone()),
                );
            }
            services.row(row);
        }
        let mut leader = Table::new(["LEASE", "LEADER", "SOURCE"]);
        leader.row([
            self.lease.clone(),
            self.leader.clone().unwrap_or_else(|| "none".into()),
            self.source.into(),
        ]);
        vec![services, leader]
    }

    fn names(&self) -> Vec<String> {
        self.services
            .iter()
            .map(|s| format!("deployment.apps/{}", s.deployment))
            .collect()
    }
}

/// The leader's own account: through `--admin`, or the pod proxy to its admin port.
async fn from_leader(kube: &Kube, args: &StatusArgs, leader: &str) -> Result<Status, String> {
    let deadline = Duration::from_secs(5);
    let body = match &args.admin {
        Some(addr) => gather::get(*addr, "/autoscaler", deadline).await?.to_vec(),
        None => {
            let path = format!(
                "/api/v1/namespaces/{}/pods/{leader}:{}/proxy/autoscaler",
                args.fe_namespace, args.admin_port
            );
            let request = http::Request::get(path)
                .body(Vec::new())
                .map_err(|e| e.to_string())?;
            let text = tokio::time::timeout(deadline, kube.client.request_text(request))
                .await
                .map_err(|_| {
                    format!("the pod proxy to {leader} did not answer within {deadline:?}")
                })?
                .map_err(|e| e.to_string())?;
            text.into_bytes()
        }
    };
    serde_json::from_slice(&body).map_err(|e| format!("the leader's answer is not a status: {e}"))
}

/// A list of `resource` (in `namespace`, or all) that failed, as every verb reports API errors:
/// 403 exit 3 with the `kubectl auth can-i` line, TLS and reachability hints.
fn listing(
    kind: &str,
    resource: &str,
    namespace: Option<&str>,
) -> impl Fn(kube::Error) -> k8s::Error {
    let target = Target {
        kind: kind.into(),
        resource: resource.into(),
        namespace: namespace.map(str::to_string),
        name: None,
    };
    move |e| k8s::Error::from_kube("list", target.clone(), e)
}

/// What the cluster objects say, without the leader.
async fn from_cluster(kube: &Kube, namespace: Option<&str>) -> anyhow::Result<Vec<ServiceStatus>> {
    let client = kube.client.clone();
    let (deployments, hpas): (Api<Deployment>, Api<HorizontalPodAutoscaler>) = match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let deployments = deployments
        .list(&ListParams::default().labels("isazuremlapp=true"))
        .await
        .map_err(listing("deployment", "deployments.apps", namespace))?;
    let hpas = hpas.list(&ListParams::default()).await.map_err(listing(
        "horizontalpodautoscaler",
        "horizontalpodautoscalers.autoscaling",
        namespace,
    ))?;
    let blocked: HashMap<(String, String), String> = hpas
        .items
        .iter()
        .filter_map(|h| {
            let spec = h.spec.as_ref()?;
            (spec.scale_target_ref.kind == "Deployment").then(|| {
                let ns = h.metadata.namespace.clone().unwrap_or_default();
                (
                    (ns, spec.scale_target_ref.name.clone()),
                    h.metadata.name.clone().unwrap_or_default(),
                )
            })
        })
        .collect();
    let mut last_changes: BTreeMap<(String, String), LastChange> = BTreeMap::new();
    let events: Api<Event> = match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let listed = events
        .list(&ListParams::default())
        .await
        .map_err(listing("event", "events", namespace))?;
    for event in listed.items {
        let reason = event.reason.as_deref().unwrap_or_default();
        if reason != "ScaledUp" && reason != "ScaledDown" {
            continue;
        }
        let involved = &event.involved_object;
        let key = (
            involved.namespace.clone().unwrap_or_default(),
            involved.name.clone().unwrap_or_default(),
        );
        let Some(at) = event.last_timestamp.as_ref().map(|t| t.0) else {
            continue;
        };
        let message = event.message.clone().unwrap_or_default();
        let counts: Vec<u32> = message
            .split(' ')
            .filter_map(|w| w.parse().ok())
            .take(2)
            .collect();
        let [from, to] = counts[..] else { continue };
        if last_changes.get(&key).is_none_or(|c| c.at < at) {
            last_changes.insert(
                key,
                LastChange {
                    at,
                    from,
                    to,
                    reason: message,
                },
            );
        }
    }
    let mut services = Vec::new();
    for deployment in &deployments.items {
        let Some(model) = model_deployment(deployment) else {
            continue;
        };
        let key = (model.key.namespace.clone(), model.name.clone());
        let ready = deployment
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
            .max(0) as u32;
        let spec = annotations::spec(
            &model.annotations,
            model.settings.max_concurrent,
            Duration::from_secs(60),
        );
        let not_scaled = match (&spec, blocked.get(&key)) {
            (Err(problems), _) => Some(format!(
                "bad annotations ({})",
                problems
                    .iter()
                    .map(|p| p.annotation.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            (Ok(s), _) if !s.enabled => Some("kubectl-aml.io/autoscale is false".into()),
            (_, Some(hpa)) => Some(format!("HorizontalPodAutoscaler {hpa} scales it")),
            _ => None,
        };
        let settings = spec.ok().map(|s| s.settings);
        services.push(ServiceStatus {
            namespace: key.0.clone(),
            deployment: key.1.clone(),
            ready,
            desired: model.replicas.max(0) as u32,
            min: settings.as_ref().map(|s| s.min),
            max: settings.as_ref().map(|s| s.max),
            target: settings.as_ref().map(|s| (s.target * 100.0).round() as u32),
            utilisation: None,
            utilisation_minute: None,
            last_change: last_changes.remove(&key),
            reason: None,
            not_scaled,
        });
    }
    Ok(services)
}

/// Prints the status.
pub(crate) async fn run(
    kube: &Kube,
    args: &StatusArgs,
    namespace: Option<&str>,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let leases: Api<Lease> = Api::namespaced(kube.client.clone(), &args.fe_namespace);
    let lease = format!("{}/{}", args.fe_namespace, args.lease_name);
    let holder = leases
        .get_opt(&args.lease_name)
        .await
        .map_err(|e| {
            k8s::Error::from_kube(
                "read",
                k8s::Kind::LEASE.target(&args.fe_namespace, &args.lease_name),
                e,
            )
        })?
        .and_then(|l| l.spec?.holder_identity)
        .filter(|h| !h.is_empty());
    let from_leader = match &holder {
        Some(leader) => from_leader(kube, args, leader)
            .await
            .map_err(|why| format!("the leader {leader} could not be asked ({why})")),
        None => Err(format!("no router holds the Lease {lease}")),
    };
    let (source, mut services) = match from_leader {
        Ok(status) => ("leader", status.services),
        Err(why) => {
            out.warn(&format!(
                "{why}; showing what the cluster objects say (no utilisation)"
            ));
            ("cluster", from_cluster(kube, namespace).await?)
        }
    };
    if let Some(ns) = namespace {
        services.retain(|s| s.namespace == ns);
    }
    services.sort_by(|a, b| (&a.namespace, &a.deployment).cmp(&(&b.namespace, &b.deployment)));
    out.report(&StatusReport {
        lease,
        leader: holder,
        source,
        services,
    })?;
    Ok(())
}
