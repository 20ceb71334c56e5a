//! The end of a create or attach: send the PUT, then report the compute as Azure left it — and
//! when the PUT or its operation fails, what it left.

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
    let compute = match submit(azure, request, what, write.mode(), out).await {
        Ok(Sent::DryRun) => return Ok(()),
        Ok(Sent::Accepted(_)) => {
            out.info(&format!("follow it with `kubectl aml attach show {name}`"));
            return Ok(());
        }
        Ok(Sent::Done(response)) => response.body,
        Err(e) => return Err(what_is_left(azure, ws, name, e).await),
    };
    report(ws, name, compute, out)
}

/// Prints a compute that reached the end of its provisioning, or the error its failure is.
pub(crate) fn report(
    ws: &Workspace,
    name: &str,
    compute: Value,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let state = compute
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    if !state.eq_ignore_ascii_case("Succeeded") {
        let errors = provisioning_errors(&compute);
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
            remove_hint(name),
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

fn provisioning_errors(compute: &Value) -> Vec<String> {
    compute
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
        .collect()
}

fn remove_hint(name: &str) -> String {
    format!("detach it (`kubectl aml attach detach {name}`), fix the cause, and attach again")
}

/// `failure` of the PUT or of its operation, with what it left in the hint: no compute, or one in
/// a given state and how to go on from it. A refusal of the PUT itself (4xx) made nothing and its
/// hint says what to change; any other failure may have made the compute, so it is read back
/// (within `--timeout`).
pub(crate) async fn what_is_left(
    azure: &Azure,
    ws: &Workspace,
    name: &str,
    failure: aml_core::Error,
) -> anyhow::Error {
    let refused = match &failure {
        aml_core::Error::Arm(e) => e
            .status()
            .is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429),
        _ => false,
    };
    if refused {
        return failure.into();
    }
    let hint = match ws.compute(azure, name).await {
        Ok(None) => format!(
            "no compute `{name}` was left in workspace `{}`: fix the cause, then run the same command again",
            ws.id.name()
        ),
        Ok(Some(compute)) => {
            let state = compute
                .pointer("/properties/provisioningState")
                .and_then(Value::as_str)
                .unwrap_or("Unknown")
                .to_string();
            let next = match state.to_ascii_lowercase().as_str() {
                "failed" | "canceled" => format!(": {}", remove_hint(name)),
                "succeeded" => " (attached after all: `kubectl aml attach show` prints it)".into(),
                _ => " (the same command again waits for it and reports it)".into(),
            };
            format!(
                "compute `{name}` is left in workspace `{}` in state {state}{next}",
                ws.id.name()
            )
        }
        Err(_) => format!(
            "compute `{name}` may have been left: check with `kubectl aml attach show {name}`; the same command again finishes an attach still going"
        ),
    };
    // The failure's own hint (the operation's URL, a longer --timeout) still holds.
    let hint = match failure.hint() {
        Some(own) => format!("{hint}; {own}"),
        None => hint,
    };
    failure.hinted(hint).into()
}
