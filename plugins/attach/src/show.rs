//! `list`, `show` and `versions`: computes as NAME TYPE STATE CLUSTER PURPOSE SSL LOAD-BALANCER
//! NAMESPACE AGE (or their ARM JSON with `-o json|yaml`), and the Kubernetes versions of a region.

use aml_core::arm::{AKS_API, Azure, ML_API, ResourceId};
use aml_core::cli::{Printer, Report, Table, human_age};
use serde::Serialize;
use serde_json::Value;

use crate::workspace::{self, Workspace};

/// Computes as ARM returns them; printed as rows, or as JSON/YAML unchanged.
#[derive(Serialize)]
#[serde(transparent)]
pub(crate) struct Computes(pub Vec<Value>);

/// One compute, printed as one row or as its JSON object.
#[derive(Serialize)]
#[serde(transparent)]
pub(crate) struct OneCompute(pub Value);

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn row(c: &Value, wide: bool) -> Vec<String> {
    let p = &c["properties"];
    let inner = &p["properties"];
    let kind = text(&p["computeType"]).unwrap_or_else(|| "-".into());
    let aks = kind == "AKS";
    let cluster = text(&p["resourceId"]).map(|id| id.rsplit('/').next().unwrap_or("").to_string());
    let ssl = &inner["sslConfiguration"];
    let ssl = match text(&ssl["status"]).as_deref() {
        Some("Auto") => format!(
            "Auto ({})",
            text(&ssl["leafDomainLabel"]).unwrap_or_default()
        ),
        Some("Enabled") => format!("Enabled ({})", text(&ssl["cname"]).unwrap_or_default()),
        Some(other) => other.to_string(),
        None if aks => "Disabled".into(),
        None => "-".into(),
    };
    let age = text(&p["createdOn"])
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| human_age(jiff::Timestamp::now().as_second() - t.as_second()))
        .unwrap_or_else(|| "-".into());
    let dash = || "-".to_string();
    let mut cells = vec![
        text(&c["name"]).unwrap_or_default(),
        kind.clone(),
        text(&p["provisioningState"]).unwrap_or_else(dash),
        cluster.unwrap_or_else(dash),
        if aks {
            text(&inner["clusterPurpose"]).unwrap_or_else(|| "FastProd".into())
        } else {
            dash()
        },
        ssl,
        if aks {
            text(&inner["loadBalancerType"]).unwrap_or_else(|| "PublicIp".into())
        } else {
            dash()
        },
        if aks {
            dash()
        } else {
            text(&inner["namespace"]).unwrap_or_else(|| "default".into())
        },
        age,
    ];
    if wide {
        cells.push(
            text(&p["computeLocation"])
                .or_else(|| text(&c["location"]))
                .unwrap_or_else(dash),
        );
        cells.push(
            if p["isAttachedCompute"] == true {
                "attached"
            } else {
                "created"
            }
            .into(),
        );
        cells.push(text(&c["identity"]["type"]).unwrap_or_else(dash));
    }
    cells
}

fn table(items: &[Value], wide: bool) -> Table {
    let mut headers = vec![
        "NAME",
        "TYPE",
        "STATE",
        "CLUSTER",
        "PURPOSE",
        "SSL",
        "LOAD-BALANCER",
        "NAMESPACE",
        "AGE",
    ];
    if wide {
        headers.extend(["LOCATION", "ORIGIN", "IDENTITY"]);
    }
    let mut table = Table::new(headers);
    for c in items {
        table.row(row(c, wide));
    }
    table
}

impl Report for Computes {
    fn tables(&self, wide: bool) -> Vec<Table> {
        vec![table(&self.0, wide)]
    }

    fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|c| format!("compute/{}", c["name"].as_str().unwrap_or("")))
            .collect()
    }
}

impl Report for OneCompute {
    fn tables(&self, wide: bool) -> Vec<Table> {
        vec![table(std::slice::from_ref(&self.0), wide)]
    }

