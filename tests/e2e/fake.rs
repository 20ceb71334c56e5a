//! The fake API server seen through kube-rs: the behaviours the plugins rely on, as the real
//! server shows them (Status errors, conflicts, selectors, paging, patches, deletion, watch).

use aml_tests::FakeKube;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;

pub(crate) async fn client(fake: &FakeKube) -> kube::Client {
    aml_core::init_crypto();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kc");
    fake.write_kubeconfig(&path, None).unwrap();
    let options = aml_core::k8s::ClientOptions {
        kubeconfig: Some(path),
        ..Default::default()
    };
    aml_core::k8s::connect(&options).await.unwrap().client
}

pub(crate) fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})).unwrap()
}

pub(crate) fn api_error(e: kube::Error) -> Box<kube::core::Status> {
    match e {
        kube::Error::Api(status) => status,
        other => panic!("expected a Status error, got {other:?}"),
    }
}

#[tokio::test]
async fn create_get_conflict_and_not_found_answer_like_the_api_server() {
    let fake = FakeKube::start();
    let api: Api<ConfigMap> = Api::namespaced(client(&fake).await, "default");
    let created = api
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(
        meta.uid.is_some() && meta.resource_version.is_some() && meta.creation_timestamp.is_some()
    );

    let again = api_error(
        api.create(&PostParams::default(), &cm("a", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (again.code, again.reason.as_str(), again.message.as_str()),
        (409, "AlreadyExists", "configmaps \"a\" already exists")
    );

    let mut stale = created.clone();
    api.replace("a", &PostParams::default(), &created)
        .await
        .unwrap();
    stale.data = Some([("k".to_string(), "changed".to_string())].into());
    api.replace("a", &PostParams::default(), &stale)
        .await
        .unwrap();
    stale.data = Some([("k".to_string(), "again".to_string())].into());
    let conflict = api_error(
        api.replace("a", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(conflict.message.ends_with("the object has been modified; please apply your changes to the latest version and try again"));

    let missing = api_error(api.get("nope").await.unwrap_err());
    assert_eq!(
        (
            missing.code,
            missing.reason.as_str(),
            missing.message.as_str()
        ),
        (404, "NotFound", "configmaps \"nope\" not found")
    );
    let other_ns: Api<ConfigMap> = Api::namespaced(api.clone().into_client(), "absent");
    let no_ns = api_error(
        other_ns
            .create(&PostParams::default(), &cm("a", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(no_ns.message, "namespaces \"absent\" not found");
}

#[tokio::test]
async fn lists_filter_by_label_and_field_and_page_with_continue() {
    let fake = FakeKube::start();
    let api: Api<ConfigMap> = Api::namespaced(client(&fake).await, "default");
    for (i, tier) in ["gpu", "cpu", "gpu", "gpu", "cpu"].iter().enumerate() {
        api.create(
            &PostParams::default(),
            &cm(&format!("cm{i}"), json!({"tier": tier})),
        )
        .await
        .unwrap();
    }
    let names = |list: kube::core::ObjectList<ConfigMap>| {
        list.items
            .into_iter()
            .map(|c| c.metadata.name.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("tier=gpu"))
                .await
                .unwrap()
        ),
        ["cm0", "cm2", "cm3"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("tier notin (gpu)"))
                .await
                .unwrap()
        ),
        ["cm1", "cm4"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().fields("metadata.name=cm3"))
                .await
                .unwrap()
        ),
        ["cm3"]
    );

    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.metadata.remaining_item_count, Some(3));
    let token = first.metadata.continue_.clone().unwrap();
    let second = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(names(first), ["cm0", "cm1"]);
    assert_eq!(names(second), ["cm2", "cm3"]);

    let bad = api_error(
        api.list(&ListParams::default().fields("data.k=v"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (bad.code, bad.message.as_str()),
        (400, "field label not supported: data.k")
    );
}

#[tokio::test]
async fn patches_merge_json_strategic_and_apply() {
    let fake = FakeKube::start();
    let api: Api<ConfigMap> = Api::namespaced(client(&fake).await, "default");
    api.create(&PostParams::default(), &cm("p", json!({"a": "1"})))
        .await
        .unwrap();
    let merged = api
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": null, "b": "2"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        merged.metadata.labels,
        Some([("b".to_string(), "2".to_string())].into())
    );
    let ops = json!([{"op": "replace", "path": "/data/k", "value": "w"}, {"op": "test", "path": "/data/k", "value": "w"}]);
    let request = http::Request::patch("/api/v1/namespaces/default/configmaps/p")
        .header("content-type", "application/json-patch+json")
        .body(serde_json::to_vec(&ops).unwrap())
        .unwrap();
    let patched: ConfigMap = api.clone().into_client().request(request).await.unwrap();
    assert_eq!(patched.data.unwrap()["k"], "w");
    let strategic = api
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Strategic(json!({"data": {"z": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(strategic.data.unwrap().len(), 2);

    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}, "data": {"k": "mine"}});
    let conflict = api_error(
        api.patch("p", &PatchParams::apply("tool"), &Patch::Apply(&applied))
            .await
            .unwrap_err(),
    );
    assert_eq!(conflict.code, 409);
    assert!(
        conflict.message.starts_with(
            "Apply failed with 1 conflict: conflict with \"kubectl-aml\" using v1: .data.k"
        ),
        "{}",
        conflict.message
    );
    let forced = api
        .patch(
            "p",
            &PatchParams::apply("tool").force(),
            &Patch::Apply(&applied),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["k"], "mine");
    let managers: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(managers.contains(&"tool".to_string()), "{managers:?}");
}

#[tokio::test]
async fn deletes_honour_preconditions_dry_run_and_finalizers() {
    let fake = FakeKube::start();
    let api: Api<ConfigMap> = Api::namespaced(client(&fake).await, "default");
    api.create(&PostParams::default(), &cm("d", json!({})))
        .await
        .unwrap();

    let wrong = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("other".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let conflict = api_error(api.delete("d", &wrong).await.unwrap_err());
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(
        conflict
            .message
            .contains("Precondition failed: UID in precondition: other")
    );

    api.delete(
        "d",
        &DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        api.get_opt("d").await.unwrap().is_some(),
        "dryRun=All changes nothing"
    );

    api.patch(
        "d",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/x"]}})),
    )
    .await
    .unwrap();
    let pending = api
        .delete("d", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert!(
        api.get_opt("d").await.unwrap().is_some(),
        "held by its finalizer"
    );
    api.patch(
        "d",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(
        api.get_opt("d").await.unwrap().is_none(),
        "gone once the finalizer is removed"
    );
}
