//! `kubectl aml certs rotate`: verify the new pair, back up the secret, replace both keys in one
//! update (resourceVersion precondition; on conflict re-read, back up again, retry), then restart
//! azureml-fe as `kubectl rollout restart` does and optionally follow the rollout.

use std::path::PathBuf;

use aml_core::cli::{DryRun, Printer, Report, Table};
use aml_core::k8s::{self, Kind, Kube, backup};
use aml_core::tls::{self, CertSummary, Check, CheckStatus, Material, SecretKeys, VerifyOptions};
use aml_core::{Context, Error};
use anyhow::Context as _;
use base64::Engine;
use kube::api::DynamicObject;
use serde::Serialize;
use serde_json::json;

use crate::cli::RotateArgs;
use crate::{owed, source};

/// Updates tried before giving up on a secret that keeps changing under us.
const ATTEMPTS: usize = 3;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RotateReport {
    secret: String,
    dry_run: &'static str,
    changed: bool,
    backups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_fingerprint: Option<String>,
    new_fingerprint: String,
    new_not_after: String,
    restart: String,
    rollout: String,
    checks: Vec<Check>,
}

impl Report for RotateReport {
    fn tables(&self, _wide: bool) -> Vec<Table> {
        let mut t = Table::new(["FIELD", "VALUE"]);
        t.row(["secret", &self.secret]);
        t.row(["changed", if self.changed { "yes" } else { "no" }]);
        if self.dry_run != "none" {
            t.row(["dry run", self.dry_run]);
        }
        for backup in &self.backups {
            t.row(["backup", backup]);
        }
        t.row([
            "previous",
            self.previous_fingerprint
                .as_deref()
                .map(|f| format!("SHA256 {f}"))
                .as_deref()
                .unwrap_or("(did not decode)"),
        ]);
        t.row([
            "new".to_string(),
            format!(
                "SHA256 {} (valid until {})",
                self.new_fingerprint, self.new_not_after
            ),
        ]);
        t.row(["restart", &self.restart]);
        t.row(["rollout", &self.rollout]);
        vec![t]
    }

    fn names(&self) -> Vec<String> {
        vec![format!(
            "secret/{}",
            self.secret.rsplit('/').next().unwrap_or_default()
        )]
    }
}

/// The secret with both keys replaced; everything else, resourceVersion included, kept.
fn with_pair(secret: &DynamicObject, keys: SecretKeys, new: &Material) -> DynamicObject {
    let mut replacement = secret.clone();
    replacement.metadata.managed_fields = None;
    // When the pair changed, in the same update: a re-run tells from it whether the restart
    // that should follow ever happened.
    replacement
        .metadata
        .annotations
        .get_or_insert_default()
        .insert(
            owed::ROTATED_AT.into(),
            k8s::kube_time(jiff::Timestamp::now()),
        );
    let encode = |bytes: &[u8]| json!(base64::engine::general_purpose::STANDARD.encode(bytes));
    let data = replacement
        .data
        .as_object_mut()
        .expect("a secret is an object")
        .entry("data")
        .or_insert_with(|| json!({}));
    data[keys.cert] = encode(&new.cert.bytes);
    data[keys.key] = encode(&new.key.bytes);
    replacement
}

