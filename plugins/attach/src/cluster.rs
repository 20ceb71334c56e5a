//! The cluster behind a compute, as ARM describes it (AKS `managedClusters` or Arc
//! `connectedClusters`), and the checks that read it: size, version, network warnings, the Azure
//! ML extension, and — through a kubeconfig for the same cluster — what already runs inside.

use aml_core::arm::{self, AKS_API, ARC_API, Azure, EXTENSIONS_API, ML_API, ResourceId};
use aml_core::k8s::{self, AZUREML_FE, Kind, Kube};
use aml_core::{Context, Result};
use serde_json::Value;

use crate::checks::{self, Findings, Kind as Check, VersionStanding};
use crate::cli::Purpose;

/// The id of a cluster from `--resource-id`, or `--cluster` in `--cluster-resource-group`/`-g`.
pub(crate) fn cluster_id(
    azure: &Azure,
    resource_id: Option<&str>,
    name: Option<&str>,
    group: Option<&str>,
    arc: bool,
) -> Result<ResourceId> {
    if let Some(text) = resource_id {
        let id: ResourceId = text.parse().map_err(|e: arm::IdError| {
            aml_core::Error::usage(
                format!("--resource-id: {e}"),
                "give the cluster's id as `az aks show --query id -o tsv` prints it",
            )
        })?;
        let known = id.is_type("Microsoft.ContainerService/managedClusters")
            || id.is_type("Microsoft.Kubernetes/connectedClusters");
        if !known {
            return Err(aml_core::Error::usage(
                format!(
                    "--resource-id names a `{}`, not a cluster",
                    id.resource_type()
                ),
                "give a Microsoft.ContainerService/managedClusters or Microsoft.Kubernetes/connectedClusters id",
            ));
        }
        return Ok(id);
    }
    let name = name.unwrap_or_default();
    let group = match group {
        Some(g) => g,
        None => azure.resource_group()?,
    };
    let (provider, kind) = if arc {
        ("Microsoft.Kubernetes", "connectedClusters")
    } else {
        ("Microsoft.ContainerService", "managedClusters")
    };
    Ok(ResourceId::new(
        azure.subscription()?,
        group,
        provider,
        &[(kind, name)],
    ))
}

/// What the checks need to know about a cluster.
#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    pub id: ResourceId,
    pub arc: bool,
    pub location: String,
    pub fqdn: Option<String>,
    pub private_fqdn: Option<String>,
    pub version: Option<String>,
    /// `(vmSize, count)` of the Linux node pools.
    pub pools: Vec<(String, u64)>,
    pub json: Value,
}

/// GETs the cluster; `None` when it does not exist.
pub(crate) async fn fetch(azure: &Azure, id: &ResourceId) -> Result<Option<Cluster>> {
    let arc = id.is_type("Microsoft.Kubernetes/connectedClusters");
    let version = if arc { ARC_API } else { AKS_API };
    let Some(json) = azure.client.get_opt(azure.url(id, version, &[])).await? else {
        return Ok(None);
    };
    let p = &json["properties"];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let pools = p["agentPoolProfiles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pool| {
            pool["osType"]
                .as_str()
                .is_none_or(|os| os.eq_ignore_ascii_case("Linux"))
        })
        .map(|pool| {
            (
                pool["vmSize"].as_str().unwrap_or("").to_string(),
                pool["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    Ok(Some(Cluster {
        id: id.clone(),
        arc,
        location: json["location"].as_str().unwrap_or("").to_string(),
        fqdn: text(&p["fqdn"]),
        private_fqdn: text(&p["privateFQDN"]),
        version: text(&p["currentKubernetesVersion"]).or_else(|| text(&p["kubernetesVersion"])),
        pools,
        json,
    }))
}

impl Cluster {
    /// Nodes, vCPUs (if every VM size is known) and the sizes not found.
    async fn capacity(&self, azure: &Azure) -> Result<(u64, Option<u64>)> {
        let sizes_id = format!(
            "/subscriptions/{}/providers/Microsoft.MachineLearningServices/locations/{}/vmSizes",
            self.id.subscription(),
            self.location
        );
        let sizes = azure
            .client
            .send(&arm::ArmRequest::get(
                azure.client.url(&sizes_id, &[("api-version", ML_API)]),
            ))
            .await?
            .body;
        let sizes = sizes["value"].as_array().cloned().unwrap_or_default();
        let nodes = self.pools.iter().map(|(_, n)| n).sum();
        let cpus = self
            .pools
            .iter()
            .map(|(size, n)| checks::vcpus_of(&sizes, size).map(|c| c * n))
            .sum::<Option<u64>>();
        Ok((nodes, cpus))
    }

