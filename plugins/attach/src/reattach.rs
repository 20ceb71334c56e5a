//! `reattach NAME`: the docs' five manual steps of a re-attach as one command that a re-run
//! continues — read, export the TLS pair, detach, clean up azureml-fe, attach again.

use std::path::{Path, PathBuf};

use aml_core::arm::{ArmRequest, Azure, print_request};
use aml_core::cli::{Command as _, Printer};
use aml_core::k8s::{self, Kube};
use aml_core::{Context, Error};
use clap::Parser as _;
use serde_json::{Value, json};

use crate::cli::{DetachArgs, ReattachArgs, WriteArgs};
use crate::journal::{self, Journal, Record, Step};
use crate::reattach_plan::Plan;
use crate::resume::{self, Earlier};
use crate::workspace::{self, Workspace};
use crate::{cluster, detach, finish, show};

/// `reattach NAME`.
pub(crate) async fn run(
    ctx: &Context,
    args: &ReattachArgs,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let name = args.name.as_str();
    let dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("reattach-{name}")));
    let azure = ctx.azure().await?;
    let ws = workspace::get(azure).await?;
    let mut journal = match Journal::open(&dir)? {
        Some(j) => earlier_journal(j, &ws, name)?,
        None => {
            let compute = ws
                .compute(azure, name)
                .await?
                .ok_or_else(|| workspace::no_compute(&ws, name))?;
            let settings = aml_core::redact::redacted(&compute);
            Journal::new(
                &dir,
                Record {
                    workspace: ws.id.to_string(),
                    compute: name.into(),
                    settings,
                    done: vec![],
                },
            )
        }
    };
    let plan = Plan::of(name, &journal.record.settings)?;
    let steps = plan.steps();
    if steps.iter().all(|s| journal.is_done(*s)) {
        out.info(&format!("the re-attach of compute `{name}` recorded in `{}` is finished: nothing to do (remove the directory to re-attach again)", dir.display()));
        return Ok(());
    }
    let kube = match plan {
        Plan::Aks { ref cluster, .. } if !journal.is_done(Step::Cleanup) => {
            Some(cluster_kube(ctx, azure, cluster, args.force, out).await?)
        }
        _ => None,
    };
    if args.dry_run {
        return print_steps(azure, &ws, name, &plan, &journal, &dir, kube, out);
    }
    let question = format!(
        "detach compute `{name}` from workspace `{}` and attach it again{}",
        ws.id.name(),
        if matches!(plan, Plan::Aks { .. }) {
            ", deleting azureml-fe in between (its secret backed up)"
        } else {
            ""
        }
    );
    if journal.record.done.is_empty() && !args.yes && !out.confirm(&question)? {
        out.info("nothing done");
        return Ok(());
    }
    journal::state_dir(&dir)?;
    let total = steps.len();
    for (n, step) in steps.into_iter().enumerate() {
        let head = format!("step {}/{total}: {}", n + 1, step.label());
        if journal.is_done(step) {
            out.info(&format!("{head}: done by an earlier run"));
            continue;
        }
        out.info(&head);
        let done = one_step(ctx, azure, &ws, name, &plan, step, &dir, args, out).await;
        done.map_err(|e| e.context(format!("{head} failed; `{}` records the steps finished, and the same command again continues from this one", journal.path().display())))?;
        journal.finished(step)?;
    }
    out.info(&format!("compute `{name}` re-attached; the journal, the exported pair and the secret's backup stay in `{}`", dir.display()));
    Ok(())
}

/// A journal found in --state-dir: it must be this compute's in this workspace.
fn earlier_journal(journal: Journal, ws: &Workspace, name: &str) -> Result<Journal, Error> {
    let record = &journal.record;
    let same_ws = record.workspace.eq_ignore_ascii_case(&ws.id.to_string());
    if !same_ws || !record.compute.eq_ignore_ascii_case(name) {
        return Err(Error::usage(
            format!(
                "`{}` is the journal of compute `{}` in `{}`, not of `{name}` in workspace `{}`",
                journal.path().display(),
                record.compute,
                record.workspace,
                ws.id.name()
            ),
            "pass the --state-dir of this compute's re-attach (default ./reattach-NAME)",
        ));
    }
    Ok(journal)
}

