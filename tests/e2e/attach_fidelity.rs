//! Our attach and detach requests, field by field, against what the real SDKs sent for the same
//! operation (captures in `tests/fixtures/captures`, copied from the team's reference folder).
//!
//! Deliberate differences (each one checked to still exist, so this list cannot rot):
//! - every request: `api-version` is 2024-04-01 (the stable spec we hold byte-exact); the v1 SDK
//!   sends 2020-02-02 and the v2 SDK 2023-08-01-preview.
//! - AKS attach: `loadBalancerSubnet: null` is left out (the spec marks it nullable and optional;
//!   absent means the default), and `clusterPurpose` is always sent (FastProd when not asked, the
//!   service's own default, made visible in the request and in `--dry-run`).
//! - v1 Kubernetes attach: the v1 SDK's `description: ""` and its undocumented top-level
//!   `namespace`, `identityType` and `identityIds` are not sent (not in the spec; the namespace
//!   travels in `properties.namespace`, the identity in `identity`); `computeLocation` is sent as
//!   the v2 SDK does.
//! - compared without regard to case, as ARM compares them: resource ids (the v1 SDK writes
//!   `resourcegroups`), the identity type (the v2 SDK sends `Systemassigned`; we send the spec's
//!   `SystemAssigned`) and `underlyingResourceAction` (the v1 SDK sends `detach`).

use std::collections::BTreeMap;

use aml_tests::TestContext;
use aml_tests::fake_arm::{Recorded, cluster_id};
use serde_json::Value;

use crate::attach::ctx;
use crate::common::Attach;

/// Paths whose string values compare case-insensitively.
const CASELESS: &[&str] = &[
    "body.properties.resourceId",
    "body.identity.type",
    "query.underlyingResourceAction",
];

fn capture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/captures")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("capture")).expect("JSON")
}

/// The capture's requests with this method.
fn sent(name: &str, method: &str) -> Vec<Value> {
    capture(name)["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == method)
        .cloned()
        .collect()
}

fn flatten(value: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match value.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &path, out);
            }
        }
        _ => {
            out.insert(prefix.to_string(), value.clone());
        }
    }
}

/// The fields where ours and theirs differ: `(path, ours, theirs)`, absent as `None`.
fn differences(ours: &Value, theirs: &Value) -> Vec<(String, Option<Value>, Option<Value>)> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten(ours, "", &mut a);
    flatten(theirs, "", &mut b);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| {
            let same = match (a.get(*k), b.get(*k)) {
                (Some(Value::String(x)), Some(Value::String(y)))
                    if CASELESS.contains(&k.as_str()) =>
                {
                    x.eq_ignore_ascii_case(y)
                }
                (x, y) => x == y,
            };
            !same
        })
        .map(|k| (k.clone(), a.get(k).cloned(), b.get(k).cloned()))
        .collect()
}

/// A request as compared: path, query (without api-version) and body.
fn comparable(method: &str, path: &str, query: BTreeMap<String, String>, body: &Value) -> Value {
    let mut query = query;
    query.remove("api-version");
    serde_json::json!({"method": method, "path": path, "query": query, "body": body})
}

fn ours(r: &Recorded) -> Value {
    comparable(&r.method, &r.path, r.query.clone(), &r.body)
}

fn theirs(r: &Value) -> Value {
    let query: BTreeMap<String, String> = serde_json::from_value(r["query"].clone()).unwrap();
    comparable(
        r["method"].as_str().unwrap(),
        r["path"].as_str().unwrap(),
        query,
        &r["body"],
    )
}

