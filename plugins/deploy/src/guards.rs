//! The docs' warnings: token auth with the workspace and the cluster in different regions (tokens
//! come from the workspace's region); and, inside the compute's cluster when its kubeconfig is at
//! hand, GPUs only on a cluster created with a GPU VM size (a secondary node pool is not
//! supported) and no HorizontalPodAutoscaler on a model deployment (it and azureml-fe would fight).

use aml_core::Context;
use aml_core::arm::{AKS_API, ARC_API, Azure, ResourceId};
use aml_core::cli::Printer;
use aml_core::{Error, Result};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::Value;

/// What the guards need to know.
pub(crate) struct Target<'a> {
    pub compute: &'a Value,
    pub service: &'a str,
    pub deployment: &'a str,
    pub gpus: i64,
    pub remove_hpa: bool,
    pub dry_run: bool,
    /// The workspace's region, when this run turns token auth on.
    pub token_region: Option<&'a str>,
}

/// The Kubernetes Deployment names a model deployment may have in the cluster: v1 named it after
/// the service; the Azure ML extension combines endpoint and deployment names.
fn workload_names(t: &Target<'_>) -> [String; 3] {
    [
        t.service.to_string(),
        format!("{}-{}", t.service, t.deployment),
        format!("{}-{}", t.deployment, t.service),
    ]
}

/// Runs the guards: a refusal is an error, the rest are warnings.
pub(crate) async fn check(
    ctx: &Context,
    azure: &Azure,
    t: &Target<'_>,
    out: &mut Printer,
) -> Result<()> {
    let Some(cluster_id) = t
        .compute
        .pointer("/properties/resourceId")
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    let id: ResourceId = cluster_id.parse().map_err(|e| {
        Error::failed(
            format!("the compute's cluster id: {e}"),
            "detach and attach the compute again",
        )
    })?;
    let api = if id.is_type("Microsoft.Kubernetes/connectedClusters") {
        ARC_API
    } else {
        AKS_API
    };
    let cluster = azure
        .client
        .get_opt(azure.url(&id, api, &[]))
        .await?
        .unwrap_or(Value::Null);
    if let (Some(workspace), Some(region)) = (t.token_region, cluster["location"].as_str())
        && !workspace.eq_ignore_ascii_case(region)
    {
        out.warn(&format!(
            "token auth: the workspace is in {workspace} and cluster `{}` in {region}; tokens come from \
             the workspace's region, so while it is down no client gets one (the docs: keep them in one region)",
            id.name()
        ));
    }
    let p = &cluster["properties"];
    let hosts: Vec<&str> = [&p["fqdn"], &p["privateFQDN"]]
        .into_iter()
        .filter_map(Value::as_str)
        .collect();
    let kube = match ctx
        .kube_for_cluster(id.resource_group(), id.name(), &hosts)
        .await
    {
        Ok(kube) => kube,
        Err(why) => {
            // Warned only when asked for (--gpu-cores, --remove-hpa); the routine HPA look is
            // skipped quietly (with -v, logged) when the kubeconfig is for another cluster.
            let asked: Vec<&str> = [
                (t.gpus > 0).then_some("the GPU capacity check (--gpu-cores)"),
                t.remove_hpa.then_some("--remove-hpa"),
            ]
            .into_iter()
            .flatten()
            .collect();
            if asked.is_empty() {
                tracing::debug!(%why, "the HorizontalPodAutoscaler check skipped");
            } else {
                out.warn(&format!("{} skipped: {why}", asked.join(" and ")));
            }
            return Ok(());
        }
    };
    let namespace = t
        .compute
        .pointer("/properties/properties/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    if t.gpus > 0 {
        let first_pool = p
            .pointer("/agentPoolProfiles/0/name")
            .and_then(Value::as_str);
        gpus(kube, id.name(), first_pool, t.gpus).await?;
    }
    hpas(kube, namespace, t, out).await
}

async fn gpus(
    kube: &aml_core::k8s::Kube,
    cluster: &str,
    first_pool: Option<&str>,
    wanted: i64,
) -> Result<()> {
    let nodes = Api::<Node>::all(kube.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| read_error("nodes", e))?;
    let docs = "the docs: a GPU deployment needs a cluster created with a GPU VM size; a secondary node pool is not supported";
    // (pool, GPUs) of each node with GPUs.
    let gpu_nodes: Vec<(String, i64)> = nodes
        .items
        .iter()
        .filter_map(|node| {
            let gpus = node
                .status
                .as_ref()?
                .allocatable
                .as_ref()?
                .get("nvidia.com/gpu")?
                .0
                .parse::<i64>()
                .ok()?;
            let labels = node.metadata.labels.clone().unwrap_or_default();
            let pool = labels
                .get("kubernetes.azure.com/agentpool")
                .or(labels.get("agentpool"))
                .cloned()
                .unwrap_or_default();
            (gpus > 0).then_some((pool, gpus))
        })
        .collect();
    if gpu_nodes.is_empty() {
        return Err(Error::refused(
            format!("cluster `{cluster}` has no GPU nodes, and --gpu-cores asks for {wanted}"),
            docs,
        ));
    }
    // Only the pool the cluster was created with counts: a secondary pool is not supported.
    let usable: Vec<i64> = gpu_nodes
        .iter()
        .filter(|(pool, _)| first_pool.is_none_or(|f| f == pool))
        .map(|(_, g)| *g)
        .collect();
    if usable.is_empty() {
        return Err(Error::refused(
            format!(
                "cluster `{cluster}` has GPUs only in node pool `{}`, not in its first pool `{}`",
                gpu_nodes[0].0,
                first_pool.unwrap_or("")
            ),
            docs,
        ));
    }
    let best = usable.into_iter().max().unwrap_or(0);
    if best < wanted {
        return Err(Error::refused(
            format!("no node of cluster `{cluster}` has {wanted} GPUs (at most {best})"),
            "lower --gpu-cores, or use a cluster with larger GPU VMs",
        ));
    }
    Ok(())
}

async fn hpas(
    kube: &aml_core::k8s::Kube,
    namespace: &str,
    t: &Target<'_>,
    out: &mut Printer,
) -> Result<()> {
    let api = Api::<HorizontalPodAutoscaler>::namespaced(kube.client.clone(), namespace);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| read_error("horizontalpodautoscalers", e))?;
    let names = workload_names(t);
    for hpa in list.items {
        let Some(spec) = &hpa.spec else { continue };
        let target = &spec.scale_target_ref;
        if target.kind != "Deployment" || !names.contains(&target.name) {
            continue;
        }
        let name = hpa.metadata.name.clone().unwrap_or_default();
        if !t.remove_hpa {
            out.warn(&format!(
                "HorizontalPodAutoscaler `{namespace}/{name}` scales `{}`: it and azureml-fe's autoscaler would fight (the docs: do not enable the HPA on model deployments); --remove-hpa deletes it",
                target.name
            ));
        } else if t.dry_run {
            out.info(&format!(
                "dry run: would delete HorizontalPodAutoscaler `{namespace}/{name}`"
            ));
        } else {
            api.delete(&name, &DeleteParams::default())
                .await
                .map_err(|e| read_error("horizontalpodautoscalers", e))?;
            out.info(&format!("deleted HorizontalPodAutoscaler `{namespace}/{name}`: azureml-fe alone scales `{}` now", target.name));
        }
    }
    Ok(())
}

fn read_error(what: &str, e: kube::Error) -> Error {
    Error::failed(
        format!("cannot read {what} in the cluster: {e}"),
        "check your access to the cluster (kubectl auth can-i list nodes)",
    )
}
