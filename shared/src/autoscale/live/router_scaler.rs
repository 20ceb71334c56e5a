//! The router scaling itself, live (the leader, FastProd and DenseProd clusters): the routers'
//! worst p99 routing time and their mean CPU use against the azureml-fe Deployment's CPU request
//! feed `autoscale::RouterPolicy`; more CPU per pod is a patch of the Deployment's container
//! resources (its pods roll, which the router's drain makes harmless), more pods a scale write.
//! Growth only when the nodes' allocatable CPU minus what pods request leaves room.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

use crate::autoscale::{
    ClusterPurpose, RouterAction, RouterObservation, RouterPolicy, RouterSettings,
};
use crate::router::events::{self, About};
use crate::router::stats::ProcessWindow;

/// Which Deployment is the router, and how it scales.
#[derive(Debug, Clone)]
pub struct RouterScaling {
    /// The azureml-fe Deployment's namespace.
    pub namespace: String,
    /// Its name.
    pub deployment: String,
    /// The policy's tuning (its purpose decides whether it runs at all).
    pub settings: RouterSettings,
}

/// CPU cores from a Kubernetes quantity (`900m`, `2`, `1.5`).
pub fn cores(quantity: &str) -> Option<f64> {
    match quantity.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
        None => quantity.parse().ok(),
    }
}

fn quantity(cores: f64) -> String {
    if (cores - cores.round()).abs() < 1e-9 {
        format!("{}", cores.round() as u64)
    } else {
        format!("{}m", (cores * 1000.0).round() as u64)
    }
}

/// The live self-scaler's memory.
pub struct RouterScaler {
    scaling: RouterScaling,
    policy: RouterPolicy,
    said_absent: bool,
}

impl RouterScaler {
    /// A self-scaler for this Deployment.
    pub fn new(scaling: RouterScaling) -> Self {
        if scaling.settings.purpose == ClusterPurpose::DevTest {
            tracing::info!(
                "the router does not scale itself on a DevTest cluster (--cluster-purpose)"
            );
        }
        Self {
            policy: RouterPolicy::new(scaling.settings.clone()),
            scaling,
            said_absent: false,
        }
    }

