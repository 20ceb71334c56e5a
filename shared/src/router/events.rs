//! Kubernetes Events on model Deployments, so `kubectl describe deploy` shows what the router
//! thinks of them (a bad annotation, a keys Secret it cannot use) and what the autoscaler did.
//! Posting is best effort: a failure is logged, never fatal.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Api;
use kube::api::PostParams;

/// The component Events name as their source.
pub const COMPONENT: &str = "azureml-fe";

/// The Deployment an Event is about.
#[derive(Debug, Clone)]
pub struct About {
    /// Namespace.
    pub namespace: String,
    /// Deployment name.
    pub name: String,
    /// Deployment uid, when known.
    pub uid: Option<String>,
}

/// Posts a Warning Event on a Deployment in the background.
pub fn warn(client: &kube::Client, about: About, reason: &'static str, message: String) {
    post(client, about, true, reason, message);
}

/// Posts a Normal (or, with `warning`, a Warning) Event on a Deployment in the background.
pub fn post(
    client: &kube::Client,
    about: About,
    warning: bool,
    reason: &'static str,
    message: String,
) {
    let api: Api<Event> = Api::namespaced(client.clone(), &about.namespace);
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let suffix = format!("{:x}", now.0.as_nanosecond());
    let event = Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{suffix}", about.name)),
            namespace: Some(about.namespace.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("apps/v1".into()),
            kind: Some("Deployment".into()),
            name: Some(about.name.clone()),
            namespace: Some(about.namespace.clone()),
            uid: about.uid.clone(),
            ..Default::default()
        },
        reason: Some(reason.into()),
        message: Some(message),
        type_: Some(if warning { "Warning" } else { "Normal" }.into()),
        source: Some(EventSource {
            component: Some(COMPONENT.into()),
            host: None,
        }),
        reporting_component: Some(format!("kubectl-aml.io/{COMPONENT}")),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        ..Default::default()
    };
    tokio::spawn(async move {
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(
                namespace = %about.namespace, deployment = %about.name, error = %e,
                "could not post a {reason} Event"
            );
        }
    });
}
