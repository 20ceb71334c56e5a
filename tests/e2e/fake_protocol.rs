//! The fake API server's protocol, seen through kube-rs: watch, the scale subresource, legacy
//! discovery, and the bearer-token check.

use aml_tests::FakeKube;
use aml_tests::fake_kube::Options;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;

use crate::fake::{api_error, client, cm};

#[tokio::test]
async fn watch_streams_events_from_a_resource_version() {
    let fake = FakeKube::start();
    let api: Api<ConfigMap> = Api::namespaced(client(&fake).await, "default");
    let first = api
        .create(&PostParams::default(), &cm("w", json!({})))
        .await
        .unwrap();
    let version = first.metadata.resource_version.unwrap();
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    let params = WatchParams::default().fields("metadata.name=w").timeout(2);
    let events: Vec<String> = api
        .watch(&params, &version)
        .await
        .unwrap()
        .map_ok(|e| {
            match e {
                WatchEvent::Added(_) => "ADDED",
                WatchEvent::Modified(_) => "MODIFIED",
                WatchEvent::Deleted(_) => "DELETED",
                WatchEvent::Bookmark(_) => "BOOKMARK",
                WatchEvent::Error(_) => "ERROR",
            }
            .to_string()
        })
        .take(2)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events, ["MODIFIED", "DELETED"]);

    let stale = api
        .watch(&WatchParams::default().timeout(1), "1")
        .await
        .unwrap();
    let first_event = Box::pin(stale).next().await.unwrap().unwrap();
    assert!(
        matches!(first_event, WatchEvent::Error(e) if e.code == 410),
        "a too-old resourceVersion is 410 Gone"
    );
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_replicas() {
    let fake = FakeKube::start();
    fake.seed_yaml(crate::common::DEMO);
    let api: Api<Deployment> = Api::namespaced(client(&fake).await, "default");
    let scale = api.get_scale("azureml-fe").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(3));
    api.patch_scale(
        "azureml-fe",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    let deployment = api.get("azureml-fe").await.unwrap();
    assert_eq!(deployment.spec.unwrap().replicas, Some(1));
    assert_eq!(deployment.metadata.generation, Some(2));
}

#[tokio::test]
async fn a_required_token_is_checked() {
    let fake = FakeKube::start_with(Options {
        tls: true,
        token: Some("s3cret".into()),
        ..Options::default()
    });
    let api: Api<ConfigMap> = Api::namespaced(client(&fake).await, "default");
    assert!(api.list(&ListParams::default()).await.is_ok());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kc");
    std::fs::write(
        &path,
        fake.kubeconfig(None)
            .replace("token: s3cret", "token: wrong"),
    )
    .unwrap();
    let options = aml_core::k8s::ClientOptions {
        kubeconfig: Some(path),
        ..Default::default()
    };
    let wrong: Api<ConfigMap> = Api::namespaced(
        aml_core::k8s::connect(&options).await.unwrap().client,
        "default",
    );
    let denied = api_error(wrong.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((denied.code, denied.reason.as_str()), (401, "Unauthorized"));
}

#[tokio::test]
async fn legacy_discovery_serves_kube_rs_discovery() {
    // kube-rs discovers through the legacy documents (/api, /apis, /api/v1, /apis/G/V).
    let fake = FakeKube::start();
    let discovery = kube::Discovery::new(client(&fake).await)
        .run()
        .await
        .unwrap();
    let apps = discovery.get("apps").expect("apps group");
    let (deployments, capabilities) = apps
        .recommended_resources()
        .into_iter()
        .find(|(r, _)| r.kind == "Deployment")
        .unwrap();
    assert_eq!(
        (deployments.plural.as_str(), deployments.version.as_str()),
        ("deployments", "v1")
    );
    assert!(
        capabilities
            .subresources
            .iter()
            .any(|(s, _)| s.plural == "deployments/scale" || s.plural == "scale"),
        "{:?}",
        capabilities.subresources
    );
    let core = discovery.get("").expect("core group");
    let kinds: Vec<String> = core
        .recommended_resources()
        .into_iter()
        .map(|(r, _)| r.kind)
        .collect();
    for kind in [
        "Secret",
        "ConfigMap",
        "ServiceAccount",
        "Service",
        "Namespace",
    ] {
        assert!(kinds.contains(&kind.to_string()), "{kinds:?}");
    }
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path == "/api/v1" && r.status == 200)
    );
}
