//! A re-run of `deploy create` that finds the deployment an earlier run made (same model and
//! environment): it is finished — waited for, then given its traffic — instead of refused as taken.

use aml_core::arm::{ArmRequest, Azure, provisioning, wait_provisioned};
use aml_core::cli::Printer;
use aml_core::{Error, Result};
use serde_json::Value;

/// Whether deployment `d` is what this create would make: the same model and environment.
pub(crate) fn made(d: &Value, model: &str, environment: &str) -> bool {
    let p = &d["properties"];
    let same = |field: &str, want: &str| {
        p[field]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case(want))
    };
    same("model", model) && same("environmentId", environment)
}

/// Finishes deployment `d` an earlier run made, in place of sending `request` again: its final
/// state (`None` on a dry run).
pub(crate) async fn finish(
    azure: &Azure,
    request: ArmRequest,
    d: Value,
    what: &str,
    dry_run: bool,
    out: &mut Printer,
) -> Result<Option<Value>> {
    let shown = d
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or("Succeeded")
        .to_string();
    let state = shown.to_ascii_lowercase();
    let name = d["name"].as_str().unwrap_or_default().to_string();
    out.info(&format!(
        "deployment `{name}` was made by an earlier run (same model and environment) and is {shown}: not sending it again"
    ));
    match state.as_str() {
        "failed" | "canceled" => Err(Error::refused(
            format!("deployment `{name}` is left {state} by an earlier run"),
            "delete it (`kubectl aml deploy delete SERVICE --deployment NAME --yes`, or the whole service), then create it again",
        )),
        _ if dry_run && provisioning(&d) => Ok(None),
        _ => settle(azure, &request.url, d, what, out).await.map(Some),
    }
}

/// `resource` (at `url`) once its provisioning has ended, with a progress line on a terminal.
pub(crate) async fn settle(
    azure: &Azure,
    url: &str,
    resource: Value,
    what: &str,
    out: &mut Printer,
) -> Result<Value> {
    let mut progress = |line: &str| out.progress(line);
    Ok(wait_provisioned(&azure.client, url, resource, what, &mut progress).await?)
}
