//! The router's authentication, end to end: both keys, a key change without a restart, broken
//! keys Secrets (401, a log line and a Warning Event that say why), tokens signed by openssl
//! (RS256 from a PEM certificate, ES256 from a JWKS), auth off, and annotations changed or
//! malformed while serving.

use std::time::Duration;

use base64::Engine;
use serde_json::json;

use crate::router_env::*;
use crate::router_tokens::{self, claims, sign};

fn with_key(url: &str, key: &str) -> Curled {
    let auth = format!("Authorization: Bearer {key}");
    curl(&["-X", "POST", "-H", &auth, "-d", "{}", url])
}

#[test]
fn both_keys_open_the_service_and_anything_else_gets_401_with_a_challenge() {
    let ctx = cluster();
    let replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = start(&ctx, &[]);
    let url = score_url(&router, "sentiment");
    assert_eq!(with_key(&url, PRIMARY).status, 200);
    assert_eq!(with_key(&url, SECONDARY).status, 200);
    for answer in [
        with_key(&url, "guess"),
        curl(&["-X", "POST", "-d", "{}", &url]),
        curl(&["-H", "Authorization: Basic cGs=", &url]),
    ] {
        assert_eq!(answer.status, 401, "{answer:?}");
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
        assert_eq!(
            answer.body,
            "Unauthorized for service sentiment: a valid key or token is required\n"
        );
    }
    assert_eq!(
        replicas[0].requests(),
        2,
        "refused requests never reach the model"
    );
    let log = router.wait_log(&["401: the key is not the primary or secondary key"]);
    assert!(
        !log.contains(PRIMARY) && !log.contains("guess"),
        "no key in the log:\n{log}"
    );
}

#[test]
fn a_regenerated_key_works_at_once_and_the_old_one_stops() {
    let ctx = cluster();
    let _replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = start(&ctx, &[]);
    let url = score_url(&router, "sentiment");
    assert_eq!(with_key(&url, PRIMARY).status, 200);
    let new = base64::engine::general_purpose::STANDARD.encode("regenerated-primary");
    ctx.kube
        .update("v1", "Secret", "ws1", "sentiment-keys", |s| {
            s["data"]["primaryKey"] = json!(new)
        });
    eventually(Duration::from_secs(5), "the new key accepted", || {
        with_key(&url, "regenerated-primary").status == 200
    });
    assert_eq!(with_key(&url, PRIMARY).status, 401);
    assert_eq!(with_key(&url, SECONDARY).status, 200);
}

