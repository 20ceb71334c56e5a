//! Waiting on one object until a condition holds: one GET, then one watch from the object's
//! resourceVersion (re-established if the server ends it), bounded by a timeout. Deletion and
//! Deployment rollouts are the two conditions the plugins wait for.

use std::time::Duration;

use futures::StreamExt;
use kube::api::{DynamicObject, Patch, PatchParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

use super::{Error, Kind, Kube, get_opt};

/// Where a wait stands after looking at the object (`None`: it does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The condition holds.
    Done,
    /// Not yet.
    Waiting,
    /// It will not hold: stop waiting, with the reason.
    Failed(String),
}

/// Waits until `progress` says done or failed, at most `timeout`; `what` completes the sentence
/// "timed out after 60s waiting for deployment `ns/x` …".
pub async fn wait_for(
    kube: &Kube,
    kind: Kind,
    namespace: &str,
    name: &str,
    timeout: Duration,
    what: &str,
    progress: impl Fn(Option<&DynamicObject>) -> Progress,
) -> Result<(), Error> {
    let target = kind.target(namespace, name);
    let watching = watch(kube, kind, namespace, name, &progress);
    let outcome = match tokio::time::timeout(timeout, watching).await {
        Ok(outcome) => outcome?,
        Err(_) => {
            return Err(Error::Timeout {
                what: format!("{target} {what}"),
                after: timeout,
            });
        }
    };
    match outcome {
        Progress::Failed(reason) => Err(Error::Failed {
            what: format!("{target} {what}"),
            reason,
        }),
        _ => Ok(()),
    }
}

async fn watch(
    kube: &Kube,
    kind: Kind,
    namespace: &str,
    name: &str,
    progress: &impl Fn(Option<&DynamicObject>) -> Progress,
) -> Result<Progress, Error> {
    let api = kind.api(kube, namespace);
    let fields = format!("metadata.name={name}");
    loop {
        let current = get_opt(kube, kind, namespace, name).await?;
        match progress(current.as_ref()) {
            Progress::Waiting => {}
            decided => return Ok(decided),
        }
        let version = current
            .and_then(|c| c.metadata.resource_version)
            .unwrap_or_default();
        // The server ends a watch after timeoutSeconds (kube caps it below 295); then we look again.
        let params = WatchParams::default().fields(&fields).timeout(290);
        let stream = api
            .watch(&params, &version)
            .await
            .map_err(|e| Error::from_kube("watch", kind.target(namespace, name), e))?;
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let seen = match &event {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => progress(Some(o)),
                Ok(WatchEvent::Deleted(_)) => progress(None),
                Ok(WatchEvent::Bookmark(_)) => Progress::Waiting,
                Ok(WatchEvent::Error(_)) | Err(_) => {
                    // A broken watch: look again after a breath, so a failing server is not hammered.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    break;
                }
            };
            if seen != Progress::Waiting {
                return Ok(seen);
            }
        }
    }
}

/// Waits until the object is gone (or replaced by a new one with another uid), at most `timeout`,
/// like `kubectl delete --wait`.
pub async fn wait_until_gone(
    kube: &Kube,
    kind: Kind,
    namespace: &str,
    name: &str,
    uid: Option<&str>,
    timeout: Duration,
) -> Result<(), Error> {
    wait_for(
        kube,
        kind,
        namespace,
        name,
        timeout,
        "to be deleted",
        |object| match object {
            None => Progress::Done,
            Some(o) if uid.is_some() && o.metadata.uid.as_deref() != uid => Progress::Done,
            Some(_) => Progress::Waiting,
        },
    )
    .await
}

/// A Deployment's rollout, judged as `kubectl rollout status` judges it.
pub fn rollout_progress(deployment: Option<&DynamicObject>) -> Progress {
    let Some(deployment) = deployment else {
        return Progress::Failed("the deployment was deleted".into());
    };
    let number = |v: Option<&Value>| v.and_then(Value::as_i64).unwrap_or(0);
    let data = &deployment.data;
    let generation = deployment.metadata.generation.unwrap_or(0);
    if number(data.pointer("/status/observedGeneration")) < generation {
        return Progress::Waiting;
    }
    let stuck = data
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded");
    if stuck {
        return Progress::Failed("its progress deadline was exceeded".into());
    }
    let desired = data
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let updated = number(data.pointer("/status/updatedReplicas"));
    let total = number(data.pointer("/status/replicas"));
    let available = number(data.pointer("/status/availableReplicas"));
    if updated < desired || total > updated || available < updated {
        Progress::Waiting
    } else {
        Progress::Done
    }
}

/// Waits until a Deployment's rollout is complete, at most `timeout`.
pub async fn wait_for_rollout(
    kube: &Kube,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<(), Error> {
    wait_for(
        kube,
        Kind::DEPLOYMENT,
        namespace,
        name,
        timeout,
        "to finish its rollout",
        rollout_progress,
    )
    .await
}

/// A time as kubectl writes it in annotations (`restartedAt`): RFC 3339 in whole seconds, UTC.
pub fn kube_time(now: jiff::Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Restarts a Deployment's pods the way `kubectl rollout restart` does: a new
/// `kubectl.kubernetes.io/restartedAt` annotation on the pod template. Returns the patched object.
pub async fn restart_deployment(
    kube: &Kube,
    namespace: &str,
    name: &str,
    now: jiff::Timestamp,
    dry_run: bool,
) -> Result<DynamicObject, Error> {
    let kind = Kind::DEPLOYMENT;
    let stamp = kube_time(now);
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}});
    tracing::debug!(namespace, name, "rollout restart");
    kind.api(kube, namespace)
        .patch(
            name,
            &PatchParams {
                dry_run,
                ..PatchParams::default()
            },
            &Patch::Strategic(patch),
        )
        .await
        .map_err(|e| Error::from_kube("restart", kind.target(namespace, name), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(generation: i64, status: Value) -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "azureml-fe", "generation": generation}, "spec": {"replicas": 3}, "status": status}))
        .unwrap()
    }

    #[test]
    fn rollout_is_judged_like_kubectl_rollout_status() {
        let done = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3});
        assert_eq!(rollout_progress(Some(&deployment(2, done))), Progress::Done);
        let unobserved = json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3});
        assert_eq!(
            rollout_progress(Some(&deployment(2, unobserved))),
            Progress::Waiting
        );
        let old_pods_left = json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3});
        assert_eq!(
            rollout_progress(Some(&deployment(2, old_pods_left))),
            Progress::Waiting
        );
        let unavailable = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2});
        assert_eq!(
            rollout_progress(Some(&deployment(2, unavailable))),
            Progress::Waiting
        );
        let stuck = json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]});
        assert!(matches!(
            rollout_progress(Some(&deployment(2, stuck))),
            Progress::Failed(_)
        ));
        assert!(matches!(rollout_progress(None), Progress::Failed(_)));
    }
}
