//! The end of a create or attach: send the PUT, then report the compute as Azure left it.

use aml_core::arm::{ArmRequest, Azure};
use aml_core::cli::Printer;
use serde_json::Value;

use crate::cli::WriteArgs;
use crate::show::OneCompute;
use crate::workspace::Workspace;
use aml_core::arm::{Sent, submit};

/// Sends the PUT of compute `name`; on completion checks its `provisioningState` and prints it.
pub(crate) async fn created(
    azure: &Azure,
    ws: &Workspace,
    name: &str,
    request: ArmRequest,
    what: &str,
    write: &WriteArgs,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let compute = match submit(azure, request, what, write.mode(), out).await? {
        Sent::DryRun => return Ok(()),
        Sent::Accepted(_) => {
            out.info(&format!("follow it with `kubectl aml attach show {name}`"));
            return Ok(());
        }
        Sent::Done(response) => response.body,
    };
    let state = compute
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    if !state.eq_ignore_ascii_case("Succeeded") {
        let errors: Vec<String> = compute
            .pointer("/properties/provisioningErrors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| {
                let e = &e["error"];
                format!(
                    "{}: {}",
                    e["code"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect();
        let detail = if errors.is_empty() {
            String::new()
        } else {
            format!(": {}", errors.join("; "))
        };
        return Err(aml_core::Error::failed(
            format!(
                "compute `{name}` in workspace `{}` ended {state}{detail}",
                ws.id.name()
            ),
            format!(
                "detach it (`kubectl aml attach detach {name}`), fix the cause, and attach again"
            ),
        )
        .into());
    }
    out.info(&format!(
        "compute `{name}` is ready in workspace `{}`",
        ws.id.name()
    ));
    // The answer to an attach with a custom certificate holds its private key.
    out.report(&OneCompute(aml_core::redact::redacted(&compute)))?;
    Ok(())
}
