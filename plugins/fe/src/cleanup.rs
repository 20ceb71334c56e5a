//! `kubectl aml fe cleanup`: the docs' eight `kubectl delete` lines, made safe.
//!
//! Order: check model services and read the eight objects (concurrently) → refuse or ask →
//! back up the TLS secret → delete all eight concurrently → wait for each → report per object.

use aml_core::Error;
use aml_core::cli::{DryRun, ExitCode, Printer, Report, Table, plural};
use aml_core::k8s::{
    self, AZUREML_FE, DeleteOptions, Deletion, FeObject, Kube, ModelService, backup,
};
use anyhow::Context as _;
use kube::api::DynamicObject;
use serde::Serialize;

use crate::cli::CleanupPlan;
use crate::object_error;

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Outcome {
    Deleted,
    /// Accepted, still finalizing (only with --wait=false).
    Deleting,
    AlreadyAbsent,
    WouldDelete,
    Failed,
}

impl Outcome {
    fn text(self) -> &'static str {
        match self {
            Self::Deleted => "deleted",
            Self::Deleting => "deleting",
            Self::AlreadyAbsent => "already absent",
            Self::WouldDelete => "would delete",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectResult {
    kind: &'static str,
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    result: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip)]
    object: FeObject,
    /// A failure's exit code (3 refused, 5 timed out, …).
    #[serde(skip)]
    code: Option<ExitCode>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CleanupReport {
    namespace: String,
    dry_run: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
    active_model_services: Vec<ModelService>,
    objects: Vec<ObjectResult>,
    failed: usize,
}

pub(crate) async fn run(kube: &Kube, plan: &CleanupPlan, out: &mut Printer) -> anyhow::Result<()> {
    let namespace = kube.namespace.clone();
    if let Some(dir) = &plan.backup_dir {
        backup::check_dir(dir, Some("--no-backup"))?;
    }
    let reads = AZUREML_FE
        .iter()
        .map(|o| k8s::get_opt(kube, o.kind, &namespace, o.name));
    let (services, current) = futures::join!(
        k8s::list_model_services(kube),
        futures::future::join_all(reads)
    );
    let active = check_model_services(services, plan, out)?;
    let secret = tls_secret(&current, plan)?;

    let present: Vec<FeObject> = AZUREML_FE
        .iter()
        .zip(&current)
        .filter(|(_, c)| !matches!(c, Ok(None)))
        .map(|(o, _)| *o)
        .collect();
    let mut backup_path = None;
    let results = if plan.dry_run == DryRun::Client {
        AZUREML_FE
            .iter()
            .zip(current)
            .map(|(o, c)| client_dry_run(*o, &namespace, c))
            .collect()
    } else {
        if plan.dry_run == DryRun::None && !present.is_empty() && !plan.yes {
            confirm(out, &present, &namespace)?;
        }
        if plan.dry_run == DryRun::None
            && let (Some(dir), Some(secret)) = (&plan.backup_dir, &secret)
        {
            let path = backup::save(dir, secret, jiff::Timestamp::now())
                .context("refusing to delete anything: the TLS secret could not be backed up")?;
            out.info(&format!("saved secret `{namespace}/azuremlfessl` to {} (mode 0600; restore with `kubectl create -f`)", path.display()));
            backup_path = Some(path.display().to_string());
        }
        // The secret goes only if it is still the version that was saved; if something replaced
        // it meanwhile the server answers 409 and a re-run backs up the new one.
        let saved_version = backup_path
            .as_ref()
            .and(secret.as_ref())
            .and_then(|s| s.metadata.resource_version.clone());
        let deletes = AZUREML_FE.iter().map(|o| {
            let options = DeleteOptions {
                propagation: plan.propagation,
                dry_run: plan.dry_run == DryRun::Server,
                resource_version: if o.is_tls_secret() {
                    saved_version.clone()
                } else {
                    None
                },
            };
            delete_one(kube, *o, &namespace, plan, options)
        });
        futures::future::join_all(deletes).await
    };
    if plan.dry_run.is_dry()
        && secret.is_some()
        && let Some(dir) = &plan.backup_dir
    {
        out.info(&format!(
            "would save secret `{namespace}/azuremlfessl` to {}",
            dir.display()
        ));
    }
    let failed = results
        .iter()
        .filter(|r| r.result == Outcome::Failed)
        .count();
    let report = CleanupReport {
        namespace,
        dry_run: plan.dry_run.as_str(),
        backup: backup_path,
        active_model_services: active,
        objects: results,
        failed,
    };
    out.report(&report)?;
    if failed > 0 {
        // Every failure for one reason (all refused, all timed out): its exit code, not just 1.
        let mut codes = report.objects.iter().filter_map(|r| r.code);
        let first = codes.next().unwrap_or(ExitCode::FAILURE);
        let code = if codes.all(|c| c == first) {
            first
        } else {
            ExitCode::FAILURE
        };
        return Err(Error::failed_as(
            code,
            format!("{failed} of {} azureml-fe objects were not deleted", AZUREML_FE.len()),
            "fix the cause shown above and run the same command again: deleted objects then show as already absent",
        )
        .into());
    }
    Ok(())
}

/// Refuses while model services run replicas, unless --force; returns the active ones. A dry run
/// previews anyway and says the real run would refuse.
fn check_model_services(
    listed: Result<Vec<ModelService>, k8s::Error>,
    plan: &CleanupPlan,
    out: &mut Printer,
) -> anyhow::Result<Vec<ModelService>> {
    let services = match listed {
        Ok(services) => services,
        Err(e) if plan.force || plan.dry_run.is_dry() => {
            let going_on = if plan.force {
                "--force given, going on"
            } else {
                "the real run would refuse unless --force"
            };
            out.warn(&format!(
                "cannot check for active model services ({going_on}): {}",
                object_error(&e)
            ));
            return Ok(vec![]);
        }
        Err(e) => {
            return Err(anyhow::Error::new(e))
                .context("cannot tell whether model services are still active");
        }
    };
    let active: Vec<ModelService> = services
        .into_iter()
        .filter(ModelService::is_active)
        .collect();
    if active.is_empty() {
        return Ok(active);
    }
    let names: Vec<String> = active
        .iter()
        .map(|s| {
            let replicas = plural(s.replicas.max(0) as u64, "replica");
            format!("{}/{} ({replicas})", s.namespace, s.name)
        })
        .collect();
    if !plan.force && plan.dry_run.is_dry() {
        out.warn(&format!(
            "the real run would refuse: {} still active: {} (scale them to zero first, or pass --force)",
            plural(active.len() as u64, "model service"),
            names.join(", ")
        ));
        return Ok(active);
    }
    if !plan.force {
        let first = &active[0];
        return Err(Error::refused(
            format!(
                "{} still active: {}",
                plural(active.len() as u64, "model service"),
                names.join(", ")
            ),
            format!(
                "azureml-fe routes their traffic; delete or scale them to zero first \
                 (`kubectl scale deployment/{} -n {} --replicas=0`), or pass --force",
                first.name, first.namespace
            ),
        )
        .into());
    }
    out.warn(&format!(
        "deleting azureml-fe while model services are active (--force): {}",
        names.join(", ")
    ));
    Ok(active)
}

/// The TLS secret to back up, if present; refuses when it cannot be read and a backup is wanted.
fn tls_secret(
    current: &[Result<Option<DynamicObject>, k8s::Error>],
    plan: &CleanupPlan,
) -> anyhow::Result<Option<DynamicObject>> {
    let index = AZUREML_FE
        .iter()
        .position(FeObject::is_tls_secret)
        .expect("the set has the TLS secret");
    match &current[index] {
        Ok(secret) => Ok(secret.clone()),
        Err(_) if plan.backup_dir.is_none() || plan.dry_run.is_dry() => Ok(None),
        // The read's own exit code stands: refused access is 3, a timeout 5.
        Err(e) => Err(Error::failed_as(
            e.exit_code(),
            format!(
                "cannot read the TLS secret to back it up: {}",
                object_error(e)
            ),
            "fix access to the secret, or pass --no-backup to delete it without a copy",
        ))
        .context("refusing to delete anything"),
    }
}

fn confirm(out: &mut Printer, present: &[FeObject], namespace: &str) -> anyhow::Result<()> {
    out.info(&format!(
        "These azureml-fe objects will be deleted (namespace `{namespace}`):"
    ));
    for object in present {
        out.info(&format!("  {}", object.kubectl_name()));
    }
    let question = format!("delete {} azureml-fe objects", present.len());
    if out.confirm(&question)? {
        return Ok(());
    }
    Err(Error::refused(
        "cancelled: nothing was deleted",
        "answer `y` to delete, or pass --yes",
    )
    .into())
}

fn result(
    object: FeObject,
    namespace: &str,
    outcome: Outcome,
    error: Option<String>,
) -> ObjectResult {
    ObjectResult {
        kind: object.kind.kind,
        name: object.name,
        namespace: object.kind.namespaced.then(|| namespace.to_string()),
        result: outcome,
        error,
        object,
        code: None,
    }
}

/// A failed object, with the exit code of its failure.
fn failure(object: FeObject, namespace: &str, message: String, code: ExitCode) -> ObjectResult {
    ObjectResult {
        code: Some(code),
        ..result(object, namespace, Outcome::Failed, Some(message))
    }
}

fn client_dry_run(
    object: FeObject,
    namespace: &str,
    current: Result<Option<DynamicObject>, k8s::Error>,
) -> ObjectResult {
    match current {
        Ok(Some(_)) => result(object, namespace, Outcome::WouldDelete, None),
        Ok(None) => result(object, namespace, Outcome::AlreadyAbsent, None),
        Err(e) => failure(object, namespace, object_error(&e), e.exit_code()),
    }
}

/// Deletes one object and, if it lingers, waits for it; never fails the others.
///
/// The DELETE and the wait are each bounded by --timeout, so a message can say which one ran out.
async fn delete_one(
    kube: &Kube,
    object: FeObject,
    namespace: &str,
    plan: &CleanupPlan,
    options: DeleteOptions,
) -> ObjectResult {
    let failed = |message: String, code| failure(object, namespace, message, code);
    let request = k8s::delete(kube, object.kind, namespace, object.name, &options);
    let deletion = match tokio::time::timeout(plan.timeout, request).await {
        Err(_) => {
            let message = format!("no answer within {}s", plan.timeout.as_secs_f64());
            return failed(message, ExitCode::TIMEOUT);
        }
        Ok(Err(e)) => return failed(object_error(&e), e.exit_code()),
        Ok(Ok(deletion)) => deletion,
    };
    let outcome = match deletion {
        Deletion::AlreadyAbsent => Outcome::AlreadyAbsent,
        Deletion::Accepted { .. } if options.dry_run => Outcome::WouldDelete,
        Deletion::Accepted { pending: false, .. } => Outcome::Deleted,
        Deletion::Accepted { pending: true, .. } if !plan.wait => Outcome::Deleting,
        Deletion::Accepted { uid, pending: true } => {
            let wait = k8s::wait_until_gone(
                kube,
                object.kind,
                namespace,
                object.name,
                uid.as_deref(),
                plan.timeout,
            );
            if let Err(e) = wait.await {
                return failed(object_error(&e), e.exit_code());
            }
            Outcome::Deleted
        }
    };
    result(object, namespace, outcome, None)
}

impl Report for CleanupReport {
    fn tables(&self, wide: bool) -> Vec<Table> {
        let mut headers = vec!["KIND", "NAME"];
        if wide {
            headers.push("NAMESPACE");
        }
        headers.push("RESULT");
        let mut table = Table::new(headers);
        for row in &self.objects {
            let mut cells = vec![row.kind.to_string(), row.name.to_string()];
            if wide {
                cells.push(row.namespace.clone().unwrap_or_else(|| "<cluster>".into()));
            }
            cells.push(match &row.error {
                Some(e) => format!("{}: {e}", row.result.text()),
                None => row.result.text().to_string(),
            });
            table.row(cells);
        }
        vec![table]
    }

    fn names(&self) -> Vec<String> {
        let acted = [Outcome::Deleted, Outcome::Deleting, Outcome::WouldDelete];
        self.objects
            .iter()
            .filter(|o| acted.contains(&o.result))
            .map(|o| o.object.kubectl_name())
            .collect()
    }
}
