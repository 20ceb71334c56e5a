//! `kubectl aml fe install`: the inverse of `fe cleanup` — the eight azureml-fe objects for our
//! router, applied server-side as `kubectl-aml`.
//!
//! Order: read the eight objects (concurrently) → refuse over a foreign azureml-fe unless --force
//! (asking, then backing up its TLS Secret) → back up a TLS Secret a new pair replaces → apply in
//! the docs' order → optionally wait for the rollout. Re-running converges: unchanged objects say so.

use aml_core::Error;
use aml_core::cli::{DryRun, Printer, Report, Table};
use aml_core::k8s::install::{self, InstallSpec, MANAGED_BY, MANAGED_BY_LABEL, RouterScale};
use aml_core::k8s::{self, AZUREML_FE, FeObject, Kube, backup};
use aml_core::tls::{Material, Part};
use anyhow::Context as _;
use kube::api::DynamicObject;
use serde::Serialize;
use serde_json::{Value, json};

use crate::install_args::InstallPlan;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectResult {
    kind: &'static str,
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    /// `created`, `configured`, `unchanged`, `kept` (the TLS Secret, no new pair), `absent`
    /// (no TLS Secret at all), each with ` (server dry run)` / ` (dry run)` when not for real.
    result: String,
    #[serde(skip)]
    object: FeObject,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstallReport {
    namespace: String,
    image: String,
    version: String,
    dry_run: &'static str,
    https: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    backups: Vec<String>,
    objects: Vec<ObjectResult>,
    /// Whether the Deployment finished its rollout (only with --wait).
    #[serde(skip_serializing_if = "Option::is_none")]
    available: Option<bool>,
}

impl Report for InstallReport {
    fn tables(&self, _wide: bool) -> Vec<Table> {
        let mut table = Table::new(["OBJECT", "RESULT"]);
        for o in &self.objects {
            table.row([o.object.kubectl_name(), o.result.clone()]);
        }
        vec![table]
    }

    fn names(&self) -> Vec<String> {
        self.objects
            .iter()
            .map(|o| o.object.kubectl_name())
            .collect()
    }
}

pub(crate) async fn run(kube: &Kube, plan: &InstallPlan, out: &mut Printer) -> anyhow::Result<()> {
    let namespace = kube.namespace.clone();
    let mut spec = InstallSpec {
        namespace: namespace.clone(),
        image: plan.image.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        purpose: plan.purpose,
        scale_down_window: plan.scale_down_window,
        load_balancer: plan.load_balancer.clone(),
        tls: plan.tls.clone(),
        https: plan.tls.is_some(),
        scaled: None,
    };
    if plan.dry_run == DryRun::Client {
        return print_manifests(&spec, plan, out);
    }
    if plan.dry_run == DryRun::None {
        backup::check_dir(&plan.backup_dir, None)?;
    }
    let reads = AZUREML_FE
        .iter()
        .map(|o| k8s::get_opt(kube, o.kind, &namespace, o.name));
    let current: Vec<Option<DynamicObject>> = futures::future::join_all(reads)
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!("cannot read the azureml-fe objects in namespace `{namespace}`")
        })?;
    // The TLS Secret is data, not part of a router: one made by hand beforehand is simply kept.
    let foreign: Vec<FeObject> = AZUREML_FE
        .iter()
        .zip(&current)
        .filter(|(o, c)| !o.is_tls_secret() && c.as_ref().is_some_and(|c| !ours(c)))
        .map(|(o, _)| *o)
        .collect();
    if !foreign.is_empty() {
        refuse_or_confirm(&foreign, &namespace, plan, out)?;
    }
    let secret = current[6].as_ref();
    spec.https = spec.tls.is_some() || secret.is_some();
    // Keep what the router's autoscaler set, unless the purpose changes: then its sizes start over
    // (taking those fields back from the autoscaler's field manager).
    let installed_purpose = current[7]
        .as_ref()
        .and_then(|c| c.data.pointer("/data/cluster-purpose"))
        .and_then(Value::as_str);
    let purpose_changed = installed_purpose.is_some_and(|p| p != spec.purpose.flag());
    spec.scaled = current[5]
        .as_ref()
        .filter(|d| ours(d) && !purpose_changed)
        .map(|d| RouterScale::of(&d.data));
    let mut backups = Vec::new();
    // A secret that already holds the given pair is not replaced: no backup for a re-run.
    let given = plan.tls.as_ref().map(|(cert, key)| Material {
        cert: Part {
            what: "--cert".into(),
            bytes: cert.as_bytes().to_vec(),
        },
        key: Part {
            what: "--key".into(),
            bytes: key.as_bytes().to_vec(),
        },
    });
    let new_pair = given
        .as_ref()
        .is_some_and(|pair| secret.is_none_or(|s| !pair.held_by(s)));
    let replaced = new_pair || !foreign.is_empty();
    if let (Some(secret), DryRun::None, true) = (secret, plan.dry_run, replaced) {
        let path = backup::save(&plan.backup_dir, secret, jiff::Timestamp::now())
            .context("refusing to install: the TLS secret could not be backed up")?;
        out.info(&format!(
            "saved secret `{namespace}/azuremlfessl` to {} (mode 0600; restore with `kubectl create -f`)",
            path.display()
        ));
        backups.push(path.display().to_string());
    }
    if !spec.https {
        out.warn("no TLS certificate (no --cert/--key, no azuremlfessl Secret): the router serves HTTP only");
    }
    let dry = plan.dry_run == DryRun::Server;
    let manifests = install::render(&spec);
    let mut objects = Vec::new();
    for (object, live) in AZUREML_FE.iter().zip(&current) {
        let manifest = manifests
            .iter()
            .find(|m| m["kind"] == object.kind.kind && m["metadata"]["name"] == object.name);
        let result = match manifest {
            None if live.is_some() => "kept".to_string(),
            None => "absent".to_string(),
            Some(manifest) => {
                let force = plan.force || (purpose_changed && object.kind == k8s::Kind::DEPLOYMENT);
                let applied = k8s::apply(kube, object.kind, &namespace, manifest, dry, force)
                    .await
                    .map_err(|e| apply_error(e, *object, &objects))?;
                outcome(live.as_ref(), &applied)
            }
        };
        let suffix = if dry { " (server dry run)" } else { "" };
        objects.push(ObjectResult {
            kind: object.kind.kind,
            name: object.name,
            namespace: object.kind.namespaced.then(|| namespace.clone()),
            result: format!("{result}{suffix}"),
            object: *object,
        });
    }
    let mut report = InstallReport {
        namespace: namespace.clone(),
        image: spec.image.clone(),
        version: spec.version.clone(),
        dry_run: plan.dry_run.as_str(),
        https: spec.https,
        backups,
        objects,
        available: None,
    };
    if plan.wait && !dry {
        out.progress(&format!(
            "waiting for deployment.apps/azureml-fe in `{namespace}` to be available"
        ));
        let waited = k8s::wait_for_rollout(kube, &namespace, "azureml-fe", plan.timeout).await;
        report.available = Some(waited.is_ok());
        out.report(&report)?;
        return waited.map_err(|e| {
            anyhow::Error::new(e).context("the router was installed but is not available")
        });
    }
    out.report(&report)?;
    Ok(())
}

