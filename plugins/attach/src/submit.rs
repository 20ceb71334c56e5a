//! Sending one write like `az` does: print it instead with `--dry-run`, return the operation with
//! `--no-wait`, else poll it to the end within `--timeout` (a progress line on a terminal).

use aml_core::arm::{self, ArmRequest, ArmResponse, Azure};
use aml_core::cli::{OutputFormat, Printer};
use serde::Serialize;
use serde_json::{Value, json};

use crate::body;
use crate::cli::WriteArgs;

/// How a write ended.
pub(crate) enum Sent {
    /// `--dry-run`: printed, not sent.
    DryRun,
    /// `--no-wait`: accepted (the operation to check was printed).
    Accepted,
    /// Finished: the final answer (for a PUT, the resource).
    Done(ArmResponse),
}

#[derive(Serialize)]
struct Printed<'a> {
    method: String,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Value>,
}

/// Prints a request as `--dry-run` shows it (the private key redacted): text, or JSON/YAML.
pub(crate) fn print_request(request: &ArmRequest, out: &mut Printer) -> anyhow::Result<()> {
    let shown = Printed {
        method: request.method.to_string(),
        url: &request.url,
        body: request.body.as_ref().map(body::redacted),
    };
    match out.format {
        OutputFormat::Json => out.json(&shown)?,
        OutputFormat::Yaml => out.yaml(&shown)?,
        _ => {
            let redacted = ArmRequest {
                body: shown.body.clone(),
                ..request.clone()
            };
            out.line(&redacted.describe())?;
        }
    }
    Ok(())
}

/// Sends `request` as the flags say.
pub(crate) async fn submit(
    azure: &Azure,
    request: ArmRequest,
    what: &str,
    write: &WriteArgs,
    out: &mut Printer,
) -> anyhow::Result<Sent> {
    if write.dry_run {
        out.info(&format!(
            "dry run: {what} would send this request; nothing was sent"
        ));
        print_request(&request, out)?;
        return Ok(Sent::DryRun);
    }
    let first = azure.client.send(&request).await?;
    if write.no_wait {
        let pending = arm::pending(&first);
        match &pending {
            Some(op) => {
                out.info(&format!("{what}: accepted; Azure is still working on it"));
                match out.format {
                    OutputFormat::Json => out.json(&json!({"operation": op}))?,
                    OutputFormat::Yaml => out.yaml(&json!({"operation": op}))?,
                    _ => out.line(&format!("{}: {}", op.header, op.url))?,
                }
            }
            None => out.info(&format!("{what}: done")),
        }
        return Ok(Sent::Accepted);
    }
    let mut progress = |line: &str| out.progress(line);
    let done = arm::wait(
        &azure.client,
        &request,
        first,
        what,
        write.timeout,
        &mut progress,
    )
    .await?;
    Ok(Sent::Done(done))
}