pub(crate) async fn run(ctx: &Context, args: &RotateArgs, out: &mut Printer) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now();
    if args.dry_run == DryRun::None {
        backup::check_dir(&args.backup_dir, None)?;
    }
    // The new pair first: nothing is read from or sent to the cluster for a broken pair.
    let new = Material::from_files(&args.cert, &args.key)?;
    let chain = tls::parse_chain(&new.cert)?;
    let key = tls::parse_key(&new.key)?;
    let kube = ctx.kube().await?;
    let namespace = kube.namespace.clone();
    let name = args.secret.secret.clone();
    let current = source::read_secret(kube, &name).await?;
    let (keys, current_cert, _) = Material::parts_from_secret(&current);
    let previous: Option<CertSummary> = current_cert
        .ok()
        .and_then(|p| tls::parse_chain(&p).ok())
        .and_then(|c| tls::summarize(&c, None, now).ok());
    if previous.is_none() {
        out.warn(&format!(
            "the certificate in secret `{namespace}/{name}` does not decode; it will be replaced"
        ));
    }
    // Clients reach azureml-fe by the current certificate's name: the new one must cover it too.
    let cname = args
        .policy
        .cname
        .clone()
        .or_else(|| previous.as_ref().and_then(CertSummary::primary_name));
    let options = VerifyOptions {
        min_days: i64::from(args.policy.min_days),
        cname,
        now,
    };
    let checks = tls::verify(Ok(chain.clone()), Ok(key.clone_key()), &options);
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| format!("{} ({})", c.name, c.detail))
        .collect();
    if !failed.is_empty() {
        let name_changes =
            args.policy.cname.is_none() && failed.iter().any(|f| f.starts_with("cname "));
        let hint = if name_changes {
            "the new certificate must cover the name clients use now; if they will use another name, \
             pass it with --cname"
                .to_string()
        } else {
            format!(
                "`kubectl aml certs verify --cert {} --key {}` shows every check",
                args.cert.display(),
                args.key.display()
            )
        };
        let count = aml_core::cli::plural(failed.len() as u64, "check");
        return Err(Error::refused(
            format!(
                "refusing to rotate: the new pair fails {count}: {}",
                failed.join("; ")
            ),
            hint,
        )
        .into());
    }
    let new_summary = tls::summarize(&chain, Some(&key), now)?;
    let mut report = RotateReport {
        secret: format!("{namespace}/{name}"),
        dry_run: args.dry_run.as_str(),
        changed: false,
        backups: vec![],
        previous_fingerprint: previous.map(|p| p.fingerprint_sha256),
        new_fingerprint: new_summary.fingerprint_sha256.clone(),
        new_not_after: new_summary.not_after.clone(),
        restart: "not needed".into(),
        rollout: "-".into(),
        checks,
    };
    if args.wait && !args.no_restart && args.dry_run == DryRun::None {
        // Checked before anything changes: --wait has nothing to follow without it.
        if k8s::get_opt(kube, Kind::DEPLOYMENT, &namespace, &args.deployment)
            .await?
            .is_none()
        {
            return Err(Error::not_found(
                format!(
                    "no deployment `{namespace}/{}` to restart and wait for: nothing was changed",
                    args.deployment
                ),
                "pass --deployment NAME, or --no-restart (without --wait) when azureml-fe runs elsewhere",
            )
            .into());
        }
    }
    if new.held_by(&current) {
        out.info(&format!(
            "secret `{namespace}/{name}` already holds this pair: no change"
        ));
        // An earlier rotation may have stopped before its restart: finish it.
        if !args.no_restart
            && args.dry_run == DryRun::None
            && owed::restart_owed(kube, &current, &args.deployment).await?
        {
            out.info(&format!(
                "deployment/{} still runs pods from before this pair was put in place: restarting it",
                args.deployment
            ));
            report.restart = restart(kube, args, "none", out).await?;
            follow(kube, args, &mut report).await?;
        }
        out.report(&report)?;
        return Ok(());
    }
    if args.dry_run == DryRun::Client {
        out.info(&format!(
            "would save secret `{namespace}/{name}` to {}",
            args.backup_dir.display()
        ));
        out.info(&format!(
            "would replace `{}` and `{}` in one update",
            keys.cert, keys.key
        ));
        report.changed = true;
        report.restart = if args.no_restart {
            "skipped (--no-restart)".into()
        } else {
            format!("would restart deployment/{}", args.deployment)
        };
        out.report(&report)?;
        return Ok(());
    }
    if args.dry_run == DryRun::None && !args.yes {
        let question = format!(
            "replace the certificate in secret `{namespace}/{name}` and restart deployment/{}",
            args.deployment
        );
        if !out.confirm(&question)? {
            return Err(Error::refused(
                "cancelled: nothing was changed",
                "answer `y` to rotate, or pass --yes",
            )
            .into());
        }
    }
    let (changed, backups) = update(kube, args, current, keys, &new, out).await?;
    report.changed = changed;
    report.backups = backups.iter().map(|b| b.display().to_string()).collect();
    let saved = report
        .backups
        .last()
        .cloned()
        .unwrap_or_else(|| "none".into());
    if changed && !args.no_restart {
        report.restart = restart(kube, args, &saved, out).await?;
    } else if args.no_restart {
        report.restart =
            "skipped (--no-restart): azureml-fe serves the old certificate until its pods restart"
                .into();
    }
    follow(kube, args, &mut report).await?;
    out.report(&report)?;
    Ok(())
}

