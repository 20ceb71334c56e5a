//! `k8s NAME`: attach an AKS or Arc-connected cluster as a v2 `Kubernetes` compute, after the
//! checks the v2 docs leave to the user (extension installed, namespace present).

use aml_core::Context;
use aml_core::arm::{ArmRequest, ResourceId};
use aml_core::cli::Printer;
use aml_core::{Error, Result};

use crate::body::{self, Identity, K8sCompute};
use crate::checks::{self, Findings, Kind};
use crate::cli::{IdentityType, K8sArgs};
use crate::resume::{self, Earlier};
use crate::{cluster, finish, show, workspace};

fn identity(args: &K8sArgs, findings: &mut Findings) -> Result<Option<Identity>> {
    let ids = &args.user_assigned_identities;
    match (args.identity_type, ids.first()) {
        (Some(IdentityType::SystemAssigned), Some(_)) => Err(Error::usage(
            "--user-assigned-identities needs --identity-type UserAssigned",
            "drop --user-assigned-identities, or use --identity-type UserAssigned",
        )),
        (Some(IdentityType::UserAssigned), None) => Err(Error::usage(
            "--identity-type UserAssigned needs --user-assigned-identities",
            "give the identity's id (`az identity show --query id -o tsv`)",
        )),
        (Some(IdentityType::SystemAssigned), None) => Ok(Some(Identity::System)),
        (_, Some(first)) => {
            let id: ResourceId = first.parse().map_err(|e| {
                Error::usage(
                    format!("--user-assigned-identities: {e}"),
                    "give the identity's ARM id",
                )
            })?;
            if !id.is_type("Microsoft.ManagedIdentity/userAssignedIdentities") {
                return Err(Error::usage(
                    format!(
                        "--user-assigned-identities names a `{}`, not a user-assigned identity",
                        id.resource_type()
                    ),
                    "give a Microsoft.ManagedIdentity/userAssignedIdentities id",
                ));
            }
            if ids.len() > 1 {
                findings.warn(format!("{} user-assigned identities given: only the first (`{}`) is used, as Azure ML uses only one", ids.len(), id.name()));
            }
            Ok(Some(Identity::User(first.clone())))
        }
        (None, None) => Ok(None),
    }
}

fn tags(args: &K8sArgs) -> Result<Vec<(String, String)>> {
    args.tags
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Error::usage(
                format!("--tags: `{t}` is not KEY=VALUE"),
                "write tags like team=ml,env=prod",
            )),
        })
        .collect()
}

/// `k8s NAME`; `namespace` is -n (default `default`).
pub(crate) async fn attach(
    ctx: &Context,
    args: &K8sArgs,
    namespace: &str,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let mut findings = Findings::default();
    let identity = identity(args, &mut findings)?;
    let tags = tags(args)?;
    let azure = ctx.azure().await?;
    let ws = workspace::get(azure).await?;
    let id = cluster::cluster_id(
        azure,
        args.resource_id.as_deref(),
        args.cluster.as_deref(),
        args.cluster_resource_group.as_deref(),
        args.arc,
    )?;
    let computes = ws.computes(azure).await?;
    let made = Earlier {
        kind: "Kubernetes",
        cluster: Some(&id),
        namespace: Some(namespace),
    };
    if resume::earlier(azure, &ws, &args.name, &computes, made, &args.write, out).await? {
        return Ok(());
    }
    if let Some(problem) = checks::name_problem(&args.name) {
        findings.fail(Kind::Input, problem, "choose another name");
    }
    if computes.iter().any(|c| {
        c["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(&args.name))
    }) {
        findings.fail(
            Kind::State,
            format!("compute `{}` already exists in workspace `{}`; creating a compute is not idempotent", args.name, ws.id.name()),
            format!("pick another name, or detach it first: `kubectl aml attach detach {}`", args.name),
        );
    }
    // The v2 docs allow one cluster to back several computes, one namespace each.
    for other in workspace::using_cluster(&computes, &id, &args.name) {
        let other_name = other["name"].as_str().unwrap_or("");
        let p = &other["properties"];
        let other_ns = p
            .pointer("/properties/namespace")
            .and_then(|n| n.as_str())
            .unwrap_or("default");
        if p["computeType"] == "AKS" {
            findings.warn(format!(
                "cluster `{}` is also attached as legacy AKS compute `{other_name}`",
                id.name()
            ));
        } else if other_ns == namespace {
            findings.fail(
                Kind::State,
                format!("compute `{other_name}` already uses namespace `{namespace}` of cluster `{}`", id.name()),
                "give each compute of a cluster its own namespace (-n), or detach the other compute first",
            );
        }
    }
    let location = match cluster::fetch(azure, &id).await? {
        Some(cluster) => {
            cluster.check_extension(azure, &mut findings).await?;
            match cluster.kube(ctx, &mut findings).await {
                Some(kube) if !cluster::namespace_exists(kube, namespace).await? => findings.fail(
                    Kind::State,
                    format!("namespace `{namespace}` does not exist in cluster `{}`: the attach would succeed and every workload sent to the compute would fail", id.name()),
                    format!("create it first: `kubectl create namespace {namespace}`"),
                ),
                Some(_) => {}
                None => findings.warn(format!("make sure namespace `{namespace}` exists: Azure does not check it, and every workload fails without it")),
            }
            Some(cluster.location)
        }
        None => {
            findings.fail(
                Kind::Missing,
                format!(
                    "cluster `{}` not found in resource group `{}`",
                    id.name(),
                    id.resource_group()
                ),
                "check --cluster, --cluster-resource-group (default -g), --arc or --resource-id",
            );
            None
        }
    };
    findings.conclude(args.write.skip_checks, out)?;
    let compute = K8sCompute {
        cluster_id: id.to_string(),
        cluster_location: location.filter(|l| !l.is_empty()),
        namespace: namespace.to_string(),
        identity,
        description: args.description.clone(),
        tags,
    };
    let request = ArmRequest::create(
        show::compute_url(azure, &ws.id, &args.name, &[]),
        body::k8s_attach(&ws.location, &compute),
    );
    let what = format!(
        "attaching cluster `{}` as Kubernetes compute `{}`",
        id.name(),
        args.name
    );
    finish::created(azure, &ws, &args.name, request, &what, &args.write, out).await
}
