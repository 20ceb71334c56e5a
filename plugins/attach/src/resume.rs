//! A re-run of an attach that an earlier run started: the compute of this name already points at
//! this cluster, so the command finishes that attach (waits for it, reports it) instead of refusing
//! the name as taken.

use aml_core::arm::{Azure, ResourceId, provisioning, wait_provisioned};
use aml_core::cli::Printer;
use serde_json::Value;

use crate::cli::WriteArgs;
use crate::finish;
use crate::workspace::Workspace;

/// The compute an earlier run would have left.
pub(crate) struct Earlier<'a> {
    /// `AKS` or `Kubernetes`.
    pub kind: &'a str,
    /// The cluster it points at; `None` for `create`, whose cluster Azure ML makes (and names).
    pub cluster: Option<&'a ResourceId>,
    /// For `Kubernetes`: the namespace asked for (one cluster may back several computes).
    pub namespace: Option<&'a str>,
}

impl Earlier<'_> {
    /// Whether `compute` is what an earlier run of this command made.
    fn made(&self, compute: &Value) -> bool {
        let p = &compute["properties"];
        let kind = p["computeType"].as_str() == Some(self.kind);
        let same_cluster = match self.cluster {
            Some(cluster) => p["resourceId"]
                .as_str()
                .and_then(|id| id.parse::<ResourceId>().ok())
                .is_some_and(|id| id == *cluster),
            None => p["isAttachedCompute"] == Value::Bool(false),
        };
        let same_namespace = self.namespace.is_none_or(|ns| {
            p.pointer("/properties/namespace").and_then(Value::as_str) == Some(ns)
        });
        kind && same_cluster && same_namespace
    }
}

/// Finishes the attach an earlier run started, if compute `name` is its: `Ok(true)` when this run
/// is done (reported, or waiting left to `--no-wait`), `Ok(false)` when there is none and the
/// attach goes ahead (a compute of this name that is not the earlier run's is refused by the
/// name check).
pub(crate) async fn earlier(
    azure: &Azure,
    ws: &Workspace,
    name: &str,
    computes: &[Value],
    earlier: Earlier<'_>,
    write: &WriteArgs,
    out: &mut Printer,
) -> anyhow::Result<bool> {
    let Some(compute) = computes
        .iter()
        .find(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .filter(|c| earlier.made(c))
    else {
        return Ok(false);
    };
    let state = compute
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    let url = azure.url(&ws.id.child("computes", name), aml_core::arm::ML_API, &[]);
    let in_progress = provisioning(compute);
    out.info(&format!(
        "compute `{name}` was made by an earlier run and is {state}: {}",
        if in_progress {
            "finishing it instead of sending it again"
        } else {
            "nothing to send"
        }
    ));
    if !in_progress {
        return finish::report(ws, name, compute.clone(), out).map(|()| true);
    }
    if write.dry_run {
        out.info(&format!("would wait for it (dry run): GET {url}"));
        return Ok(true);
    }
    if write.no_wait {
        out.info(&format!("follow it with `kubectl aml attach show {name}`"));
        return Ok(true);
    }
    let what = format!("attaching compute `{name}`");
    let mut progress = |line: &str| out.progress(line);
    let waited = wait_provisioned(&azure.client, &url, compute.clone(), &what, &mut progress);
    match waited.await {
        Ok(done) => finish::report(ws, name, done, out).map(|()| true),
        Err(e) => Err(finish::what_is_left(azure, ws, name, e.into()).await),
    }
}