/// Asserts the only differences are `allowed` (and that each allowed one is there).
fn assert_faithful(scenario: &str, ours: &Value, theirs: &Value, allowed: &[&str]) {
    let found = differences(ours, theirs);
    let unexpected: Vec<_> = found
        .iter()
        .filter(|(p, ..)| !allowed.contains(&p.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{scenario}: undocumented differences (path, ours, SDK's): {unexpected:#?}"
    );
    for path in allowed {
        assert!(
            found.iter().any(|(p, ..)| p == path),
            "{scenario}: `{path}` no longer differs; update the list"
        );
    }
}

async fn put_of(ctx: &TestContext, args: &[&str]) -> Recorded {
    let out = ctx.run::<Attach>(args).await;
    assert_eq!(out.code, 0, "{out}");
    ctx.arm()
        .journal()
        .into_iter()
        .rfind(|r| r.method == "PUT")
        .expect("a PUT")
}

#[tokio::test]
async fn v1_aks_attach_without_tls_matches_the_v1_sdk() {
    let ctx = ctx();
    let put = put_of(
        &ctx,
        &[
            "aks",
            "v1aks",
            "--cluster",
            "aks1",
            "--cluster-purpose",
            "DevTest",
        ],
    )
    .await;
    let sdk = &sent("v1-aks-attach", "PUT")[0];
    assert_faithful(
        "v1 AKS attach",
        &ours(&put),
        &theirs(sdk),
        &["body.properties.properties.loadBalancerSubnet"],
    );
}

#[tokio::test]
async fn v1_aks_attach_with_a_leaf_domain_label_matches_the_v1_sdk() {
    let ctx = ctx();
    let id = cluster_id("rg1", "aks1");
    let put = put_of(
        &ctx,
        &[
            "aks",
            "v1aks2",
            "--resource-id",
            &id,
            "--ssl-leaf-domain-label",
            "contoso",
        ],
    )
    .await;
    let sdk = &sent("v1-aks-attach", "PUT")[1];
    assert_faithful(
        "v1 AKS attach with TLS",
        &ours(&put),
        &theirs(sdk),
        &[
            "body.properties.properties.loadBalancerSubnet",
            "body.properties.properties.clusterPurpose",
        ],
    );
}

#[tokio::test]
async fn v2_kubernetes_attach_matches_the_v2_sdk_and_the_v1_sdk_where_the_spec_agrees() {
    let ctx = ctx();
    let id = cluster_id("rg1", "aks1");
    let put = put_of(
        &ctx,
        &[
            "k8s",
            "k8s-compute",
            "--resource-id",
            &id,
            "-n",
            "azureml",
            "--identity-type",
            "SystemAssigned",
        ],
    )
    .await;
    let sdk = &sent("mlv2-compute-attach-systemassigned", "PUT")[0];
    assert_faithful("v2 Kubernetes attach", &ours(&put), &theirs(sdk), &[]);
    let put = put_of(
        &ctx,
        &[
            "k8s",
            "v1k8s",
            "--resource-id",
            &id,
            "-n",
            "azureml2",
            "--identity-type",
            "SystemAssigned",
        ],
    )
    .await;
    let mut v1 = theirs(&sent("v1-k8s-attach", "PUT")[0]);
    v1["body"]["properties"]["properties"]["namespace"] = "azureml2".into();
    assert_faithful(
        "v1 Kubernetes attach",
        &ours(&put),
        &v1,
        &[
            "body.properties.computeLocation",
            "body.properties.description",
            "body.properties.namespace",
            "body.properties.identityType",
            "body.properties.identityIds",
        ],
    );
}

#[tokio::test]
async fn detach_matches_both_sdks() {
    let ctx = ctx();
    for (name, capture) in [
        ("v1aks", "v1-aks-detach"),
        ("k8s-compute", "mlv2-compute-detach"),
    ] {
        ctx.arm().put_compute(
            "rg1",
            "ws1",
            name,
            serde_json::json!({"computeType": "AKS", "isAttachedCompute": true,
            "provisioningState": "Succeeded", "resourceId": cluster_id("rg1", "aks1")}),
        );
        let out = ctx.run::<Attach>(&["detach", name, "--yes"]).await;
        assert_eq!(out.code, 0, "{out}");
        let delete = ctx
            .arm()
            .journal()
            .into_iter()
            .rfind(|r| r.method == "DELETE")
            .unwrap();
        assert_faithful(
            capture,
            &ours(&delete),
            &theirs(&sent(capture, "DELETE")[0]),
            &[],
        );
    }
}