/// After a restart: follow the rollout with --wait, or say it was not followed.
async fn follow(kube: &Kube, args: &RotateArgs, report: &mut RotateReport) -> anyhow::Result<()> {
    if args.wait && report.restart == "restarted" {
        k8s::wait_for_rollout(kube, &kube.namespace, &args.deployment, args.timeout)
            .await
            .context("the secret holds the new pair and azureml-fe was restarted, but its rollout did not finish")?;
        report.rollout = "complete".into();
    } else if report.restart == "restarted" {
        report.rollout = "not waited (pass --wait to follow it)".into();
    }
    Ok(())
}

/// Backs up and replaces the secret in one update; on a conflict re-reads it, backs up the new
/// version too, and tries again. Returns whether anything changed and the backups written.
async fn update(
    kube: &Kube,
    args: &RotateArgs,
    first: DynamicObject,
    keys: SecretKeys,
    new: &Material,
    out: &mut Printer,
) -> anyhow::Result<(bool, Vec<PathBuf>)> {
    let namespace = kube.namespace.clone();
    let dry_run = args.dry_run == DryRun::Server;
    let (mut current, mut backups) = (first, Vec::new());
    for attempt in 1..=ATTEMPTS {
        if !dry_run {
            let path = backup::save(&args.backup_dir, &current, jiff::Timestamp::now())
                .context("refusing to rotate: the current secret could not be backed up")?;
            out.info(&format!(
                "saved secret `{namespace}/{}` to {} (mode 0600)",
                args.secret.secret,
                path.display()
            ));
            backups.push(path);
        }
        match k8s::replace(
            kube,
            Kind::SECRET,
            &namespace,
            &with_pair(&current, keys, new),
            dry_run,
        )
        .await
        {
            Ok(_) => return Ok((true, backups)),
            Err(e) if e.status_code() == Some(409) && attempt < ATTEMPTS => {
                out.warn(&format!("the secret changed while rotating (attempt {attempt} of {ATTEMPTS}): reading it again"));
                current = source::read_secret(kube, &args.secret.secret).await?;
                if new.held_by(&current) {
                    out.info("it now holds the new pair already: no change");
                    return Ok((false, backups));
                }
            }
            Err(e) => return Err(anyhow::Error::new(e).context("the secret was not changed")),
        }
    }
    unreachable!("the last attempt returns")
}

/// Restarts azureml-fe; a missing Deployment is a warning, a failed restart an error that says
/// the secret already changed.
async fn restart(
    kube: &Kube,
    args: &RotateArgs,
    saved: &str,
    out: &mut Printer,
) -> anyhow::Result<String> {
    let namespace = &kube.namespace;
    let dry_run = args.dry_run == DryRun::Server;
    match k8s::restart_deployment(
        kube,
        namespace,
        &args.deployment,
        jiff::Timestamp::now(),
        dry_run,
    )
    .await
    {
        Ok(_) if dry_run => Ok(format!("would restart deployment/{}", args.deployment)),
        Ok(_) => Ok("restarted".into()),
        Err(e) if e.status_code() == Some(404) => {
            out.warn(&format!(
                "no deployment `{namespace}/{}`: nothing to restart",
                args.deployment
            ));
            Ok("deployment not found".into())
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "the secret holds the new pair (backup: {saved}), but restarting azureml-fe failed: \
             run `kubectl rollout restart deployment/{} -n {namespace}`",
            args.deployment
        ))),
    }
}
