//! A service as ARM holds it: the online endpoint, its deployments, their URLs; the registered assets
//! a deployment names; the Kubernetes compute it runs on; and the names Azure accepts.

use aml_core::arm::{ArmRequest, Azure, ML_API, ResourceId, Workspace};
use aml_core::{Context, Error, Result};
use serde_json::{Map, Value};

/// v1's `webservice_name_validation` (`^[a-z]([-a-z0-9]*[a-z0-9])?$`, 3 to 32 characters), in its
/// words; stricter than the v2 rule (no capitals), which suits names that become Kubernetes objects.
pub(crate) fn name_problem(what: &str, name: &str) -> Option<String> {
    let b = name.as_bytes();
    let ok = (3..=32).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    (!ok).then(|| {
        format!("Error, provided {what} name is invalid. It must only consist of lowercase letters, numbers, or dashes, start with a letter, end with a letter or number, and be between 3 and 32 characters long. Got `{name}`.")
    })
}

/// An online endpoint and its deployments.
pub(crate) struct Service {
    pub id: ResourceId,
    pub endpoint: Value,
    pub deployments: Vec<Value>,
}

/// The id of an endpoint.
pub(crate) fn endpoint_id(ws: &Workspace, name: &str) -> ResourceId {
    ws.id.child("onlineEndpoints", name)
}

/// The URL of an endpoint, one of its deployments, or an action under either.
pub(crate) fn url(azure: &Azure, id: &ResourceId, tail: &str) -> String {
    azure
        .client
        .url(&format!("{id}{tail}"), &[("api-version", ML_API)])
}

impl Service {
    /// GETs the endpoint and its deployments; `None` when the endpoint does not exist.
    pub(crate) async fn find(azure: &Azure, ws: &Workspace, name: &str) -> Result<Option<Self>> {
        let id = endpoint_id(ws, name);
        // Both at once: one round trip instead of two; the list is dropped when there is no endpoint.
        let (endpoint, deployments) = tokio::join!(
            azure.client.get_opt(url(azure, &id, "")),
            azure.client.list(url(azure, &id, "/deployments"))
        );
        let Some(endpoint) = endpoint? else {
            return Ok(None);
        };
        let deployments = deployments?;
        Ok(Some(Self {
            id,
            endpoint,
            deployments,
        }))
    }

    /// Like [`Service::find`], with a not-found error.
    pub(crate) async fn get(azure: &Azure, ws: &Workspace, name: &str) -> Result<Self> {
        Self::find(azure, ws, name).await?.ok_or_else(|| {
            Error::not_found(
                format!("service `{name}` not found in workspace `{}`", ws.id.name()),
                "`kubectl aml deploy list` shows the services",
            )
        })
    }

    /// The workspace from the settings, then [`Service::get`]: what every verb on one service starts with.
    pub(crate) async fn load<'c>(ctx: &'c Context, name: &str) -> Result<(&'c Azure, Self)> {
        let azure = ctx.azure().await?;
        let ws = aml_core::arm::workspace::get(azure).await?;
        Ok((azure, Self::get(azure, &ws, name).await?))
    }

    /// The endpoint's name.
    pub(crate) fn name(&self) -> &str {
        self.id.name()
    }

    /// `Key`, `AMLToken` or `AADToken`.
    pub(crate) fn auth_mode(&self) -> &str {
        self.endpoint
            .pointer("/properties/authMode")
            .and_then(Value::as_str)
            .unwrap_or("Key")
    }

    /// Traffic per deployment.
    pub(crate) fn traffic(&self) -> Map<String, Value> {
        self.endpoint
            .pointer("/properties/traffic")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// The deployment named, or the only one, or the one taking the most traffic.
    pub(crate) fn deployment(&self, name: Option<&str>) -> Result<&Value> {
        let by_name = |n: &str| {
            self.deployments.iter().find(|d| {
                d["name"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(n))
            })
        };
        let found = match name {
            Some(n) => by_name(n),
            None if self.deployments.len() == 1 => self.deployments.first(),
            None => {
                let traffic = self.traffic();
                traffic
                    .iter()
                    .max_by_key(|(_, v)| v.as_i64().unwrap_or(0))
                    .and_then(|(n, _)| by_name(n))
            }
        };
        let names: Vec<&str> = self
            .deployments
            .iter()
            .filter_map(|d| d["name"].as_str())
            .collect();
        found.ok_or_else(|| match name {
            Some(n) => Error::not_found(
                format!("service `{}` has no deployment `{n}`", self.name()),
                format!(
                    "its deployments: {}",
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ),
            ),
            None => Error::usage(
                format!("service `{}` has several deployments", self.name()),
                "name one with --deployment",
            ),
        })
    }

    /// The Kubernetes compute the endpoint runs on (its name).
    pub(crate) fn compute(&self) -> Option<&str> {
        self.endpoint
            .pointer("/properties/compute")
            .and_then(Value::as_str)
            .and_then(|id| id.rsplit('/').next())
    }
}

