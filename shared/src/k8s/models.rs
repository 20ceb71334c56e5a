//! Model-service discovery: Deployments that Azure ML labelled `isazuremlapp=true`, in any namespace.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::{Error, Kind, Kube, MODEL_SERVICE_LABEL, Target};

/// A model service as the cluster sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelService {
    /// Namespace (Azure ML uses the workspace name).
    pub namespace: String,
    /// Deployment name (the service or endpoint name).
    pub name: String,
    /// Desired replicas (`spec.replicas`; Kubernetes defaults it to 1).
    pub replicas: i32,
    /// Ready replicas.
    pub ready_replicas: i32,
}

impl ModelService {
    /// A service is active while it is meant to run at least one replica.
    pub fn is_active(&self) -> bool {
        self.replicas > 0
    }
}

/// Lists model services in all namespaces, sorted by namespace and name; follows `continue` pages.
pub async fn list_model_services(kube: &Kube) -> Result<Vec<ModelService>, Error> {
    let api: Api<Deployment> = Api::all(kube.client.clone());
    let target = Target {
        kind: "deployment".into(),
        resource: Kind::DEPLOYMENT.resource(),
        namespace: None,
        name: None,
    };
    let mut params = ListParams::default().labels(MODEL_SERVICE_LABEL).limit(500);
    let mut services = Vec::new();
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|e| Error::from_kube("list", target.clone(), e))?;
        services.extend(page.items.into_iter().map(|d| ModelService {
            namespace: d.metadata.namespace.unwrap_or_default(),
            name: d.metadata.name.unwrap_or_default(),
            replicas: d.spec.and_then(|s| s.replicas).unwrap_or(1),
            ready_replicas: d.status.and_then(|s| s.ready_replicas).unwrap_or(0),
        }));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    services.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(services)
}
