//! Sending one write like `az` does: print it instead with `--dry-run` (secrets redacted), return
//! the operation with `--no-wait`, else poll it to the end within `--timeout` (a progress line on a
//! terminal).

use serde::Serialize;
use serde_json::{Value, json};

use super::{ArmRequest, ArmResponse, Azure, Pending, pending, wait};
use crate::Result;
use crate::cli::Printer;
use crate::redact::redacted;

/// How to send a write.
#[derive(Debug, Clone, Copy)]
pub struct WriteMode {
    /// Print, do not send.
    pub dry_run: bool,
    /// Return once accepted.
    pub no_wait: bool,
}

/// How a write ended.
#[derive(Debug)]
pub enum Sent {
    /// `--dry-run`: printed, not sent.
    DryRun,
    /// `--no-wait`: accepted; the operation, if Azure gave one, was printed.
    Accepted(Option<Pending>),
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

/// Prints a request as `--dry-run` shows it (secrets redacted): text, or JSON/YAML.
pub fn print_request(request: &ArmRequest, out: &mut Printer) -> Result<()> {
    let shown = Printed {
        method: request.method.to_string(),
        url: &request.url,
        body: request.body.as_ref().map(redacted),
    };
    let text = || {
        ArmRequest {
            body: shown.body.clone(),
            ..request.clone()
        }
        .describe()
    };
    out.document(&shown, text)
}

/// Sends `request` as `mode` says; `what` names it in messages ("attaching cluster `aks1` …").
pub async fn submit(
    azure: &Azure,
    request: ArmRequest,
    what: &str,
    mode: WriteMode,
    out: &mut Printer,
) -> Result<Sent> {
    if mode.dry_run {
        out.info(&format!(
            "dry run: {what} would send this request; nothing was sent"
        ));
        print_request(&request, out)?;
        return Ok(Sent::DryRun);
    }
    let first = azure.client.send(&request).await?;
    if mode.no_wait {
        let operation = pending(&first);
        match &operation {
            Some(op) => {
                out.info(&format!("{what}: accepted; Azure is still working on it"));
                out.document(&json!({ "operation": op }), || {
                    format!("{}: {}", op.header, op.url)
                })?;
            }
            None => out.info(&format!("{what}: done")),
        }
        return Ok(Sent::Accepted(operation));
    }
    let mut progress = |line: &str| out.progress(line);
    let done = wait(&azure.client, &request, first, what, &mut progress).await?;
    Ok(Sent::Done(done))
}
