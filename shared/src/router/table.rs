//! The routing table: v1 service names and v2 endpoint names to backends, rebuilt from discovery
//! and swapped whole. v2 traffic splits are picked by smooth weighted round robin (nginx's), so a
//! 90/10 split is exactly 9 in 10 over every 10 requests rather than 90 % on average.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::backend::Backend;
use super::contract::App;

/// One deployment of an endpoint and its share of the traffic.
#[derive(Debug)]
struct Weighted {
    backend: Arc<Backend>,
    weight: i64,
}

/// A v2 endpoint: its deployments and the round-robin state of its split.
#[derive(Debug)]
pub struct Endpoint {
    deployments: BTreeMap<String, Weighted>,
    current: Mutex<Vec<i64>>,
}

/// Why an endpoint request found no deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// The `azureml-model-deployment` header names no deployment of the endpoint.
    UnknownDeployment(String),
    /// No deployment has a positive weight.
    NoWeight,
}

impl Endpoint {
    /// The deployment the header names, else one picked by the weights.
    pub fn pick(&self, header: Option<&str>) -> Result<Arc<Backend>, Miss> {
        if let Some(name) = header {
            return self
                .deployments
                .get(name)
                .map(|w| w.backend.clone())
                .ok_or_else(|| Miss::UnknownDeployment(name.to_string()));
        }
        let total: i64 = self.deployments.values().map(|w| w.weight).sum();
        if total <= 0 {
            return Err(Miss::NoWeight);
        }
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let mut best = 0;
        for (i, w) in self.deployments.values().enumerate() {
            current[i] += w.weight;
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        let chosen = self.deployments.values().nth(best).expect("index in range");
        Ok(chosen.backend.clone())
    }
}

/// Everything routable now.
#[derive(Debug, Default)]
pub struct Table {
    services: HashMap<String, Arc<Backend>>,
    endpoints: HashMap<String, Endpoint>,
    all: Vec<Arc<Backend>>,
}

impl Table {
    /// Builds the table. When two namespaces serve the same service or endpoint name, the first
    /// namespace (in name order) wins and a line saying so is returned for the log.
    pub fn build(mut backends: Vec<Arc<Backend>>) -> (Self, Vec<String>) {
        backends.sort_by(|a, b| a.key.cmp(&b.key));
        let mut table = Self::default();
        let mut conflicts = Vec::new();
        let mut endpoint_namespace: HashMap<String, String> = HashMap::new();
        let mut grouped: BTreeMap<String, BTreeMap<String, Arc<Backend>>> = BTreeMap::new();
        for backend in &backends {
            let namespace = &backend.key.namespace;
            match &backend.key.app {
                App::Service(name) => match table.services.get(name) {
                    Some(winner) => conflicts.push(format!(
                        "service {name} is in namespaces {} and {namespace}; serving the first",
                        winner.key.namespace
                    )),
                    None => {
                        table.services.insert(name.clone(), backend.clone());
                    }
                },
                App::Endpoint {
                    endpoint,
                    deployment,
                } => {
                    let owner = endpoint_namespace
                        .entry(endpoint.clone())
                        .or_insert_with(|| namespace.clone());
                    if owner != namespace {
                        conflicts.push(format!(
                            "endpoint {endpoint} is in namespaces {owner} and {namespace}; serving the first"
                        ));
                        continue;
                    }
                    grouped
                        .entry(endpoint.clone())
                        .or_default()
                        .insert(deployment.clone(), backend.clone());
                }
            }
        }
        for (name, deployments) in grouped {
            table.endpoints.insert(name, endpoint(deployments));
        }
        table.all = backends;
        (table, conflicts)
    }

    /// The backend of a v1 service.
    pub fn service(&self, name: &str) -> Option<&Arc<Backend>> {
        self.services.get(name)
    }

    /// A v2 endpoint.
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.get(name)
    }

    /// Every backend, for metrics.
    pub fn backends(&self) -> &[Arc<Backend>] {
        &self.all
    }
}

/// Weights: `kubectl-aml.io/traffic` where set (absent = 0); when no deployment of the endpoint
/// sets it, they share equally (so a lone deployment takes all of it).
fn endpoint(deployments: BTreeMap<String, Arc<Backend>>) -> Endpoint {
    let any_set = deployments
        .values()
        .any(|b| b.config().settings.traffic.is_some());
    let deployments: BTreeMap<String, Weighted> = deployments
        .into_iter()
        .map(|(name, backend)| {
            let traffic = backend.config().settings.traffic;
            let weight = match (any_set, traffic) {
                (false, _) => 1,
                (true, t) => i64::from(t.unwrap_or(0)),
            };
            (name, Weighted { backend, weight })
        })
        .collect();
    let count = deployments.len();
    Endpoint {
        deployments,
        current: Mutex::new(vec![0; count]),
    }
}

#[cfg(test)]
mod tests;