    /// Size for the purpose, running state, version support and network warnings (AKS only).
    pub(crate) async fn check_aks(
        &self,
        azure: &Azure,
        purpose: Purpose,
        findings: &mut Findings,
    ) -> Result<()> {
        let p = &self.json["properties"];
        if p.pointer("/powerState/code").and_then(Value::as_str) == Some("Stopped") {
            findings.fail(
                Check::State,
                format!("cluster `{}` is stopped", self.id.name()),
                format!(
                    "start it: `az aks start -g {} -n {}`",
                    self.id.resource_group(),
                    self.id.name()
                ),
            );
        }
        if let Some(state) = p["provisioningState"]
            .as_str()
            .filter(|s| !s.eq_ignore_ascii_case("Succeeded"))
        {
            findings.warn(format!(
                "cluster `{}` is in provisioning state {state}",
                self.id.name()
            ));
        }
        let (nodes, cpus, sized) = match self.capacity(azure).await {
            Ok((nodes, cpus)) => (nodes, cpus, true),
            Err(e) => {
                findings.lookup_failed("counting the cluster's vCPUs (VM sizes)", e)?;
                (self.pools.iter().map(|(_, n)| n).sum(), None, false)
            }
        };
        if cpus.is_none() && sized {
            findings.warn("cannot count the cluster's vCPUs: a VM size is not listed in its region; only the node count was checked");
        }
        if let Some((message, hint)) = checks::capacity_problem(purpose, nodes, cpus) {
            findings.fail(Check::State, message, hint);
        }
        if let Some(version) = &self.version {
            let versions = format!(
                "/subscriptions/{}/providers/Microsoft.ContainerService/locations/{}/kubernetesVersions",
                self.id.subscription(),
                self.location
            );
            let answer = azure
                .client
                .send(&arm::ArmRequest::get(
                    azure.client.url(&versions, &[("api-version", AKS_API)]),
                ))
                .await;
            let standing = match answer {
                Ok(answer) => checks::version_standing(&answer.body, version),
                Err(e) => {
                    findings.lookup_failed("the Kubernetes version check", e.into())?;
                    VersionStanding::Supported // not known: the warning says so
                }
            };
            match standing {
                VersionStanding::Supported => {}
                VersionStanding::Preview => findings.warn(format!(
                    "Kubernetes {version} is a preview version in {}: no SLA",
                    self.location
                )),
                VersionStanding::Unsupported(supported) => findings.fail(
                    Check::State,
                    format!(
                        "Kubernetes {version} is no longer supported by AKS in {}",
                        self.location
                    ),
                    format!(
                        "upgrade the cluster (`az aks upgrade`) to one of: {}",
                        supported.join(", ")
                    ),
                ),
            }
        }
        let access = &p["apiServerAccessProfile"];
        if access["enablePrivateCluster"] == true
            && access["enablePrivateClusterPublicFQDN"] == true
        {
            findings.warn("the cluster is private with a public FQDN: Azure ML does not support that combination; disable the public FQDN (`az aks update --disable-public-fqdn`)");
        }
        if access["authorizedIPRanges"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            findings.warn("the API server accepts only authorized IP ranges: allow the Azure ML control plane's ranges of the workspace's region and its paired region, or the attach and later deployments fail");
            if p.pointer("/networkProfile/loadBalancerSku")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("basic"))
            {
                findings.warn("authorized IP ranges work only with the standard load balancer, and this cluster uses the basic one");
            }
        }
        Ok(())
    }

    /// The Azure ML extension must be installed and healthy for a `Kubernetes` compute.
    pub(crate) async fn check_extension(
        &self,
        azure: &Azure,
        findings: &mut Findings,
    ) -> Result<()> {
        let url = azure.client.url(
            &format!(
                "{}/providers/Microsoft.KubernetesConfiguration/extensions",
                self.id
            ),
            &[("api-version", EXTENSIONS_API)],
        );
        let extensions = azure.client.list(url).await?;
        let found = extensions.iter().find(|e| {
            e.pointer("/properties/extensionType")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("microsoft.azureml.kubernetes"))
        });
        let install = format!(
            "install it: `az k8s-extension create --name azureml --extension-type Microsoft.AzureML.Kubernetes --cluster-type {} --cluster-name {} -g {} --scope cluster --config enableInference=True`",
            if self.arc {
                "connectedClusters"
            } else {
                "managedClusters"
            },
            self.id.name(),
            self.id.resource_group()
        );
        match found.and_then(|e| {
            e.pointer("/properties/provisioningState")
                .and_then(Value::as_str)
        }) {
            None => findings.fail(
                Check::State,
                format!(
                    "the Azure ML extension is not installed on cluster `{}`",
                    self.id.name()
                ),
                install,
            ),
            Some(state) if !state.eq_ignore_ascii_case("Succeeded") => findings.fail(
                Check::State,
                format!(
                    "the Azure ML extension on cluster `{}` is {state}",
                    self.id.name()
                ),
                "wait for it to succeed (`az k8s-extension show`), or reinstall it",
            ),
            Some(_) => {}
        }
        Ok(())
    }

    /// A client for this cluster from the kubeconfig, when its server is this cluster's API server;
    /// otherwise a warning saying why the in-cluster checks are skipped.
    pub(crate) async fn kube<'a>(
        &self,
        ctx: &'a Context,
        findings: &mut Findings,
    ) -> Option<&'a Kube> {
        let hosts: Vec<&str> = [&self.fqdn, &self.private_fqdn]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        match ctx
            .kube_for_cluster(self.id.resource_group(), self.id.name(), &hosts)
            .await
        {
            Ok(kube) => Some(kube),
            Err(why) => {
                findings.warn(format!("in-cluster checks skipped: {why}"));
                None
            }
        }
    }
}

/// Which of the eight azureml-fe objects exist (namespaced ones in the client's namespace), read
/// together in one round trip.
pub(crate) async fn azureml_fe_present(kube: &Kube) -> Result<Vec<String>> {
    let reads = AZUREML_FE.map(|object| async move {
        let found = k8s::get_opt(kube, object.kind, &kube.namespace, object.name).await?;
        Ok::<_, aml_core::Error>(found.map(|_| object.kubectl_name()))
    });
    let found = futures::future::try_join_all(reads).await?;
    Ok(found.into_iter().flatten().collect())
}

/// Whether a namespace exists.
pub(crate) async fn namespace_exists(kube: &Kube, namespace: &str) -> Result<bool> {
    Ok(k8s::get_opt(kube, Kind::NAMESPACE, "", namespace)
        .await?
        .is_some())
}
