//! The fake ARM as any client sees it: the bearer token, the api-version and the request body are
//! checked against the official spec before anything is answered, and lists page with `nextLink`.

use aml_tests::fake_arm::{Options, SUBSCRIPTION, workspace_id};
use aml_tests::{FakeArm, TestContext};
use serde_json::{Value, json};

use crate::common::Attach;

async fn send(
    arm: &FakeArm,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    aml_core::init_crypto();
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), format!("{}{path}", arm.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn compute_path(name: &str, version: &str) -> String {
    format!(
        "{}/computes/{name}?api-version={version}",
        workspace_id("rg1", "ws1")
    )
}

#[tokio::test]
async fn the_bearer_token_is_required_and_checked() {
    let arm = FakeArm::start();
    let path = compute_path("c1", "2024-04-01");
    let (status, body) = send(&arm, "GET", &path, None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("AuthenticationFailed"))
    );
    let (status, body) = send(&arm, "GET", &path, Some("stolen"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );
    let (status, _) = send(&arm, "GET", &path, Some(arm.token()), None).await;
    assert_eq!(status, 404, "authorised; the compute does not exist");
}

#[tokio::test]
async fn requests_must_satisfy_the_spec() {
    let arm = FakeArm::start();
    let token = Some(arm.token());
    let (status, body) = send(&arm, "GET", &compute_path("c1", "2020-02-02"), token, None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "NoRegisteredProviderFound");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2024-04-01"),
        "{body}"
    );
    let bad = json!({"location": "eastus", "properties": {"computeType": "AKS", "provisioningState": "Succeeded",
        "properties": {"clusterPurpose": "Fastest", "agentCount": -1}}});
    let (status, body) = send(
        &arm,
        "PUT",
        &compute_path("c1", "2024-04-01"),
        token,
        Some(bad),
    )
    .await;
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().unwrap();
    assert_eq!(body["error"]["code"], "InvalidRequestContent");
    for expected in [
        "Compute_CreateOrUpdate",
        "provisioningState: read-only",
        "\"Fastest\" is not one of",
        "agentCount: below the minimum 0",
    ] {
        assert!(message.contains(expected), "{expected} missing: {message}");
    }
    let (status, body) = send(
        &arm,
        "DELETE",
        &compute_path("c1", "2024-04-01"),
        token,
        None,
    )
    .await;
    assert_eq!(status, 400, "underlyingResourceAction is required: {body}");
    assert!(arm.compute("c1").is_none(), "nothing stored");
    let sizes = format!(
        "/subscriptions/{SUBSCRIPTION}/providers/Microsoft.MachineLearningServices/locations/eastus/vmSizes?api-version=2024-04-01"
    );
    let (status, body) = send(&arm, "GET", &sizes, token, None).await;
    assert_eq!(status, 200);
    assert!(
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "Standard_D3_v2" && s["vCPUs"] == 4)
    );
}

#[tokio::test]
async fn lists_page_with_next_link_and_the_plugin_follows_it() {
    let ctx = TestContext::new().with_arm(FakeArm::start_with(Options {
        page_size: 1,
        ..Options::default()
    }));
    for (i, ns) in ["a", "b", "c"].iter().enumerate() {
        let name = format!("k8s-{i}");
        assert_eq!(
            ctx.run::<Attach>(&["k8s", &name, "--cluster", "aks1", "-n", ns])
                .await
                .code,
            0
        );
    }
    let out = ctx.run::<Attach>(&["list", "-o", "name"]).await;
    assert_eq!(
        out.stdout, "compute/k8s-0\ncompute/k8s-1\ncompute/k8s-2\n",
        "{out}"
    );
    let pages = ctx
        .arm()
        .journal()
        .iter()
        .filter(|r| r.path.ends_with("/computes") && r.query.contains_key("$skip"))
        .count();
    assert!(pages >= 2, "the later pages were fetched through nextLink");
}