    fn names(&self) -> Vec<String> {
        vec![format!("compute/{}", self.0["name"].as_str().unwrap_or(""))]
    }
}

/// Whether a compute is one this plugin manages.
fn is_cluster_compute(c: &Value) -> bool {
    matches!(
        c.pointer("/properties/computeType").and_then(Value::as_str),
        Some("AKS" | "Kubernetes")
    )
}

/// A compute as printed: secrets ARM returned redacted unless `--show-secrets`.
fn shown(compute: Value, secrets: bool) -> Value {
    if secrets {
        compute
    } else {
        aml_core::redact::redacted(&compute)
    }
}

/// `list`.
pub(crate) async fn list(azure: &Azure, secrets: bool, out: &mut Printer) -> anyhow::Result<()> {
    let ws = workspace::get(azure).await?;
    let items: Vec<Value> = ws
        .computes(azure)
        .await?
        .into_iter()
        .filter(is_cluster_compute)
        .map(|c| shown(c, secrets))
        .collect();
    if items.is_empty() && out.tables() {
        out.info(&format!(
            "no AKS or Kubernetes computes in workspace `{}`",
            ws.id.name()
        ));
        return Ok(());
    }
    out.report(&Computes(items))?;
    Ok(())
}

/// `show NAME`.
pub(crate) async fn show(
    azure: &Azure,
    name: &str,
    secrets: bool,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let ws = workspace::get(azure).await?;
    let compute = ws
        .compute(azure, name)
        .await?
        .ok_or_else(|| workspace::no_compute(&ws, name))?;
    out.report(&OneCompute(shown(compute, secrets)))?;
    Ok(())
}

#[derive(Serialize)]
#[serde(transparent)]
struct Versions(Vec<Value>);

impl Report for Versions {
    fn tables(&self, _wide: bool) -> Vec<Table> {
        let mut table = Table::new(["VERSION", "DEFAULT", "PREVIEW", "PATCHES"]);
        for v in &self.0 {
            let mut patches: Vec<&str> = v["patchVersions"]
                .as_object()
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            patches.sort_by_key(|p| {
                p.split('.')
                    .map(|n| n.parse::<u32>().unwrap_or(0))
                    .collect::<Vec<_>>()
            });
            let yes = |b: &Value| if b == &Value::Bool(true) { "yes" } else { "" };
            table.row([
                v["version"].as_str().unwrap_or(""),
                yes(&v["isDefault"]),
                yes(&v["isPreview"]),
                &patches.join(", "),
            ]);
        }
        vec![table]
    }

    fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|v| v["version"].as_str().map(|s| format!("version/{s}")))
            .collect()
    }
}

/// `versions [--location L]`.
pub(crate) async fn versions(
    azure: &Azure,
    location: Option<&str>,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let location = match location {
        Some(l) => l.to_string(),
        None => {
            let ws: Workspace = workspace::get(azure).await.map_err(|e| {
                anyhow::Error::from(e)
                    .context("no --location given, so the workspace's region was looked up")
            })?;
            ws.location
        }
    };
    let id = format!(
        "/subscriptions/{}/providers/Microsoft.ContainerService/locations/{location}/kubernetesVersions",
        azure.subscription()?
    );
    let answer = azure
        .client
        .send(&aml_core::arm::ArmRequest::get(
            azure.client.url(&id, &[("api-version", AKS_API)]),
        ))
        .await?
        .body;
    out.report(&Versions(
        answer["values"].as_array().cloned().unwrap_or_default(),
    ))?;
    Ok(())
}

/// The id of a compute in a workspace.
pub(crate) fn compute_id(ws: &ResourceId, name: &str) -> ResourceId {
    ws.child("computes", name)
}

/// The URL of a compute.
pub(crate) fn compute_url(
    azure: &Azure,
    ws: &ResourceId,
    name: &str,
    query: &[(&str, &str)],
) -> String {
    azure.url(&compute_id(ws, name), ML_API, query)
}
