//! `show` and `list`: one row per deployment — NAME DEPLOYMENT COMPUTE STATE REPLICAS AUTOSCALE
//! AUTH TRAFFIC SCORING-URI AGE (`-o wide`: MODEL INSTANCE-TYPE) — or the endpoints and
//! deployments as ARM returns them.

use aml_core::arm::{Azure, ML_API};
use aml_core::cli::{Printer, Report, Table, human_age};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{Value, json};

use crate::service::Service;

/// Services as printed.
#[derive(Serialize)]
#[serde(transparent)]
pub(crate) struct Services(pub Vec<Value>);

/// A service as `{endpoint, deployments}`.
pub(crate) fn view(service: &Service) -> Value {
    // Endpoint keys live behind `deploy keys --show-secrets`; one ARM returned inline is not shown.
    aml_core::redact::redacted(
        &json!({"endpoint": service.endpoint, "deployments": service.deployments}),
    )
}

fn text(v: &Value) -> String {
    v.as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("-")
        .to_string()
}

fn auth(mode: &str) -> &'static str {
    match mode {
        "AMLToken" => "token",
        "AADToken" => "aad-token",
        _ => "key",
    }
}

fn age(resource: &Value) -> String {
    resource
        .pointer("/systemData/createdAt")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| human_age(jiff::Timestamp::now().as_second() - t.as_second()))
        .unwrap_or_else(|| "-".into())
}

/// `-o wide`'s extra cells: the model (`NAME:VERSION` from its asset id) and the instance type.
fn wide_cells(deployment: &Value) -> [String; 2] {
    let p = &deployment["properties"];
    let model = p["model"].as_str().map_or_else(
        || "-".to_string(),
        |id| match id.split('/').collect::<Vec<_>>().as_slice() {
            [.., "models", name, "versions", version] => format!("{name}:{version}"),
            _ => id.to_string(),
        },
    );
    [model, text(&p["instanceType"])]
}

fn rows(service: &Value, wide: bool) -> Vec<Vec<String>> {
    let endpoint = &service["endpoint"];
    let p = &endpoint["properties"];
    let name = text(&endpoint["name"]);
    let compute = p["compute"]
        .as_str()
        .and_then(|c| c.rsplit('/').next())
        .unwrap_or("-")
        .to_string();
    let mode = auth(p["authMode"].as_str().unwrap_or("Key")).to_string();
    let uri = text(&p["scoringUri"]);
    let deployments = service["deployments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if deployments.is_empty() {
        let mut row = vec![
            name,
            "-".into(),
            compute,
            text(&p["provisioningState"]),
            "-".into(),
            "-".into(),
            mode,
            "-".into(),
            uri,
            age(endpoint),
        ];
        if wide {
            row.extend(["-".to_string(), "-".to_string()]);
        }
        return vec![row];
    }
    deployments
        .iter()
        .map(|d| {
            let dp = &d["properties"];
            let scale = &dp["scaleSettings"];
            let autoscale = if scale["scaleType"]
                .as_str()
                .is_none_or(|t| t.eq_ignore_ascii_case("TargetUtilization"))
            {
                format!(
                    "{}% of {}-{}",
                    scale["targetUtilizationPercentage"].as_i64().unwrap_or(70),
                    scale["minInstances"].as_i64().unwrap_or(1),
                    scale["maxInstances"].as_i64().unwrap_or(1)
                )
            } else {
                "off".into()
            };
            let dname = text(&d["name"]);
            let traffic = p["traffic"]
                .as_object()
                .and_then(|t| t.iter().find(|(k, _)| k.eq_ignore_ascii_case(&dname)))
                .and_then(|(_, v)| v.as_i64())
                .unwrap_or(0);
            let mut row = vec![
                name.clone(),
                dname,
                compute.clone(),
                text(&dp["provisioningState"]),
                d.pointer("/sku/capacity")
                    .and_then(Value::as_i64)
                    .map(|c| c.to_string())
                    .unwrap_or("-".into()),
                autoscale,
                mode.clone(),
                format!("{traffic}%"),
                uri.clone(),
                age(d),
            ];
            if wide {
                row.extend(wide_cells(d));
            }
            row
        })
        .collect()
}

impl Report for Services {
    fn tables(&self, wide: bool) -> Vec<Table> {
        let mut headers = vec![
            "NAME",
            "DEPLOYMENT",
            "COMPUTE",
            "STATE",
            "REPLICAS",
            "AUTOSCALE",
            "AUTH",
            "TRAFFIC",
            "SCORING-URI",
            "AGE",
        ];
        if wide {
            headers.extend(["MODEL", "INSTANCE-TYPE"]);
        }
        let mut table = Table::new(headers);
        for service in &self.0 {
            for row in rows(service, wide) {
                table.row(row);
            }
        }
        vec![table]
    }

    fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|s| format!("service/{}", s["endpoint"]["name"].as_str().unwrap_or("")))
            .collect()
    }
}

/// Prints one service: a JSON/YAML object, or its rows.
pub(crate) fn print_one(service: &Service, out: &mut Printer) -> anyhow::Result<()> {
    if out.documents() {
        out.document(&view(service), String::new)?;
    } else {
        out.report(&Services(vec![view(service)]))?;
    }
    Ok(())
}

/// `list`: the services on Kubernetes computes.
pub(crate) async fn list(azure: &Azure, out: &mut Printer) -> anyhow::Result<()> {
    let ws = aml_core::arm::workspace::get(azure).await?;
    let url = azure.client.url(
        &format!("{}/onlineEndpoints", ws.id),
        &[("api-version", ML_API)],
    );
    // The list already holds each endpoint; only their deployments are read, a few at a time.
    let on_clusters = azure.client.list(url).await?.into_iter().filter(|e| {
        e.pointer("/properties/compute")
            .and_then(Value::as_str)
            .is_some() // the others are managed endpoints, not on a cluster
    });
    let reads = on_clusters.map(|endpoint| {
        let id = crate::service::endpoint_id(&ws, endpoint["name"].as_str().unwrap_or(""));
        async move {
            let tail = crate::service::url(azure, &id, "/deployments");
            let deployments = match azure.client.list(tail).await {
                Err(e) if e.status() == Some(404) => return Ok(None), // deleted meanwhile
                listed => listed?,
            };
            Ok::<_, aml_core::Error>(Some(view(&Service {
                id,
                endpoint,
                deployments,
            })))
        }
    });
    let services: Vec<Value> = futures::stream::iter(reads)
        .buffered(8)
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .flatten()
        .collect();
    if services.is_empty() && out.tables() {
        out.info(&format!(
            "no services on Kubernetes computes in workspace `{}`",
            ws.id.name()
        ));
        return Ok(());
    }
    out.report(&Services(services))?;
    Ok(())
}