/// Whether kubectl-aml installed this object.
fn ours(object: &DynamicObject) -> bool {
    object
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY)
}

/// `created`, `configured` or `unchanged`, from the object before and after the apply.
fn outcome(before: Option<&DynamicObject>, after: &DynamicObject) -> String {
    match before {
        None => "created",
        Some(b) if b.metadata.resource_version == after.metadata.resource_version => "unchanged",
        Some(_) => "configured",
    }
    .to_string()
}

/// An apply that failed: which object, what was applied before it (a re-run finishes the job).
fn apply_error(e: k8s::Error, object: FeObject, done: &[ObjectResult]) -> anyhow::Error {
    let conflict = e.status_code() == Some(409);
    let mut error = anyhow::Error::new(e);
    if conflict {
        error = error.context(Error::failed(
            format!("{} has fields another manager owns", object.kubectl_name()),
            "see the fields above; change them back, or take them over with --force",
        ));
    }
    error.context(format!(
        "cannot apply {} ({} of {} applied before it; running the command again finishes the install)",
        object.kubectl_name(),
        done.len(),
        AZUREML_FE.len(),
    ))
}

fn refuse_or_confirm(
    foreign: &[FeObject],
    namespace: &str,
    plan: &InstallPlan,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let names: Vec<String> = foreign.iter().map(FeObject::kubectl_name).collect();
    if !plan.force {
        return Err(Error::refused(
            format!(
                "an azureml-fe that kubectl-aml did not install is in namespace `{namespace}` ({})",
                names.join(", ")
            ),
            "remove it with `kubectl aml fe cleanup` first, or pass --force to take it over (its TLS secret is backed up first)",
        )
        .into());
    }
    if plan.dry_run.is_dry() || plan.yes {
        return Ok(());
    }
    out.info(&format!(
        "These azureml-fe objects were not installed by kubectl-aml and will be taken over (namespace `{namespace}`):"
    ));
    for name in &names {
        out.info(&format!("  {name}"));
    }
    if out.confirm(&format!("take over {} azureml-fe objects", names.len()))? {
        return Ok(());
    }
    Err(Error::refused(
        "cancelled: nothing was changed",
        "answer `y` to take them over, or pass --yes",
    )
    .into())
}

/// `--dry-run=client`: the manifests for -o yaml|json, else what would be applied.
fn print_manifests(
    spec: &InstallSpec,
    plan: &InstallPlan,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let mut manifests = install::render(spec);
    if !plan.show_secret {
        for m in manifests.iter_mut().filter(|m| m["kind"] == "Secret") {
            m["stringData"]["key.pem"] =
                json!("<left out: add --show-secrets to print the private key>");
        }
    }
    // In a document format the objects print as one v1 List, as `kubectl create
    // --dry-run=client -o yaml|json` prints several objects (`kubectl apply -f` takes it).
    for m in &manifests {
        out.document(m, || {
            format!("{} would be applied (dry run)", kubectl_name(m))
        })?;
    }
    if !spec.https {
        out.warn("no --cert/--key: the manifests serve HTTP only (an existing azuremlfessl Secret is kept, and HTTPS is on, when applied for real)");
    }
    Ok(())
}

fn kubectl_name(manifest: &Value) -> String {
    let kind = manifest["kind"].as_str().unwrap_or_default();
    AZUREML_FE
        .iter()
        .find(|o| o.kind.kind == kind && manifest["metadata"]["name"] == o.name)
        .map_or_else(|| kind.to_lowercase(), FeObject::kubectl_name)
}
