//! Output formats as kubectl and az users know them: the jsonpath and custom-columns engine
//! against the real kubectl on the same objects; `--query`, tsv, jsonc and none on Azure verbs;
//! several objects as one document; each verb offering only its own formats; bad formats exit 2.

use std::process::Output;

use aml_core::cli::{OutputFormat, render};
use aml_tests::FakeKube;
use serde_json::Value;

use crate::common::{Attach, Certs, DEMO, Deploy, Fe, assert_code, demo, kubectl};

type Scale = kubectl_aml_scale::Cli;

const ATTACH: &str = env!("CARGO_BIN_EXE_aml-attach-dup");

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn ours(format: &str, document: &Value) -> String {
    let format = OutputFormat::parse(format).unwrap();
    render(document, &format, false).unwrap()
}

/// The same templates through kubectl and through our engine, over the same objects.
#[test]
fn jsonpath_and_custom_columns_print_what_kubectl_prints() {
    let fake = FakeKube::start();
    fake.seed_yaml(DEMO);
    let dir = tempfile::tempdir().unwrap();
    let one = ["get", "deployment", "azureml-fe", "-n", "default"];
    let all = ["get", "deployments", "-A"];
    let json = |args: &[&str]| -> Value {
        let text = stdout_of(&kubectl(
            &fake,
            dir.path(),
            &[args, &["-o", "json"]].concat(),
        ));
        serde_json::from_str(&text).unwrap()
    };
    let (deployment, list) = (json(&one), json(&all));
    let templates = [
        "{.metadata.name}",
        "{.spec.template.spec.containers[*].name}",
        "{.spec.template.spec.containers[0].image}",
        "{.spec.template.spec.containers[-1].ports[*].containerPort}",
        "{.metadata.labels}",
        "{.spec.replicas} replicas of {.metadata.name}",
        r#"{range .spec.template.spec.containers[*]}{.name}{"\t"}{.image}{"\n"}{end}"#,
        r#"{.spec.template.spec.containers[?(@.name=="azureml-fe")].image}"#,
        "{..containerPort}",
        "{.status.missing}",
    ];
    for template in templates {
        let theirs = stdout_of(&kubectl(
            &fake,
            dir.path(),
            &[&one[..], &["-o", &format!("jsonpath={template}")]].concat(),
        ));
        assert_eq!(
            ours(&format!("jsonpath={template}"), &deployment),
            theirs,
            "{template}"
        );
    }
    for template in [
        "{.items[*].metadata.name}",
        r#"{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}"#,
        "{.items[?(@.spec.replicas > 0)].metadata.name}",
    ] {
        let theirs = stdout_of(&kubectl(
            &fake,
            dir.path(),
            &[&all[..], &["-o", &format!("jsonpath={template}")]].concat(),
        ));
        assert_eq!(
            ours(&format!("jsonpath={template}"), &list),
            theirs,
            "{template}"
        );
    }
    let columns = "custom-columns=NAME:.metadata.name,NS:metadata.namespace,PORTS:.spec.template.spec.containers[*].ports[*].containerPort,NONE:.status.nothing";
    let theirs = stdout_of(&kubectl(
        &fake,
        dir.path(),
        &[&all[..], &["-o", columns]].concat(),
    ));
    let words = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect()
    };
    assert_eq!(words(&ours(columns, &list)), words(&theirs));
}

#[tokio::test]
async fn cluster_verbs_take_jsonpath_and_custom_columns() {
    let ctx = demo();
    let json = ctx.run::<Fe>(&["status", "-o", "json"]).await;
    assert_code(&json, 0);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    let names: Vec<&str> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    let jsonpath = ctx
        .run::<Fe>(&["status", "-o", "jsonpath={.objects[*].name}"])
        .await;
    assert_code(&jsonpath, 0);
    assert_eq!(jsonpath.stdout, names.join(" "));
    let columns = ctx
        .run::<Fe>(&["status", "-o", "custom-columns=KINDS:.objects[*].kind"])
        .await;
    assert_code(&columns, 0);
    assert!(columns.stdout.starts_with("KINDS\n"), "{}", columns.stdout);
    assert!(columns.stdout.contains("Deployment,"), "{}", columns.stdout);
}