/// The cluster's client (the kubeconfig context must be this cluster: azureml-fe is deleted
/// there), after refusing while model services are active unless --force.
async fn cluster_kube<'a>(
    ctx: &'a Context,
    azure: &Azure,
    id: &aml_core::arm::ResourceId,
    force: bool,
    out: &mut Printer,
) -> anyhow::Result<&'a Kube> {
    let found = cluster::fetch(azure, id).await?.ok_or_else(|| {
        Error::failed(
            format!(
                "cluster `{}` not found in resource group `{}`",
                id.name(),
                id.resource_group()
            ),
            "a re-attach needs the cluster the compute points at",
        )
    })?;
    let hosts: Vec<&str> = [&found.fqdn, &found.private_fqdn]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let kube = ctx
        .kube_for_cluster(id.resource_group(), id.name(), &hosts)
        .await
        .map_err(|why| {
            Error::usage(
                format!(
                    "a re-attach deletes azureml-fe in cluster `{}`, but {why}",
                    id.name()
                ),
                format!(
                    "`az aks get-credentials -g {} -n {}`, or --context",
                    id.resource_group(),
                    id.name()
                ),
            )
        })?;
    let active: Vec<String> = k8s::list_model_services(kube)
        .await?
        .into_iter()
        .filter(k8s::ModelService::is_active)
        .map(|s| format!("{}/{}", s.namespace, s.name))
        .collect();
    if !active.is_empty() {
        let names = active.join(", ");
        if !force {
            return Err(Error::refused(
                format!("model services are active in cluster `{}`: {names}", id.name()),
                "they get no traffic from the detach until the attach is done: scale them to zero or delete them first, or pass --force",
            )
            .into());
        }
        out.warn(&format!(
            "re-attaching while model services are active (--force): {names}"
        ));
    }
    Ok(kube)
}

#[allow(clippy::too_many_arguments)]
async fn one_step(
    ctx: &Context,
    azure: &Azure,
    ws: &Workspace,
    name: &str,
    plan: &Plan,
    step: Step,
    dir: &Path,
    args: &ReattachArgs,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let dir_text = dir.to_string_lossy().into_owned();
    match step {
        // The settings were read when the journal was started.
        Step::Read => Ok(()),
        Step::Export => {
            // --force: an interrupted export may have written the files already; the secret
            // they come from is still in place (cleanup comes later).
            let cli = kubectl_aml_certs::Cli::try_parse_from([
                "certs",
                "export",
                "--out-dir",
                &dir_text,
                "--force",
            ])?;
            cli.run(ctx, out).await
        }
        Step::Detach => {
            let Some(compute) = ws.compute(azure, name).await? else {
                out.info(&format!("compute `{name}` is already detached"));
                return Ok(());
            };
            let points_at = compute
                .pointer("/properties/resourceId")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !points_at.eq_ignore_ascii_case(&plan.cluster()) {
                return Err(Error::refused(
                    format!(
                        "compute `{name}` now points at `{points_at}`, not at the cluster recorded"
                    ),
                    "someone attached another cluster under this name: re-attach by hand",
                )
                .into());
            }
            let write = WriteArgs {
                dry_run: false,
                no_wait: false,
                skip_checks: false,
            };
            let args = DetachArgs {
                name: name.into(),
                delete_cluster: false,
                yes: true,
                write,
            };
            match detach::run(ctx, &args, out).await {
                // An earlier run's detach may end between the read above and detach's own.
                Err(e) if ws.compute(azure, name).await.is_ok_and(|c| c.is_none()) => {
                    tracing::debug!(error = %e, "the compute went while detaching it");
                    out.info(&format!("compute `{name}` is detached"));
                    Ok(())
                }
                done => done,
            }
        }
        Step::Cleanup => {
            let mut argv = vec!["fe", "cleanup", "--yes", "--backup-dir", &dir_text];
            if args.force {
                argv.push("--force");
            }
            kubectl_aml_fe::Cli::try_parse_from(argv)?
                .run(ctx, out)
                .await
        }
        Step::Attach => {
            let write = WriteArgs {
                dry_run: false,
                no_wait: false,
                skip_checks: true,
            };
            let computes = ws.computes(azure).await?;
            let id: aml_core::arm::ResourceId = plan.cluster().parse()?;
            let (kind, namespace) = match plan {
                Plan::Aks { .. } => ("AKS", None),
                Plan::Kubernetes(k) => ("Kubernetes", Some(k.namespace.as_str())),
            };
            let made = Earlier {
                kind,
                cluster: Some(&id),
                namespace,
            };
            if resume::earlier(azure, ws, name, &computes, made, &write, out).await? {
                return Ok(());
            }
            let request = ArmRequest::create(
                show::compute_url(azure, &ws.id, name, &[]),
                plan.body(&ws.location, Some(dir))?,
            );
            let what = format!(
                "attaching cluster `{}` as compute `{name}` again",
                id.name()
            );
            finish::created(azure, ws, name, request, &what, &write, out).await
        }
    }
}