    /// One tick: observe, decide, act.
    pub async fn tick(&mut self, client: &kube::Client, processes: &[ProcessWindow], at: Duration) {
        if self.scaling.settings.purpose == ClusterPurpose::DevTest {
            return;
        }
        let api: Api<Deployment> = Api::namespaced(client.clone(), &self.scaling.namespace);
        let deployment = match api.get_opt(&self.scaling.deployment).await {
            Ok(Some(deployment)) => deployment,
            Ok(None) => {
                if !self.said_absent {
                    tracing::info!(
                        "no Deployment {}/{}: the router does not scale itself",
                        self.scaling.namespace,
                        self.scaling.deployment
                    );
                    self.said_absent = true;
                }
                return;
            }
            Err(e) => return tracing::debug!(error = %e, "cannot read the router's Deployment"),
        };
        self.said_absent = false;
        let spec = deployment.spec.clone().unwrap_or_default();
        let pods = spec.replicas.unwrap_or(1).max(0) as u32;
        let container = spec
            .template
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .cloned()
            .unwrap_or_default();
        let cpu_per_pod = container
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("cpu"))
            .and_then(|q| cores(&q.0))
            .unwrap_or(1.0);
        let routing_ms = processes
            .iter()
            .filter_map(|p| p.routing_p99_ms)
            .fold(0.0, f64::max);
        let measured: Vec<f64> = processes
            .iter()
            .filter(|p| p.seconds > 0.0)
            .map(|p| p.cpu_seconds / p.seconds)
            .collect();
        let cpu_utilisation = match measured.len() {
            0 => 0.0,
            n => measured.iter().sum::<f64>() / n as f64 / cpu_per_pod,
        };
        let routing_time = Duration::from_secs_f64(routing_ms / 1e3);
        // Room is looked up only when growth is on the table: it lists every node and pod.
        let cluster_has_room = routing_time > self.scaling.settings.routing_threshold
            && self.room(client, pods, cpu_per_pod).await;
        let observation = RouterObservation {
            at,
            routing_time,
            cpu_utilisation,
            pods,
            cpu_per_pod,
            cluster_has_room,
        };
        let action = self.policy.observe(&observation);
        let details = format!(
            "routing p99 {routing_ms:.1} ms (threshold {} ms), CPU {:.0} % of {} vCPU, {pods} pods",
            self.scaling.settings.routing_threshold.as_millis(),
            cpu_utilisation * 100.0,
            quantity(cpu_per_pod)
        );
        let written = match &action {
            RouterAction::Hold(_) => return,
            RouterAction::ScaleUp { cpu } | RouterAction::ScaleDown { cpu } => {
                let name = container.name.clone();
                let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": name,
                    "resources": {"requests": {"cpu": quantity(*cpu)}, "limits": {"cpu": quantity(*cpu)}}}]}}}});
                api.patch(
                    &self.scaling.deployment,
                    &PatchParams::default(),
                    &Patch::Strategic(&patch),
                )
                .await
                .map(|_| ())
            }
            RouterAction::ScaleOut { pods: to } | RouterAction::ScaleIn { pods: to } => {
                let patch = json!({"metadata": {"resourceVersion": deployment.metadata.resource_version}, "spec": {"replicas": to}});
                api.patch_scale(
                    &self.scaling.deployment,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .map(|_| ())
            }
        };
        let reason = match action {
            RouterAction::ScaleUp { .. } => "RouterScaledUp",
            RouterAction::ScaleOut { .. } => "RouterScaledOut",
            RouterAction::ScaleDown { .. } => "RouterScaledDown",
            _ => "RouterScaledIn",
        };
        let message = format!("{action}: {details}");
        match written {
            Ok(()) => {
                tracing::info!(deployment = %self.scaling.deployment, "{message}");
                let about = About {
                    namespace: self.scaling.namespace.clone(),
                    name: self.scaling.deployment.clone(),
                    uid: deployment.metadata.uid.clone(),
                };
                events::post(client, about, false, reason, message);
            }
            Err(e) => tracing::warn!(error = %e, "could not {action} the router's Deployment"),
        }
    }

    /// Whether the nodes' allocatable CPU, minus what pods request, fits one more router pod and
    /// a step up of every router pod.
    async fn room(&self, client: &kube::Client, pods: u32, cpu_per_pod: f64) -> bool {
        let (nodes, all_pods) = (
            Api::<Node>::all(client.clone()),
            Api::<Pod>::all(client.clone()),
        );
        let (Ok(nodes), Ok(all_pods)) = (
            nodes.list(&ListParams::default()).await,
            all_pods.list(&ListParams::default()).await,
        ) else {
            return false;
        };
        let cpu = |q: Option<&Quantity>| q.and_then(|q| cores(&q.0)).unwrap_or(0.0);
        let allocatable: f64 = nodes
            .items
            .iter()
            .map(|n| {
                cpu(n
                    .status
                    .as_ref()
                    .and_then(|s| s.allocatable.as_ref())
                    .and_then(|a| a.get("cpu")))
            })
            .sum();
        let requested: f64 = all_pods
            .items
            .iter()
            .filter(|p| {
                !matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                )
            })
            .flat_map(|p| p.spec.iter().flat_map(|s| s.containers.iter()))
            .map(|c| {
                cpu(c
                    .resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref())
                    .and_then(|r| r.get("cpu")))
            })
            .sum();
        let next_step = self
            .scaling
            .settings
            .cpu_steps
            .iter()
            .copied()
            .find(|c| *c > cpu_per_pod + 1e-9);
        let growth = match next_step {
            Some(step) => f64::from(pods) * (step - cpu_per_pod),
            None => cpu_per_pod,
        };
        allocatable - requested >= growth.max(cpu_per_pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quantities_read_and_write_like_kubernetes() {
        assert_eq!(cores("900m"), Some(0.9));
        assert_eq!(cores("2"), Some(2.0));
        assert_eq!(cores("1.5"), Some(1.5));
        assert_eq!(cores("lots"), None);
        assert_eq!(
            (quantity(2.0), quantity(0.5), quantity(1.25)),
            ("2".into(), "500m".into(), "1250m".into())
        );
    }
}