#[tokio::test]
async fn several_requests_are_one_array() {
    let ctx = crate::deploy::ctx();
    let out = crate::deploy::create(&ctx, &["--dry-run", "-o", "json"]).await;
    assert_code(&out, 0);
    let requests: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    let methods: Vec<&str> = requests
        .as_array()
        .expect("an Azure verb prints an array")
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert!(
        methods.len() > 1 && methods.iter().all(|m| *m == "PUT"),
        "{methods:?}"
    );
    let query =
        crate::deploy::create(&ctx, &["--dry-run", "-o", "tsv", "--query", "[].method"]).await;
    assert_code(&query, 0);
    assert_eq!(query.stdout, "PUT\n".repeat(methods.len()));
}

#[tokio::test]
async fn azure_verbs_take_query_tsv_jsonc_and_none() {
    let ctx = crate::deploy::ctx();
    ctx.arm().add_kubernetes_compute("k8s-2", "other");
    let tsv = ctx
        .run::<Attach>(&["list", "--query", "sort([].name)", "-o", "tsv"])
        .await;
    assert_code(&tsv, 0);
    assert_eq!(tsv.stdout, "k8s\nk8s-2\n");
    // A query that finds nothing prints nothing, as az does.
    let nothing = ctx
        .run::<Attach>(&["list", "--query", "[0].missing", "-o", "json"])
        .await;
    assert_code(&nothing, 0);
    assert_eq!(nothing.stdout, "");
    let table = ctx
        .run::<Attach>(&[
            "list",
            "--query",
            "[].{Name: name, Kind: properties.computeType}",
        ])
        .await;
    assert_code(&table, 0);
    let header = table.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["Kind", "Name"],
        "{table}"
    );
    let jsonc = ctx.run::<Attach>(&["show", "k8s", "-o", "jsonc"]).await;
    assert_code(&jsonc, 0);
    assert!(
        jsonc.stdout.contains("\x1b[94m\"name\"\x1b[0m"),
        "{}",
        jsonc.stdout
    );
    // A process honours NO_COLOR (which run_plugin sets) in jsonc too.
    let plain = crate::common::run_plugin(ATTACH, &ctx, &["show", "k8s", "-o", "jsonc"]);
    assert_eq!(plain.status.code(), Some(0));
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(
        !plain.contains('\x1b') && plain.contains("\"name\": \"k8s\""),
        "{plain}"
    );
    let none = ctx.run::<Attach>(&["show", "k8s", "-o", "none"]).await;
    assert_code(&none, 0);
    assert_eq!(none.stdout, "");
    // The same key order in JSON and YAML: the top-level keys as printed.
    let json = ctx.run::<Attach>(&["show", "k8s", "-o", "json"]).await;
    let yaml = ctx.run::<Attach>(&["show", "k8s", "-o", "yaml"]).await;
    let json_keys: Vec<&str> = json
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  \"")?.split('"').next())
        .collect();
    let yaml_keys: Vec<&str> = yaml
        .stdout
        .lines()
        .filter(|l| !l.starts_with([' ', '-']))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert!(json_keys.len() > 3, "{}", json.stdout);
    assert_eq!(json_keys, yaml_keys);
}

/// Without -o, an Azure verb prints in az's configured format (`[core] output`, overridden by
/// `AZURE_CORE_OUTPUT`); -o still wins, and a cluster verb keeps its table.
#[tokio::test]
async fn azure_verbs_follow_az_s_configured_output() {
    let ctx = crate::deploy::ctx();
    let Some((_, azure)) = &ctx.arm else {
        unreachable!("the deploy context has a fake ARM")
    };
    let config = azure.config_dir.join("config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[core]\noutput = tsv\n");
    std::fs::write(&config, text).unwrap();
    let tsv = ctx.run::<Attach>(&["list", "--query", "[].name"]).await;
    assert_code(&tsv, 0);
    assert_eq!(tsv.stdout, "k8s\n");
    let json = ctx
        .run::<Attach>(&["list", "--query", "[].name", "-o", "json"])
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&json.stdout).unwrap(),
        serde_json::json!(["k8s"])
    );
    let plan = ctx
        .run::<Scale>(&["plan", "--rps", "20", "--request-time", "10s"])
        .await;
    assert!(plan.stdout.starts_with("RPS "), "{plan}");
    let process = crate::common::plugin_command(ATTACH, &ctx, &["list", "--query", "[].name"])
        .env("AZURE_CORE_OUTPUT", "json")
        .output()
        .unwrap();
    let printed: Value = serde_json::from_slice(&process.stdout).expect("AZURE_CORE_OUTPUT=json");
    assert_eq!(printed, serde_json::json!(["k8s"]));
}