/// `--dry-run`: the steps still to do and what each sends.
#[allow(clippy::too_many_arguments)]
fn print_steps(
    azure: &Azure,
    ws: &Workspace,
    name: &str,
    plan: &Plan,
    journal: &Journal,
    dir: &Path,
    kube: Option<&Kube>,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let url = |query: &[(&str, &str)]| show::compute_url(azure, &ws.id, name, query);
    let namespace = kube.map(|k| k.namespace.clone()).unwrap_or_default();
    let mut listed = Vec::new();
    for step in plan.steps() {
        let (does, request) = match step {
            _ if journal.is_done(step) => ("done by an earlier run".to_string(), None),
            Step::Read => (format!("GET {}", url(&[])), None),
            Step::Export => (
                format!(
                    "secret `{namespace}/azuremlfessl` to {0}/cert.pem and {0}/key.pem (0600)",
                    dir.display()
                ),
                None,
            ),
            Step::Detach => (
                "".into(),
                Some(ArmRequest::delete(url(&[(
                    "underlyingResourceAction",
                    "Detach",
                )]))),
            ),
            Step::Cleanup => (
                format!(
                    "delete the 8 azureml-fe objects in namespace `{namespace}` and cluster scope, the TLS secret backed up to {}",
                    dir.display()
                ),
                None,
            ),
            Step::Attach => (
                "".into(),
                Some(ArmRequest::put(url(&[]), plan.body(&ws.location, None)?)),
            ),
        };
        listed.push((step, does, request));
    }
    if out.documents() {
        let items: Vec<Value> = listed
            .iter()
            .map(|(step, does, request)| match request {
                Some(r) => json!({"step": step, "method": r.method.as_str(), "url": r.url, "body": r.body.as_ref().map(aml_core::redact::redacted)}),
                None => json!({"step": step, "does": does}),
            })
            .collect();
        out.document(&items, String::new)?;
        return Ok(());
    }
    out.info(&format!(
        "re-attach of compute `{name}` (cluster `{}`), state in `{}` (dry run: nothing sent)",
        plan.cluster().rsplit('/').next().unwrap_or_default(),
        dir.display()
    ));
    for (n, (step, does, request)) in listed.iter().enumerate() {
        out.line(&format!(
            "{}. {}{}",
            n + 1,
            step.label(),
            if does.is_empty() {
                String::new()
            } else {
                format!(": {does}")
            }
        ))?;
        if let Some(r) = request {
            print_request(r, out)?;
        }
    }
    Ok(())
}