/// Resolves `NAME:VERSION` under the workspace (or checks an ARM id) and returns the asset's id.
pub(crate) async fn asset(
    azure: &Azure,
    ws: &Workspace,
    kind: &str,
    flag: &str,
    given: &str,
) -> Result<String> {
    // The docs (Kubernetes compute limitations): models from the model catalog or a registry are
    // not supported on Kubernetes online endpoints.
    let lower = given.to_ascii_lowercase();
    if kind == "model"
        && (lower.starts_with("azureml://registries/") || lower.contains("/registries/"))
    {
        return Err(Error::usage(
            format!(
                "{flag} `{given}` is a registry model; Kubernetes online endpoints cannot serve models from the model catalog or a registry"
            ),
            "register the model in the workspace (`az ml model create`) and give NAME:VERSION",
        ));
    }
    let id = if given.starts_with('/') {
        given
            .parse::<ResourceId>()
            .map_err(|e| {
                Error::usage(
                    format!("{flag}: {e}"),
                    format!("give an ARM id or NAME:VERSION of a registered {kind}"),
                )
            })?
            .to_string()
    } else {
        let (name, version) = given
            .split_once(':')
            .filter(|(n, v)| !n.is_empty() && !v.is_empty())
            .ok_or_else(|| {
                Error::usage(
                    format!("{flag} `{given}` is neither an ARM id nor NAME:VERSION"),
                    format!("write it like sentiment:2 (`az ml {kind} list`)"),
                )
            })?;
        let plural = if kind == "code" {
            "codes".to_string()
        } else {
            format!("{kind}s")
        };
        format!("{}/{plural}/{name}/versions/{version}", ws.id)
    };
    if azure
        .client
        .get_opt(azure.client.url(&id, &[("api-version", ML_API)]))
        .await?
        .is_none()
    {
        return Err(Error::not_found(
            format!(
                "{flag}: {kind} `{given}` is not registered in workspace `{}`",
                ws.id.name()
            ),
            format!("register it first (`az ml {kind} create`), or check the name and version"),
        ));
    }
    Ok(id)
}

/// [`asset`] for an optional flag: `None` when it was not given.
pub(crate) async fn asset_if_given(
    azure: &Azure,
    ws: &Workspace,
    kind: &str,
    flag: &str,
    given: Option<&str>,
) -> Result<Option<String>> {
    match given {
        Some(given) => asset(azure, ws, kind, flag, given).await.map(Some),
        None => Ok(None),
    }
}

/// The Kubernetes compute `name`: its JSON, or why it cannot take deployments.
pub(crate) async fn kubernetes_compute(azure: &Azure, ws: &Workspace, name: &str) -> Result<Value> {
    let compute = ws
        .compute(azure, name)
        .await?
        .ok_or_else(|| aml_core::arm::workspace::no_compute(ws, name))?;
    let kind = compute
        .pointer("/properties/computeType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind != "Kubernetes" {
        return Err(Error::usage(
            format!(
                "compute `{name}` is a `{kind}` compute; online deployments run on a Kubernetes compute"
            ),
            "attach the cluster as one: `kubectl aml attach k8s NAME --cluster CLUSTER`",
        ));
    }
    Ok(compute)
}

/// A PUT of a whole resource.
pub(crate) fn put(azure: &Azure, id: &ResourceId, tail: &str, body: Value) -> ArmRequest {
    ArmRequest::put(url(azure, id, tail), body)
}

#[cfg(test)]
mod tests {
    use super::name_problem;

    #[test]
    fn service_names_follow_the_v1_rule() {
        for good in ["abc", "my-service-2", "a--b", &"a".repeat(32)] {
            assert_eq!(name_problem("service", good), None, "{good}");
        }
        for bad in ["ab", "1abc", "abc-", "a_bc", "Abc", "a.bc", &"a".repeat(33)] {
            assert!(name_problem("service", bad).is_some(), "{bad}");
        }
    }
}