#[test]
fn a_broken_or_missing_keys_secret_means_401_and_says_why() {
    let ctx = cluster();
    let _broken = v1_service(&ctx, "broken", 1, &[]);
    ctx.kube.update("v1", "Secret", "ws1", "broken-keys", |s| {
        s["data"].as_object_mut().unwrap().remove("secondaryKey");
    });
    let _orphan = v1_service(
        &ctx,
        "orphan",
        1,
        &[("kubectl-aml.io/keys-secret", "nowhere")],
    );
    let router = start(&ctx, &[]);
    eventually(Duration::from_secs(5), "both problems logged", || {
        let log = router.log();
        log.contains("Secret `ws1/broken-keys` has no `secondaryKey`")
            && log.contains("Secret `ws1/nowhere` does not exist")
    });
    assert_eq!(with_key(&score_url(&router, "broken"), PRIMARY).status, 401);
    assert_eq!(with_key(&score_url(&router, "orphan"), PRIMARY).status, 401);
    let events = kubectl_events(&ctx);
    let reasons: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["involvedObject"]["name"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(reasons.contains(&("broken", "KeysUnusable")), "{reasons:?}");
    assert!(reasons.contains(&("orphan", "KeysUnusable")), "{reasons:?}");

    // Fixing the Secret fixes the service, without a restart.
    let fixed = base64::engine::general_purpose::STANDARD.encode(SECONDARY);
    ctx.kube.update("v1", "Secret", "ws1", "broken-keys", |s| {
        s["data"]["secondaryKey"] = json!(fixed)
    });
    eventually(Duration::from_secs(5), "the fixed Secret used", || {
        with_key(&score_url(&router, "broken"), PRIMARY).status == 200
    });
}

/// `kubectl get events -n ws1 -o json` with the machine's kubectl.
fn kubectl_events(ctx: &aml_tests::TestContext) -> Vec<serde_json::Value> {
    let mut events = Vec::new();
    eventually(Duration::from_secs(5), "events posted", || {
        let out = std::process::Command::new("kubectl")
            .args(["get", "events", "-n", "ws1", "-o", "json"])
            .env("KUBECONFIG", &ctx.kubeconfig)
            .output()
            .expect("kubectl");
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        events = list["items"].as_array().cloned().unwrap_or_default();
        !events.is_empty()
    });
    events
}

#[test]
fn tokens_signed_with_the_token_keys_are_accepted_for_their_audience_only() {
    let ctx = cluster();
    let _svc = v1_service(&ctx, "sentiment", 1, &[("kubectl-aml.io/auth", "token")]);
    let _ep = v2_deployment(&ctx, "ep1", "blue", 1, &[("kubectl-aml.io/auth", "token")]);
    let pem = std::fs::read_to_string(router_tokens::fixture("rsa.crt")).unwrap();
    let jwks = router_tokens::ec_jwks("ec.key", "ec-1");
    ctx.kube.seed([router_tokens::secret(
        "default",
        "token-keys",
        &[("rsa.crt", &pem), ("jwks.json", &jwks)],
    )]);
    let router = start(&ctx, &["--token-keys-secret", "token-keys"]);
    let svc = score_url(&router, "sentiment");
    let ep = format!("http://{}/api/v1/endpoint/ep1/score", router.http);

    let rs = sign("RS256", "rsa.key", None, claims("sentiment", 600));
    assert_eq!(with_key(&svc, &rs).status, 200);
    let es = sign("ES256", "ec.key", Some("ec-1"), claims("ep1", 600));
    assert_eq!(with_key(&ep, &es).status, 200);
    assert_eq!(
        with_key(&ep, &rs).status,
        401,
        "audience sentiment, not ep1"
    );
    assert_eq!(
        with_key(
            &svc,
            &sign("RS256", "rsa.key", None, claims("sentiment", -120))
        )
        .status,
        401,
        "expired"
    );
    assert_eq!(
        with_key(
            &svc,
            &sign("RS256", "other.key", None, claims("sentiment", 600))
        )
        .status,
        401,
        "unknown signer"
    );
    assert_eq!(with_key(&svc, PRIMARY).status, 401, "a key is not a token");
    router.wait_log(&["the token has expired", "no token key verifies"]);

    // Keys removed from the Secret stop working without a restart.
    ctx.kube
        .update("v1", "Secret", "default", "token-keys", |s| {
            s["data"].as_object_mut().unwrap().remove("rsa.crt");
        });
    eventually(Duration::from_secs(5), "the RSA key dropped", || {
        with_key(&svc, &rs).status == 401
    });
    assert_eq!(with_key(&ep, &es).status, 200);
}

#[test]
fn without_token_keys_token_services_refuse_everything() {
    let ctx = cluster();
    let _svc = v1_service(&ctx, "sentiment", 1, &[("kubectl-aml.io/auth", "token")]);
    let router = start(&ctx, &["--token-keys-secret", "absent"]);
    let token = sign("RS256", "rsa.key", None, claims("sentiment", 600));
    assert_eq!(
        with_key(&score_url(&router, "sentiment"), &token).status,
        401
    );
    // (The router's stderr is read by a thread of ours: wait for the line, do not race it.)
    eventually(Duration::from_secs(5), "the missing Secret logged", || {
        router
            .log()
            .contains("token keys Secret default/absent does not exist")
    });
}

#[test]
fn auth_none_lets_everyone_in_and_leaves_their_header_to_the_model() {
    let ctx = cluster();
    let replicas = v1_service(&ctx, "open", 1, &[("kubectl-aml.io/auth", "none")]);
    let router = start(&ctx, &[]);
    let url = score_url(&router, "open");
    assert_eq!(curl(&["-d", "{}", &url]).status, 200);
    assert_eq!(with_key(&url, "app-level-token").status, 200);
    let headers = replicas[0].seen().last_headers.lock().unwrap().clone();
    assert!(headers.contains(&("authorization".into(), "Bearer app-level-token".into())));
}

#[test]
fn annotations_apply_while_serving_and_bad_ones_keep_defaults_with_a_warning() {
    let ctx = cluster();
    let _replicas = v1_service(
        &ctx,
        "sentiment",
        1,
        &[("kubectl-aml.io/max-queue-wait-ms", "soon")],
    );
    let router = start(&ctx, &[]);
    let url = score_url(&router, "sentiment");
    assert_eq!(
        with_key(&url, PRIMARY).status,
        200,
        "served with the default"
    );
    let events = kubectl_events(&ctx);
    let bad = events
        .iter()
        .find(|e| e["reason"] == "BadAnnotation")
        .expect("a BadAnnotation Event");
    assert_eq!(bad["type"], "Warning");
    let message = bad["message"].as_str().unwrap();
    assert!(
        message.contains("kubectl-aml.io/max-queue-wait-ms") && message.contains("`soon`"),
        "{message}"
    );
    assert!(
        router
            .log()
            .contains("annotation kubectl-aml.io/max-queue-wait-ms not used"),
        "{}",
        router.log()
    );

    assert_eq!(curl(&["-d", "{}", &url]).status, 401);
    ctx.kube
        .update("apps/v1", "Deployment", "ws1", "sentiment", |d| {
            d["metadata"]["annotations"]["kubectl-aml.io/auth"] = json!("none");
        });
    eventually(Duration::from_secs(5), "auth none applied", || {
        curl(&["-d", "{}", &url]).status == 200
    });
}
