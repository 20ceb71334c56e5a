//! No secret a server returned reaches stdout or stderr unless asked for: bodies in every `-o`
//! format, the answer to an attach, errors quoting a key or a token, and logs at `-vv`.

use aml_tests::fake_arm::workspace_id;
use serde_json::{Value, json};

use crate::common::{Attach, Deploy, run_plugin, text, tls_path};

/// A JWT as ARM hands them out (header, payload, signature).
const JWT: &str =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL21sIn0.c2lnbmVkLWJ5LWFybQ";
const PRIMARY: &str = "primary-key-value-8f3a";
const SECONDARY: &str = "secondary-key-value-1c2d";

fn private_key() -> String {
    std::fs::read_to_string(tls_path("rsa.key")).unwrap()
}

/// The secrets a test planted, as they would appear if leaked (the key by its first base64 line).
fn planted() -> Vec<String> {
    let key = private_key();
    vec![
        PRIMARY.into(),
        SECONDARY.into(),
        JWT.into(),
        key.lines().nth(1).unwrap().into(),
    ]
}

fn assert_clean(what: &str, outputs: &[&str]) {
    for output in outputs {
        for secret in planted() {
            assert!(
                !output.contains(&secret),
                "{what}: {secret} leaked in\n{output}"
            );
        }
    }
}

#[tokio::test]
async fn deploy_show_and_list_redact_what_arm_returns_in_every_format() {
    let ctx = crate::deploy::ctx();
    assert_eq!(crate::deploy::create(&ctx, &[]).await.code, 0);
    let shown: Value = serde_json::from_str(
        &ctx.run::<Deploy>(&["show", "svc", "-o", "json"])
            .await
            .stdout,
    )
    .unwrap();
    let mut endpoint = shown["endpoint"].clone();
    endpoint["properties"]["keys"] = json!({"primaryKey": PRIMARY, "secondaryKey": SECONDARY});
    let mut deployment = shown["deployments"][0].clone();
    deployment["properties"]["environmentVariables"] = json!({"AML_TOKEN": JWT});
    deployment["properties"]["privateKey"] = json!(private_key());
    let deployments = json!({"value": [deployment]});
    for verb in ["show", "list"] {
        for output in ["json", "yaml", "table", "wide", "name"] {
            if verb == "show" {
                ctx.arm()
                    .respond("GET", "/onlineEndpoints/svc", 1, 200, endpoint.clone());
            } else {
                ctx.arm().respond(
                    "GET",
                    "/onlineEndpoints",
                    1,
                    200,
                    json!({"value": [endpoint.clone()]}),
                );
            }
            ctx.arm()
                .respond("GET", "/deployments", 1, 200, deployments.clone());
            let args: Vec<&str> = match verb {
                "show" => vec!["show", "svc", "-o", output],
                _ => vec!["list", "-o", output],
            };
            let out = ctx.run::<Deploy>(&args).await;
            assert_eq!(out.code, 0, "{args:?}: {out}");
            assert_clean(&format!("{args:?}"), &[&out.stdout, &out.stderr]);
            if output == "json" {
                assert!(out.stdout.contains("<redacted>"), "{out}");
                assert!(out.stdout.contains("<redacted token>"), "{out}");
            }
        }
    }
}

#[tokio::test]
async fn an_attach_answer_holding_the_key_is_printed_without_it() {
    let ctx = crate::attach::ctx();
    let args = [
        "aks",
        "aks-tls",
        "--cluster",
        "aks1",
        "--ssl-cert-pem-file",
        &tls_path("rsa-chain.crt"),
        "--ssl-key-pem-file",
        &tls_path("rsa.key"),
        "--ssl-cname",
        "fe.example.com",
    ];
    // A create answered at once (200, no operation) with the body as sent, key included.
    let sent = crate::attach::puts(&{
        let probe = crate::attach::ctx();
        assert_eq!(probe.run::<Attach>(&args).await.code, 0);
        probe
    })[0]
        .clone();
    let mut answer = sent;
    answer["name"] = json!("aks-tls");
    answer["id"] = json!(format!("{}/computes/aks-tls", workspace_id("rg1", "ws1")));
    answer["properties"]["provisioningState"] = json!("Succeeded");
    assert!(answer.to_string().contains("PRIVATE KEY"));
    for output in ["json", "yaml", "table", "wide", "name"] {
        ctx.arm()
            .respond("PUT", "/computes/aks-tls", 1, 200, answer.clone());
        let out = ctx
            .run::<Attach>(&[&args[..], &["-o", output]].concat())
            .await;
        assert_eq!(out.code, 0, "-o {output}: {out}");
        assert_clean(&format!("attach -o {output}"), &[&out.stdout, &out.stderr]);
        if output == "json" {
            assert!(out.stdout.contains("\"key\": \"<redacted>\""), "{out}");
        }
    }
}

/// An ARM error message quoting what it refused: the key and a token.
fn quoting_error() -> String {
    format!(
        "The certificate does not match the key {}; caller token {JWT}",
        private_key().trim()
    )
}

#[tokio::test]
async fn errors_quoting_a_key_or_token_print_them_redacted() {
    let ctx = crate::deploy::ctx();
    assert_eq!(crate::deploy::create(&ctx, &[]).await.code, 0);
    let cases: [(&str, &[&str]); 4] = [
        ("/computes", &["attach", "list"]),
        ("/computes/aks1", &["attach", "show", "aks1"]),
        ("/onlineEndpoints/svc", &["deploy", "show", "svc"]),
        ("/onlineEndpoints", &["deploy", "list"]),
    ];
    for (path, args) in cases {
        ctx.arm()
            .fail("GET", path, 1, 400, "InvalidCertificate", &quoting_error());
        let out = match args[0] {
            "attach" => ctx.run::<Attach>(&args[1..]).await,
            _ => ctx.run::<Deploy>(&args[1..]).await,
        };
        assert_eq!(out.code, 1, "{args:?}: {out}");
        assert!(
            out.stderr
                .contains("does not match the key <redacted private key>")
                && out.stderr.contains("caller token <redacted token>"),
            "{args:?}: {out}"
        );
        assert_clean(&format!("{args:?}"), &[&out.stdout, &out.stderr]);
    }
}

#[test]
fn verbose_logs_and_errors_of_a_process_carry_no_quoted_secret() {
    let ctx = crate::deploy::ctx();
    // Every try answers 500 quoting the key and the token: the retries are logged at -vv, then
    // the error is reported.
    ctx.arm().fail(
        "GET",
        "/workspaces/",
        4,
        500,
        "InternalError",
        &quoting_error(),
    );
    let deploy = env!("CARGO_BIN_EXE_aml-deploy-dup");
    let out = run_plugin(deploy, &ctx, &["list", "-vv"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("ARM answered"),
        "requests are logged: {stderr}"
    );
    assert!(stderr.contains("<redacted private key>"), "{stderr}");
    assert_clean("deploy list -vv", &[&stdout, &stderr]);
}
