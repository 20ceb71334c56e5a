//! What the fake ARM holds: workspaces, clusters (AKS and Arc), their extensions, computes,
//! Kubernetes versions and VM sizes per region, and the long-running operations in flight.
//! Resources are keyed by lower-cased id, as ARM ids compare without regard to case.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

/// The subscription the fake's seed data lives in.
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";
/// The tenant of that subscription.
pub const TENANT: &str = "72f988bf-0000-0000-0000-000000000001";

/// What finishing an operation does.
#[derive(Debug, Clone)]
pub enum Effect {
    /// The compute's provisioning ends; a created (not attached) AKS compute gets its cluster.
    ComputeReady(String),
    /// The compute goes away; with `true` its cluster too (`underlyingResourceAction=Delete`).
    ComputeGone(String, bool),
    /// An online endpoint or deployment finishes provisioning (`Succeeded`, or `Failed`).
    Provisioned(String),
    /// An online endpoint (with its deployments) or a deployment goes away.
    Removed(String),
    /// An endpoint key is replaced: endpoint, primary?, new value.
    KeyRegenerated(String, bool, String),
}

/// A long-running operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Polls still answered "in progress".
    pub polls_left: u32,
    /// `Some((code, message))` makes it end `Failed` with that error.
    pub failure: Option<(String, String)>,
    /// What happens when it succeeds.
    pub effect: Effect,
    /// Whether it has ended.
    pub done: bool,
}

/// The fake's resources.
#[derive(Debug, Default)]
pub struct State {
    /// Workspaces.
    pub workspaces: BTreeMap<String, Value>,
    /// `managedClusters` and `connectedClusters`.
    pub clusters: BTreeMap<String, Value>,
    /// Cluster extensions by cluster id.
    pub extensions: BTreeMap<String, Vec<Value>>,
    /// Computes.
    pub computes: BTreeMap<String, Value>,
    /// `kubernetesVersions` answers by region.
    pub versions: BTreeMap<String, Value>,
    /// VM sizes offered in every region.
    pub vm_sizes: Vec<Value>,
    /// Online endpoints and their deployments (`…/deployments/…`).
    pub endpoints: BTreeMap<String, Value>,
    /// Endpoint keys (primary, secondary) by endpoint.
    pub keys: BTreeMap<String, (String, String)>,
    /// Registered asset versions (models, environments, code) by id.
    pub assets: BTreeMap<String, Value>,
    /// Operations by id.
    pub operations: HashMap<String, Operation>,
    /// Counter for ids and generated names.
    pub serial: u64,
    /// `host[:port]` of new endpoints' scoring URIs (default the in-cluster-looking `10.0.0.4`).
    pub scoring_host: Option<String>,
}

/// The id of a managed cluster in the seed subscription.
pub fn cluster_id(group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{name}"
    )
}

/// The id of a workspace in the seed subscription.
pub fn workspace_id(group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.MachineLearningServices/workspaces/{name}"
    )
}

/// A managed cluster as `ManagedClusters_Get` answers it.
pub fn managed_cluster(
    group: &str,
    name: &str,
    location: &str,
    nodes: u32,
    vm_size: &str,
) -> Value {
    json!({
        "id": cluster_id(group, name),
        "name": name,
        "type": "Microsoft.ContainerService/ManagedClusters",
        "location": location,
        "properties": {
            "provisioningState": "Succeeded",
            "powerState": {"code": "Running"},
            "kubernetesVersion": "1.29.4",
            "currentKubernetesVersion": "1.29.4",
            "dnsPrefix": name,
            "fqdn": format!("{name}-dns-1a2b3c4d.hcp.{location}.azmk8s.io"),
            "agentPoolProfiles": [{
                "name": "nodepool1", "count": nodes, "vmSize": vm_size, "osType": "Linux",
                "mode": "System", "provisioningState": "Succeeded"
            }],
            "networkProfile": {"networkPlugin": "kubenet", "loadBalancerSku": "standard"},
            "apiServerAccessProfile": null
        }
    })
}

/// The VM sizes the fake offers (name, vCPUs, memory GB).
pub fn default_vm_sizes() -> Vec<Value> {
    [
        ("Standard_D2s_v3", 2, 8.0),
        ("Standard_D3_v2", 4, 14.0),
        ("Standard_D4s_v3", 4, 16.0),
        ("Standard_DS1_v2", 1, 3.5),
        ("Standard_NC6s_v3", 6, 112.0),
    ]
    .iter()
    .map(|(name, cpus, memory)| {
        json!({"name": name, "family": "standardDSv3Family", "vCPUs": cpus, "gpus": 0,
               "memoryGB": memory, "lowPriorityCapable": true, "premiumIO": true,
               "supportedComputeTypes": ["AmlCompute", "ComputeInstance"]})
    })
    .collect()
}

/// A `kubernetesVersions` answer: 1.27 to 1.30, 1.29 the default, 1.31 in preview.
pub fn default_versions() -> Value {
    let version = |v: &str, patches: &[&str], default: bool, preview: bool| {
        let patches: serde_json::Map<String, Value> = patches
            .iter()
            .map(|p| (p.to_string(), json!({"upgrades": []})))
            .collect();
        let mut entry = json!({"version": v, "capabilities": {"supportPlan": ["KubernetesOfficial"]},
                               "patchVersions": patches});
        if default {
            entry["isDefault"] = json!(true);
        }
        if preview {
            entry["isPreview"] = json!(true);
        }
        entry
    };
    json!({"values": [
        version("1.27", &["1.27.9", "1.27.13"], false, false),
        version("1.28", &["1.28.5", "1.28.9"], false, false),
        version("1.29", &["1.29.2", "1.29.4"], true, false),
        version("1.30", &["1.30.0"], false, false),
        version("1.31", &["1.31.1"], false, true),
    ]})
}

