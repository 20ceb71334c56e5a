//! Whether azureml-fe still owes a restart for the pair its secret holds: `rotate` stamps the
//! secret with `kubectl-aml.io/rotated-at` in the same update that replaces the pair, and a re-run
//! that finds the pair in place restarts azureml-fe when the restart never happened (interrupted,
//! a failed PATCH): no `restartedAt` since the stamp, and pods created before it.

use aml_core::k8s::{self, Kind, Kube};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DynamicObject, ListParams};

/// The annotation `rotate` writes on the secret: when the pair was replaced (`k8s::kube_time`, as
/// `restartedAt`, so the two compare).
pub(crate) const ROTATED_AT: &str = "kubectl-aml.io/rotated-at";
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

fn time(text: Option<&str>) -> Option<jiff::Timestamp> {
    text?.parse().ok()
}

/// Whether the Deployment `name` runs pods from before the secret's last rotation (and was not
/// restarted since). A secret without the stamp, or no Deployment, owes nothing.
pub(crate) async fn restart_owed(
    kube: &Kube,
    secret: &DynamicObject,
    name: &str,
) -> Result<bool, k8s::Error> {
    let annotations = secret.metadata.annotations.as_ref();
    let Some(rotated) = time(
        annotations
            .and_then(|a| a.get(ROTATED_AT))
            .map(String::as_str),
    ) else {
        return Ok(false);
    };
    let Some(deployment) = k8s::get_opt(kube, Kind::DEPLOYMENT, &kube.namespace, name).await?
    else {
        return Ok(false);
    };
    let spec = &deployment.data["spec"];
    let restarted = time(spec["template"]["metadata"]["annotations"][RESTARTED_AT].as_str());
    if restarted.is_some_and(|r| r >= rotated) {
        return Ok(false);
    }
    let Some(labels) = spec["selector"]["matchLabels"].as_object() else {
        return Ok(false);
    };
    let selector: Vec<String> = labels
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
        .collect();
    let pods = kube::Api::<Pod>::namespaced(kube.client.clone(), &kube.namespace)
        .list(&ListParams::default().labels(&selector.join(",")))
        .await
        .map_err(|e| {
            k8s::Error::from_kube("list", Kind::DEPLOYMENT.target(&kube.namespace, name), e)
        })?;
    Ok(pods.items.iter().any(|pod| {
        let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
        pod.metadata.deletion_timestamp.is_none() && created.is_some_and(|c| c < rotated)
    }))
}
