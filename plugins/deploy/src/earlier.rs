//! A re-run of `deploy create` that finds the deployment an earlier run made (same model and
//! environment): it is finished — waited for, then given its traffic — instead of refused as taken.

use aml_core::arm::{ArmRequest, ArmResponse, Azure, wait};
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
        _ if dry_run && in_progress(&d) => Ok(None),
        _ => settle(azure, &request.url, d, what, out).await.map(Some),
    }
}

/// Whether a resource's provisioning is still going.
pub(crate) fn in_progress(resource: &Value) -> bool {
    let state = resource
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or("Succeeded");
    !["succeeded", "failed", "canceled"].contains(&state.to_ascii_lowercase().as_str())
}

/// `resource` (at `url`) once its provisioning has ended, waited for within `--timeout`.
pub(crate) async fn settle(
    azure: &Azure,
    url: &str,
    resource: Value,
    what: &str,
    out: &mut Printer,
) -> Result<Value> {
    if !in_progress(&resource) {
        return Ok(resource);
    }
    // Waiting on provisioningState is what the poller does for a PUT answered 201.
    let request = ArmRequest::put(url.to_string(), Value::Null);
    let first = ArmResponse {
        status: 201,
        headers: Default::default(),
        body: resource,
    };
    let mut progress = |line: &str| out.progress(line);
    Ok(wait(&azure.client, &request, first, what, &mut progress)
        .await?
        .body)
}
