//! Request bodies for `Compute_CreateOrUpdate`, shaped like the v1 SDK's (`AKS`) and the v2 SDK's
//! (`Kubernetes`) and checked field by field against their captures in the tests. Deliberate
//! differences from the SDKs are listed in `tests/e2e/attach_fidelity.rs`.

use serde_json::{Map, Value, json};

use crate::cli::{LoadBalancer, Purpose};

/// TLS of the scoring endpoint, as the docs offer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tls {
    /// No TLS.
    Off,
    /// A Microsoft certificate for `<label>######.<region>.cloudapp.azure.com`.
    Microsoft {
        /// The leaf domain label.
        label: String,
        /// Replace an existing domain with that label.
        overwrite: bool,
    },
    /// The user's certificate, PEM text.
    Custom {
        /// Certificate chain.
        cert: String,
        /// Private key (secret: never printed).
        key: String,
        /// The name clients use.
        cname: String,
    },
}

/// The azureml-fe settings of an `AKS` compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrontEnd {
    pub purpose: Purpose,
    pub load_balancer: LoadBalancer,
    pub subnet: Option<String>,
    pub tls: Tls,
}

/// What `create` asks Azure ML to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewCluster {
    pub location: String,
    pub agent_count: u32,
    pub vm_size: String,
    /// `aksNetworkingConfiguration`.
    pub network: Option<Network>,
}

/// The cluster's place in a virtual network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Network {
    pub subnet_id: String,
    pub service_cidr: Option<String>,
    pub dns_service_ip: Option<String>,
    pub docker_bridge_cidr: Option<String>,
}

/// The identity of a `Kubernetes` compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    System,
    User(String),
}

/// What a `Kubernetes` compute is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct K8sCompute {
    pub cluster_id: String,
    pub cluster_location: Option<String>,
    pub namespace: String,
    pub identity: Option<Identity>,
    pub description: Option<String>,
    pub tags: Vec<(String, String)>,
}

fn ssl(tls: &Tls) -> Option<Value> {
    match tls {
        Tls::Off => None,
        Tls::Microsoft { label, overwrite } => Some(json!({
            "status": "Auto", "leafDomainLabel": label, "overwriteExistingDomain": overwrite
        })),
        Tls::Custom { cert, key, cname } => Some(json!({
            "status": "Enabled", "cert": cert, "key": key, "cname": cname
        })),
    }
}

fn front_end(fe: &FrontEnd) -> Map<String, Value> {
    let mut inner = Map::new();
    inner.insert("clusterPurpose".into(), json!(fe.purpose.as_str()));
    if let Some(ssl) = ssl(&fe.tls) {
        inner.insert("sslConfiguration".into(), ssl);
    }
    let lb = match fe.load_balancer {
        LoadBalancer::PublicIp => "PublicIp",
        LoadBalancer::InternalLoadBalancer => "InternalLoadBalancer",
    };
    inner.insert("loadBalancerType".into(), json!(lb));
    if let Some(subnet) = &fe.subnet {
        inner.insert("loadBalancerSubnet".into(), json!(subnet));
    }
    inner
}

/// Attach an existing AKS cluster as an `AKS` compute (`location` = the workspace's).
pub(crate) fn aks_attach(location: &str, cluster_id: &str, fe: &FrontEnd) -> Value {
    json!({
        "location": location,
        "properties": {
            "computeType": "AKS",
            "resourceId": cluster_id,
            "properties": front_end(fe),
        }
    })
}

/// Have Azure ML create an AKS cluster as an `AKS` compute.
pub(crate) fn aks_create(workspace_location: &str, cluster: &NewCluster, fe: &FrontEnd) -> Value {
    let mut inner = front_end(fe);
    inner.insert("agentCount".into(), json!(cluster.agent_count));
    inner.insert("agentVmSize".into(), json!(cluster.vm_size));
    if let Some(net) = &cluster.network {
        let mut network = Map::new();
        network.insert("subnetId".into(), json!(net.subnet_id));
        let (service, dns, bridge) = (
            &net.service_cidr,
            &net.dns_service_ip,
            &net.docker_bridge_cidr,
        );
        for (key, value) in [
            ("serviceCidr", service),
            ("dnsServiceIP", dns),
            ("dockerBridgeCidr", bridge),
        ] {
            if let Some(v) = value {
                network.insert(key.into(), json!(v));
            }
        }
        inner.insert("aksNetworkingConfiguration".into(), Value::Object(network));
    }
    json!({
        "location": workspace_location,
        "properties": {
            "computeType": "AKS",
            "computeLocation": cluster.location,
            "properties": inner,
        }
    })
}

/// Attach a cluster as a v2 `Kubernetes` compute (`location` = the workspace's).
pub(crate) fn k8s_attach(location: &str, compute: &K8sCompute) -> Value {
    let mut properties = json!({
        "computeType": "Kubernetes",
        "resourceId": compute.cluster_id,
        "properties": {"namespace": compute.namespace},
    });
    if let Some(region) = &compute.cluster_location {
        properties["computeLocation"] = json!(region);
    }
    if let Some(text) = &compute.description {
        properties["description"] = json!(text);
    }
    let mut body = json!({"location": location, "properties": properties});
    match &compute.identity {
        Some(Identity::System) => body["identity"] = json!({"type": "SystemAssigned"}),
        Some(Identity::User(id)) => {
            body["identity"] = json!({"type": "UserAssigned", "userAssignedIdentities": {id: {}}})
        }
        None => {}
    }
    if !compute.tags.is_empty() {
        let tags: Map<String, Value> = compute
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        body["tags"] = Value::Object(tags);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fe(tls: Tls) -> FrontEnd {
        FrontEnd {
            purpose: Purpose::DevTest,
            load_balancer: LoadBalancer::PublicIp,
            subnet: None,
            tls,
        }
    }

    #[test]
    fn the_private_key_never_shows_in_a_dry_run() {
        let custom = Tls::Custom {
            cert: "CERT".into(),
            key: "-----BEGIN PRIVATE KEY-----".into(),
            cname: "x.example".into(),
        };
        let body = aks_attach(
            "eastus",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/a",
            &fe(custom),
        );
        let shown = aml_core::redact::redacted(&body).to_string();
        assert!(!shown.contains("BEGIN PRIVATE KEY"), "{shown}");
        assert!(shown.contains("CERT") && body.to_string().contains("BEGIN PRIVATE KEY"));
    }

    #[test]
    fn networking_is_sent_only_when_given() {
        let mut cluster = NewCluster {
            location: "westus".into(),
            agent_count: 3,
            vm_size: "Standard_D3_v2".into(),
            network: None,
        };
        let body = aks_create("eastus", &cluster, &fe(Tls::Off));
        assert_eq!(
            body.pointer("/properties/properties/aksNetworkingConfiguration"),
            None
        );
        assert_eq!(body["properties"]["computeLocation"], "westus");
        cluster.network = Some(Network {
            subnet_id: "subnet-id".into(),
            service_cidr: Some("10.0.0.0/16".into()),
            dns_service_ip: Some("10.0.0.10".into()),
            docker_bridge_cidr: None,
        });
        let body = aks_create("eastus", &cluster, &fe(Tls::Off));
        assert_eq!(
            body.pointer("/properties/properties/aksNetworkingConfiguration")
                .unwrap(),
            &json!({"subnetId": "subnet-id", "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10"})
        );
    }
}
