//! `delete SERVICE [--deployment D]`: one deployment while others remain (it must take no traffic),
//! else the endpoint with everything in it; asks first unless `--yes`, and waits.

use aml_core::Context;
use aml_core::Error;
use aml_core::arm::ArmRequest;
use aml_core::cli::Printer;
use serde_json::Value;

use crate::cli::DeleteArgs;
use crate::create::send;
use crate::service::{self, Service};

/// `delete SERVICE`.
pub(crate) async fn run(ctx: &Context, args: &DeleteArgs, out: &mut Printer) -> anyhow::Result<()> {
    let (azure, svc) = Service::load(ctx, &args.service).await?;
    let one = match &args.deployment {
        Some(name) => {
            let d = svc.deployment(Some(name))?;
            (svc.deployments.len() > 1).then(|| d["name"].as_str().unwrap_or(name).to_string())
        }
        None => None,
    };
    let (tail, question, gone) = match &one {
        Some(d) => {
            let share = svc
                .traffic()
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(d))
                .and_then(|(_, v)| v.as_i64())
                .unwrap_or(0);
            if share > 0 {
                let other = svc
                    .deployments
                    .iter()
                    .filter_map(|x| x["name"].as_str())
                    .find(|n| !n.eq_ignore_ascii_case(d))
                    .unwrap_or("OTHER");
                return Err(Error::refused(
                    format!("deployment `{d}` takes {share}% of `{}` traffic", args.service),
                    format!("move it first: `kubectl aml deploy update {} --deployment {other} --traffic 100`", args.service),
                )
                .into());
            }
            (
                format!("/deployments/{d}"),
                format!("delete deployment `{d}` of service `{}`", args.service),
                format!("deployment/{d}"),
            )
        }
        None => {
            let n = svc.deployments.len();
            let list: Vec<&str> = svc
                .deployments
                .iter()
                .filter_map(|d| d["name"].as_str())
                .collect();
            let what = if n == 0 {
                String::new()
            } else {
                format!(
                    " and its {} ({})",
                    aml_core::cli::plural(n as u64, "deployment"),
                    list.join(", ")
                )
            };
            (
                String::new(),
                format!("delete service `{}`{what}", args.service),
                format!("service/{}", args.service),
            )
        }
    };
    if !args.write.dry_run && !args.yes && !out.confirm(&question)? {
        out.info("nothing deleted");
        return Ok(());
    }
    let url = service::url(azure, &svc.id, &tail);
    let what = question.replacen("delete", "deleting", 1);
    let target = match &one {
        Some(d) => svc.deployment(Some(d))?,
        None => &svc.endpoint,
    };
    let deleting = target
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("Deleting"));
    if deleting && !args.write.dry_run {
        // An earlier run's delete is still going: another DELETE would only get 409.
        out.info(&format!(
            "{gone} is already being deleted (an earlier run): waiting for it"
        ));
        let mut progress = |line: &str| out.progress(line);
        aml_core::arm::wait_gone(&azure.client, &url, &what, &mut progress).await?;
    } else {
        send(
            azure,
            ArmRequest::delete(url),
            &what,
            args.write.mode(),
            out,
        )
        .await?;
    }
    if args.write.dry_run {
        return Ok(());
    }
    // kubectl's `KIND/NAME deleted` line; in a document format, the same as a record.
    let done = serde_json::json!({ "deleted": gone });
    out.document(&done, || format!("{gone} deleted"))?;
    Ok(())
}