#[tokio::test]
async fn each_verb_offers_and_takes_only_its_formats() {
    let ctx = crate::deploy::ctx();
    let help = ctx.run::<Certs>(&["inspect", "--help"]).await.stdout;
    let line = help
        .lines()
        .find(|l| l.contains("-o, --output"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("jsonpath") && !line.contains("wide"),
        "{line}"
    );
    let help = ctx.run::<Attach>(&["list", "--help"]).await.stdout;
    assert!(
        help.contains("tsv") && !help.contains("jsonpath") && !help.contains("csv"),
        "{help}"
    );
    let help = ctx.run::<Scale>(&["simulate", "--help"]).await.stdout;
    assert!(
        help.contains("(wide: status; csv: simulate, replay)"),
        "{help}"
    );
    // -o wide adds columns where it is offered, and is refused where it would add none.
    let plan = ["plan", "--rps", "20", "--request-time", "10s", "-o", "wide"];
    let same = ctx.run::<Scale>(&plan).await;
    assert_code(&same, 2);
    assert!(
        same.stderr
            .contains("plan does not print -o wide; it is for: status"),
        "{same}"
    );
    // Refused before any work: an install (or a re-attach, whose steps print reports of their
    // own) asked for -o wide sends nothing.
    let reattach = ctx
        .run::<Attach>(&["reattach", "k8s", "--yes", "-o", "wide"])
        .await;
    assert_code(&reattach, 2);
    assert!(ctx.arm().writes().is_empty(), "{reattach}");
    let requests = ctx.kube.requests().len();
    assert_code(&ctx.run::<Fe>(&["install", "-o", "wide"]).await, 2);
    assert_eq!(ctx.kube.requests().len(), requests);
    assert_code(&crate::deploy::create(&ctx, &[]).await, 0);
    let wide = ctx.run::<Deploy>(&["list", "-o", "wide"]).await;
    assert_code(&wide, 0);
    let header: Vec<&str> = wide
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header[header.len() - 2..],
        ["MODEL", "INSTANCE-TYPE"],
        "{wide}"
    );
    assert!(wide.stdout.contains("sentiment:1"), "{wide}");
    for (verb, args) in [
        ("attach", vec!["list", "-o", "csv"]),
        ("attach", vec!["list", "-o", "jsonpath={.a}"]),
        ("certs", vec!["inspect", "-o", "wide"]),
        ("certs", vec!["inspect", "-o", "tsv"]),
        ("fe", vec!["status", "-o", "xml"]),
        ("fe", vec!["status", "--query", "a"]),
    ] {
        let out = match verb {
            "attach" => ctx.run::<Attach>(&args).await,
            "certs" => ctx.run::<Certs>(&args).await,
            _ => ctx.run::<Fe>(&args).await,
        };
        assert_code(&out, 2);
        assert!(
            out.stderr.starts_with("error: "),
            "{verb} {args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
}

#[tokio::test]
async fn template_and_query_errors_name_the_character() {
    let ctx = crate::deploy::ctx();
    let out = ctx
        .run::<Fe>(&["status", "-o", "jsonpath={.objects[?(@.kind ~ 1)]}"])
        .await;
    assert_code(&out, 2);
    assert!(out.stderr.contains("at character 29"), "{}", out.stderr);
    let out = ctx
        .run::<Fe>(&["status", "-o", "custom-columns=NAME:.name,KIND:.kind["])
        .await;
    assert_code(&out, 2);
    assert!(out.stderr.contains("at character 37"), "{}", out.stderr);
    let out = ctx
        .run::<Attach>(&["list", "--query", "[?name == 'a'"])
        .await;
    assert_code(&out, 2);
    assert!(
        out.stderr.contains("JMESPath") && out.stderr.contains("at character"),
        "{}",
        out.stderr
    );
    let out = ctx
        .run::<Deploy>(&["list", "-o", "name", "--query", "[]"])
        .await;
    assert_code(&out, 2);
    assert!(out.stderr.contains("-o name"), "{}", out.stderr);
}
