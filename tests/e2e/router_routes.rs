//! The router's routes and its own answers, with the real curl as the client: v1 services and v2
//! endpoints, query strings, the model's own answers passed through, request ids, headers the
//! model must and must not see.

use crate::router_env::*;

#[test]
fn v1_score_and_swagger_reach_the_model_with_their_query_strings() {
    let ctx = cluster();
    let _replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = start(&ctx, &[]);
    let url = score_url(&router, "sentiment");

    let posted = score(&format!("{url}?verbose=true"), &[]);
    assert_eq!(posted.status, 200, "{posted:?}");
    let body = posted.json();
    assert_eq!(body["replica"], "sentiment-0");
    assert_eq!(body["path"], "/score");
    assert_eq!(body["query"], "verbose=true");
    assert_eq!(body["bytes"], 18);

    let auth = format!("Authorization: Bearer {PRIMARY}");
    let got = curl(&["-H", &auth, &url]);
    assert_eq!(
        (got.status, got.json()["path"].as_str()),
        (200, Some("/score"))
    );
    let swagger = curl(&[
        "-H",
        &auth,
        &format!(
            "http://{}/api/v1/service/sentiment/swagger.json?version=3",
            router.http
        ),
    ]);
    assert_eq!(swagger.status, 200, "{swagger:?}");
    assert_eq!(swagger.json()["query"], "version=3");
}

#[test]
fn v2_endpoints_route_by_header_or_weight_and_say_when_nothing_can_take_traffic() {
    let ctx = cluster();
    let _blue = v2_deployment(&ctx, "ep1", "blue", 1, &[("kubectl-aml.io/traffic", "100")]);
    let _green = v2_deployment(&ctx, "ep1", "green", 1, &[("kubectl-aml.io/traffic", "0")]);
    let _off = v2_deployment(&ctx, "ep2", "only", 1, &[("kubectl-aml.io/traffic", "0")]);
    let router = start(&ctx, &[]);
    let ep = |name: &str| format!("http://{}/api/v1/endpoint/{name}/score", router.http);

    assert_eq!(score(&ep("ep1"), &[]).json()["replica"], "ep1-blue-0");
    let green = score(&ep("ep1"), &["-H", "azureml-model-deployment: green"]);
    assert_eq!(
        green.json()["replica"],
        "ep1-green-0",
        "the header overrides a 0 weight"
    );

    let missing = score(&ep("ep1"), &["-H", "azureml-model-deployment: red"]);
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (404, "Endpoint ep1 has no deployment red\n")
    );
    let none = score(&ep("ep2"), &[]);
    assert_eq!(none.status, 404);
    assert!(
        none.body
            .starts_with("No route found or no valid deployments to route to for endpoint ep2"),
        "{}",
        none.body
    );
    assert_eq!(
        score(&ep("ep2"), &["-H", "azureml-model-deployment: only"]).status,
        200
    );
    let swagger = curl(&[
        "-H",
        &format!("Authorization: Bearer {PRIMARY}"),
        &format!("http://{}/api/v1/endpoint/ep1/swagger.json", router.http),
    ]);
    assert_eq!(swagger.json()["replica"], "ep1-blue-0");
}

#[test]
fn unknown_names_paths_and_methods_get_one_line_answers_that_name_them() {
    let ctx = cluster();
    let _replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = start(&ctx, &[]);
    let base = format!("http://{}", router.http);

    let unknown = score(&score_url(&router, "nope"), &[]);
    assert_eq!(
        (unknown.status, unknown.body.as_str()),
        (404, "Service nope not found\n")
    );
    assert_eq!(
        unknown.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let endpoint = score(&format!("{base}/api/v1/endpoint/nope/score"), &[]);
    assert_eq!(
        (endpoint.status, endpoint.body.as_str()),
        (404, "Endpoint nope not found\n")
    );
    let path = curl(&[&format!("{base}/api/v1/service/sentiment/predict")]);
    assert_eq!(
        (path.status, path.body.as_str()),
        (404, "No route for /api/v1/service/sentiment/predict\n")
    );
    let delete = curl(&["-X", "DELETE", &score_url(&router, "sentiment")]);
    assert_eq!(delete.status, 405);
    assert_eq!(delete.header("allow"), Some("GET, POST"));
    for answer in [&unknown, &endpoint, &path, &delete] {
        assert!(
            answer
                .header("x-ms-request-id")
                .is_some_and(|id| id.len() == 36),
            "{answer:?}"
        );
    }
}

#[test]
fn the_models_own_answers_pass_through_unchanged() {
    let ctx = cluster();
    let _replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = start(&ctx, &[]);
    for status in ["400", "415", "500", "503"] {
        let answer = score(
            &score_url(&router, "sentiment"),
            &["-H", &format!("x-test-status: {status}")],
        );
        assert_eq!(answer.status.to_string(), status);
        assert_eq!(
            answer.json()["replica"],
            "sentiment-0",
            "the model's body, not the router's"
        );
    }
}

#[test]
fn request_ids_are_forwarded_or_made_and_echoed_and_long_ones_refused() {
    let ctx = cluster();
    let replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = start(&ctx, &[]);
    let url = score_url(&router, "sentiment");

    let given = score(
        &url,
        &[
            "-H",
            "x-request-id: my-id-1",
            "-H",
            "x-ms-client-request-id: client-7",
        ],
    );
    assert_eq!(given.json()["requestId"], "my-id-1");
    assert_eq!(given.header("x-request-id"), Some("my-id-1"));
    assert_eq!(given.header("x-ms-request-id"), Some("my-id-1"));
    assert_eq!(given.header("x-ms-client-request-id"), Some("client-7"));

    let made = score(&url, &[]);
    let id = made.json()["requestId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(made.header("x-ms-request-id"), Some(id.as_str()));

    let long = format!("x-request-id: {}", "a".repeat(101));
    let refused = score(&url, &["-H", &long]);
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (431, "x-request-id is longer than 100 characters\n")
    );
    let requests_before = replicas[0].requests();
    let long_client = format!("x-ms-client-request-id: {}", "c".repeat(101));
    assert_eq!(score(&url, &["-H", &long_client]).status, 431);
    assert_eq!(
        replicas[0].requests(),
        requests_before,
        "refused before the model"
    );
}

#[test]
fn models_never_see_keys_and_learn_who_called() {
    let ctx = cluster();
    let replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = start(&ctx, &[]);
    let answer = score(
        &score_url(&router, "sentiment"),
        &["-H", "Connection: keep-alive, x-hop", "-H", "x-hop: 1"],
    );
    assert_eq!(answer.status, 200);
    let headers = replicas[0].seen().last_headers.lock().unwrap().clone();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("authorization"), None, "the key stays in the router");
    assert_eq!(get("x-hop"), None, "hop-by-hop headers stay in the router");
    assert_eq!(get("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(get("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(get("content-type").as_deref(), Some("application/json"));
}
