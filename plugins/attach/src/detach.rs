//! `detach NAME`: `underlyingResourceAction=Detach` — the workspace forgets the compute; the cluster
//! and what runs in it stay. `--delete-cluster` (`Delete`) only for clusters Azure ML created.

use aml_core::Context;
use aml_core::Error;
use aml_core::arm::ArmRequest;
use aml_core::cli::Printer;

use crate::cli::DetachArgs;
use crate::{show, workspace};
use aml_core::arm::{Sent, submit};

/// `detach NAME [--delete-cluster]`.
pub(crate) async fn run(ctx: &Context, args: &DetachArgs, out: &mut Printer) -> anyhow::Result<()> {
    let azure = ctx.azure().await?;
    let ws = workspace::get(azure).await?;
    let compute = ws
        .compute(azure, &args.name)
        .await?
        .ok_or_else(|| workspace::no_compute(&ws, &args.name))?;
    let p = &compute["properties"];
    let kind = p["computeType"].as_str().unwrap_or("");
    let cluster = p["resourceId"]
        .as_str()
        .and_then(|id| id.rsplit('/').next())
        .unwrap_or("?")
        .to_string();
    let attached = p["isAttachedCompute"].as_bool().unwrap_or(true);
    if args.delete_cluster && (attached || kind != "AKS") {
        return Err(Error::refused(
            format!("compute `{}` was attached, so its cluster `{cluster}` is not Azure ML's to delete", args.name),
            "detach without --delete-cluster; delete the cluster itself with `az aks delete` if you mean to",
        )
        .into());
    }
    let action = if args.delete_cluster {
        "Delete"
    } else {
        "Detach"
    };
    let request = ArmRequest::delete(show::compute_url(
        azure,
        &ws.id,
        &args.name,
        &[("underlyingResourceAction", action)],
    ));
    let question = if args.delete_cluster {
        format!(
            "detach compute `{}` from workspace `{}` and DELETE cluster `{cluster}` with everything in it",
            args.name,
            ws.id.name()
        )
    } else {
        format!(
            "detach compute `{}` (cluster `{cluster}`) from workspace `{}`",
            args.name,
            ws.id.name()
        )
    };
    if args.delete_cluster {
        out.warn("the cluster's TLS certificate (secret azuremlfessl) goes with it: `kubectl aml certs export` keeps a copy");
    }
    if !args.write.dry_run && !args.yes && !out.confirm(&question)? {
        out.info("nothing done");
        return Ok(());
    }
    let what = format!(
        "{} compute `{}`",
        if args.delete_cluster {
            "deleting"
        } else {
            "detaching"
        },
        args.name
    );
    match submit(azure, request, &what, args.write.mode(), out).await? {
        Sent::DryRun | Sent::Accepted(_) => return Ok(()),
        Sent::Done(_) => {}
    }
    if args.delete_cluster {
        out.info(&format!(
            "compute `{}` and cluster `{cluster}` deleted",
            args.name
        ));
    } else if kind == "AKS" {
        out.info(&format!(
            "compute `{}` detached; cluster `{cluster}` and its azureml-fe objects stay: `kubectl aml fe status` shows them, `kubectl aml fe cleanup` removes them before the cluster is attached again",
            args.name
        ));
    } else {
        out.info(&format!(
            "compute `{}` detached; cluster `{cluster}` and its Azure ML extension stay",
            args.name
        ));
    }
    out.line(&format!("compute/{} detached", args.name))?;
    Ok(())
}
