//! What the sandbox's Deployment controller decides for one model Deployment, without I/O: which
//! pods to create and which to delete so that `spec.replicas` run the current template, rolling
//! from an old template with `maxSurge`/`maxUnavailable` honoured (the Deployment controller's
//! rules), and the status to report.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Value, json};

/// The label carrying the template's hash on each pod (as the real controller's).
pub const HASH_LABEL: &str = "pod-template-hash";

/// One pod of the Deployment as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodView {
    /// Its name.
    pub name: String,
    /// Its template hash.
    pub hash: String,
    /// Whether it is Ready.
    pub ready: bool,
    /// Creation order (higher is newer).
    pub order: u64,
}

/// What to do this round.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// New pods (of the current template) to create.
    pub create: usize,
    /// Pods to delete.
    pub delete: Vec<String>,
}

/// A short stable hash of the pod template.
pub fn template_hash(deployment: &Value) -> String {
    let mut hasher = DefaultHasher::new();
    deployment["spec"]["template"].to_string().hash(&mut hasher);
    format!("{:010x}", hasher.finish() & 0xff_ffff_ffff)
}

/// `maxSurge` / `maxUnavailable`: an integer, or a percentage of `replicas` (surge rounds up,
/// unavailable down, as Kubernetes does); absent is 25 %.
fn bound(value: &Value, replicas: usize, round_up: bool) -> usize {
    match value {
        Value::Number(n) => n.as_u64().unwrap_or(0) as usize,
        Value::String(s) if s.ends_with('%') => {
            let percent: f64 = s.trim_end_matches('%').parse().unwrap_or(25.0);
            let exact = replicas as f64 * percent / 100.0;
            (if round_up {
                exact.ceil()
            } else {
                exact.floor()
            }) as usize
        }
        _ => bound(&json!("25%"), replicas, round_up),
    }
}

/// Decides one round for a Deployment with `pods`.
pub fn plan(deployment: &Value, pods: &[PodView]) -> Plan {
    let replicas = deployment["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let hash = template_hash(deployment);
    let rolling = &deployment["spec"]["strategy"]["rollingUpdate"];
    let surge = bound(&rolling["maxSurge"], replicas, true);
    // Never both zero (the API server refuses it): at least one may be unavailable.
    let unavailable =
        bound(&rolling["maxUnavailable"], replicas, false).max(usize::from(surge == 0));
    let (current, old): (Vec<&PodView>, Vec<&PodView>) = pods.iter().partition(|p| p.hash == hash);
    let mut plan = Plan::default();
    // Surplus of the current template: not-ready ones first, then the newest.
    let by_victim = |list: &[&PodView]| {
        let mut list: Vec<&PodView> = list.to_vec();
        list.sort_by_key(|p| (p.ready, std::cmp::Reverse(p.order)));
        list.into_iter().map(|p| p.name.clone()).collect::<Vec<_>>()
    };
    if current.len() > replicas {
        plan.delete = by_victim(&current)[..current.len() - replicas].to_vec();
        plan.delete.extend(old.iter().map(|p| p.name.clone()));
        return plan;
    }
    let total = pods.len();
    if old.is_empty() {
        plan.create = replicas - current.len();
        return plan;
    }
    // Old pods go while enough stay ready: not-ready old ones always, ready ones while
    // ready − 1 ≥ replicas − maxUnavailable.
    let mut ready = pods.iter().filter(|p| p.ready).count();
    let floor = replicas.saturating_sub(unavailable);
    for name in by_victim(&old) {
        let pod = old.iter().find(|p| p.name == name).expect("an old pod");
        if pod.ready {
            if ready <= floor {
                break;
            }
            ready -= 1;
        }
        plan.delete.push(name);
    }
    // With no room to surge, deleting makes the room to create.
    let after = total - plan.delete.len();
    plan.create = (replicas - current.len()).min((replicas + surge).saturating_sub(after));
    plan
}

/// The Deployment's status for `pods` (what `kubectl rollout status` reads).
pub fn status(deployment: &Value, pods: &[PodView]) -> Value {
    let hash = template_hash(deployment);
    let ready = pods.iter().filter(|p| p.ready).count();
    let updated = pods.iter().filter(|p| p.hash == hash).count();
    let replicas = deployment["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    json!({
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": pods.len(),
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": replicas.saturating_sub(ready),
        "conditions": [{
            "type": "Available",
            "status": if ready >= replicas { "True" } else { "False" },
            "reason": if ready >= replicas { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
        }],
    })
}

#[cfg(test)]
mod tests;
