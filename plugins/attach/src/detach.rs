//! `detach NAME`: `underlyingResourceAction=Detach` — the workspace forgets the compute; the cluster
//! and what runs in it stay. `--delete-cluster` (`Delete`) only for clusters Azure ML created.

use aml_core::Context;
use aml_core::Error;
use aml_core::arm::{ArmRequest, Azure};
use aml_core::cli::Printer;

use crate::cli::DetachArgs;
use crate::workspace::Workspace;
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
    let deleting = p["provisioningState"]
        .as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("Deleting"));
    if deleting && !args.write.dry_run {
        // An earlier run's DELETE is still going: wait for it rather than send another.
        out.info(&format!(
            "compute `{}` is already being detached (an earlier run): waiting for it",
            args.name
        ));
        if !args.write.no_wait {
            gone(azure, &ws, &args.name, &what, out).await?;
        }
    } else {
        match submit(azure, request, &what, args.write.mode(), out).await {
            Ok(Sent::DryRun | Sent::Accepted(_)) => return Ok(()),
            Ok(Sent::Done(_)) => {}
            Err(e) => return Err(left(azure, &ws, &args.name, e).await),
        }
    }
    if args.write.no_wait {
        return Ok(());
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
    // kubectl's `KIND/NAME detached` line; in a document format, the same as a record.
    let done = serde_json::json!({ "detached": format!("compute/{}", args.name) });
    out.document(&done, || format!("compute/{} detached", args.name))?;
    Ok(())
}

/// Waits until compute `name` is gone, within `--timeout`.
async fn gone(
    azure: &Azure,
    ws: &Workspace,
    name: &str,
    what: &str,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let url = show::compute_url(azure, &ws.id, name, &[]);
    let mut progress = |line: &str| out.progress(line);
    aml_core::arm::wait_gone(&azure.client, &url, what, &mut progress)
        .await
        .map_err(|e| {
            aml_core::Error::from(e)
                .hinted(format!(
                    "run the same command again: it waits for compute `{name}` to go"
                ))
                .into()
        })
}

/// `failure` of the DELETE or of its operation, with what it left in the hint (read back).
async fn left(azure: &Azure, ws: &Workspace, name: &str, failure: Error) -> anyhow::Error {
    let now = match ws.compute(azure, name).await {
        Ok(None) => format!(
            "compute `{name}` is gone from workspace `{}` after all: nothing is left to do",
            ws.id.name()
        ),
        Ok(Some(c)) => format!(
            "compute `{name}` is still in workspace `{}` in state {}: run the same command again",
            ws.id.name(),
            c["properties"]["provisioningState"]
                .as_str()
                .unwrap_or("Unknown")
        ),
        Err(_) => format!(
            "whether compute `{name}` is still there could not be read: `kubectl aml attach show {name}` tells; the same command again finishes the detach"
        ),
    };
    let hint = match failure.hint() {
        Some(own) => format!("{now}; {own}"),
        None => now,
    };
    failure.hinted(hint).into()
}
