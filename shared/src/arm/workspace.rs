//! The Azure ML workspace a command works in (`-w`/`-g`/`--subscription` or az's defaults), and
//! its computes.

use super::{Azure, ML_API, ResourceId};
use crate::{Error, Result};
use serde_json::Value;

/// A workspace that exists.
pub struct Workspace {
    /// Its id.
    pub id: ResourceId,
    /// Its region.
    pub location: String,
}

/// GETs the workspace named by -w/-g/--subscription (or az's defaults); a clear error if absent.
pub async fn get(azure: &Azure) -> Result<Workspace> {
    let id = azure.workspace()?;
    let Some(json) = azure.client.get_opt(azure.url(&id, ML_API, &[])).await? else {
        return Err(Error::not_found(
            format!(
                "workspace `{}` not found in resource group `{}`",
                id.name(),
                id.resource_group()
            ),
            format!(
                "check -w, -g and --subscription (`az ml workspace list -g {}`)",
                id.resource_group()
            ),
        ));
    };
    Ok(Workspace {
        id,
        location: json["location"].as_str().unwrap_or("").to_string(),
    })
}

/// The error for a compute that is not there.
pub fn no_compute(ws: &Workspace, name: &str) -> Error {
    Error::not_found(
        format!("compute `{name}` not found in workspace `{}`", ws.id.name()),
        "`kubectl aml attach list` shows the workspace's computes",
    )
}

impl Workspace {
    /// Every compute of the workspace (all pages).
    pub async fn computes(&self, azure: &Azure) -> Result<Vec<Value>> {
        let url = azure
            .client
            .url(&format!("{}/computes", self.id), &[("api-version", ML_API)]);
        Ok(azure.client.list(url).await?)
    }

    /// One compute, `None` if absent.
    pub async fn compute(&self, azure: &Azure, name: &str) -> Result<Option<Value>> {
        let id = self.id.child("computes", name);
        Ok(azure.client.get_opt(azure.url(&id, ML_API, &[])).await?)
    }
}