/// The Azure ML extension, installed and healthy.
pub fn azureml_extension(cluster: &str) -> Value {
    json!({
        "id": format!("{cluster}/providers/Microsoft.KubernetesConfiguration/extensions/azureml"),
        "name": "azureml",
        "type": "Microsoft.KubernetesConfiguration/extensions",
        "properties": {
            "extensionType": "microsoft.azureml.kubernetes",
            "provisioningState": "Succeeded",
            "releaseTrain": "stable",
            "version": "1.1.60",
            "scope": {"cluster": {"releaseNamespace": "azureml"}},
            "configurationSettings": {"enableInference": "True"}
        }
    })
}

impl State {
    /// A fresh id for an operation or a generated name.
    pub fn fresh_id(&mut self) -> String {
        self.serial += 1;
        format!("{:08x}-0000-4000-8000-{:012x}", self.serial, self.serial)
    }

    /// A resource by id from one of the maps.
    pub fn find<'a>(map: &'a BTreeMap<String, Value>, id: &str) -> Option<&'a Value> {
        map.get(&id.to_ascii_lowercase())
    }

    /// The compute as GET shows it: secrets (`cert`, `key`) withheld, as ARM withholds them.
    pub fn shown(compute: &Value) -> Value {
        let mut shown = compute.clone();
        if let Some(ssl) = shown
            .pointer_mut("/properties/properties/sslConfiguration")
            .and_then(Value::as_object_mut)
        {
            ssl.remove("cert");
            ssl.remove("key");
        }
        shown
    }

    /// A GET of resource `key` moves its pending operations on, as time does in ARM: a client that
    /// only reads the resource (body polling, or a re-run waiting for an earlier run's create or
    /// delete) sees them end.
    pub fn time_passes_for(&mut self, key: &str) {
        let waiting: Vec<String> = self
            .operations
            .iter()
            .filter(|(_, op)| {
                !op.done
                    && match &op.effect {
                        Effect::ComputeReady(c) | Effect::ComputeGone(c, _) => c == key,
                        Effect::Provisioned(k) | Effect::Removed(k) => k == key,
                        Effect::KeyRegenerated(..) => false,
                    }
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in waiting {
            let op = self.operations.get_mut(&id).expect("listed");
            if op.polls_left == 0 {
                self.finish(&id);
            } else {
                op.polls_left -= 1;
            }
        }
    }

    /// Applies a finished operation's effect.
    pub fn finish(&mut self, id: &str) {
        let Some(op) = self.operations.get_mut(id) else {
            return;
        };
        op.done = true;
        let (effect, failure) = (op.effect.clone(), op.failure.clone());
        match effect {
            Effect::ComputeReady(compute) => {
                let created = self.create_cluster_for(&compute, failure.is_none());
                if let Some(c) = self.computes.get_mut(&compute) {
                    let state = if failure.is_some() {
                        "Failed"
                    } else {
                        "Succeeded"
                    };
                    c["properties"]["provisioningState"] = json!(state);
                    if let Some(id) = created {
                        c["properties"]["resourceId"] = json!(id);
                    }
                    if let Some((code, message)) = failure {
                        c["properties"]["provisioningErrors"] =
                            json!([{"error": {"code": code, "message": message}}]);
                    }
                }
            }
            Effect::ComputeGone(compute, delete_cluster) if failure.is_none() => {
                let removed = self.computes.remove(&compute);
                if delete_cluster
                    && let Some(cluster) = removed
                        .as_ref()
                        .and_then(|c| c["properties"]["resourceId"].as_str())
                {
                    self.clusters.remove(&cluster.to_ascii_lowercase());
                }
            }
            Effect::ComputeGone(compute, _) => {
                if let Some(c) = self.computes.get_mut(&compute) {
                    c["properties"]["provisioningState"] = json!("Succeeded");
                }
            }
            other => super::endpoints::finish(self, &other, failure),
        }
    }

    /// For an AKS compute Azure ML creates (no `resourceId` given): the cluster it makes.
    fn create_cluster_for(&mut self, compute: &str, ok: bool) -> Option<String> {
        let c = self.computes.get(compute)?.clone();
        let p = &c["properties"];
        if !ok || p["computeType"] != "AKS" || p["resourceId"].is_string() {
            return None;
        }
        let group = c["id"].as_str()?.split('/').nth(4)?.to_string();
        let suffix = self.fresh_id();
        let name = format!("{}{}", c["name"].as_str()?, &suffix[3..8]);
        let inner = &p["properties"];
        let nodes = inner["agentCount"].as_u64().unwrap_or(3) as u32;
        let size = inner["agentVmSize"]
            .as_str()
            .unwrap_or("Standard_D3_v2")
            .to_string();
        let location = p["computeLocation"]
            .as_str()
            .or(c["location"].as_str())
            .unwrap_or("eastus")
            .to_string();
        let cluster = managed_cluster(&group, &name, &location, nodes, &size);
        let id = cluster["id"].as_str()?.to_string();
        self.clusters.insert(id.to_ascii_lowercase(), cluster);
        Some(id)
    }
}
