//! `kubectl aml scale plan` and `simulate`: the docs' formula, the sample traces, every output
//! format, and bad traces.

use aml_tests::TestContext;
use serde_json::Value;

use crate::common::assert_code;

type Scale = kubectl_aml_scale::Cli;

fn trace(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/traces")
        .join(format!("{name}.csv"))
        .display()
        .to_string()
}

#[tokio::test]
async fn plan_gives_the_docs_286_replicas_and_its_inverse() {
    let ctx = TestContext::new();
    let out = ctx
        .run::<Scale>(&["plan", "--rps", "20", "--request-time", "10s"])
        .await;
    assert_code(&out, 0);
    assert_eq!(
        out.stdout,
        "RPS   REQUEST TIME   CONCURRENT   MAX CONCURRENT   TARGET   REPLICAS\n20    10s            200          1                70%      286\n"
    );
    let inverse = ctx
        .run::<Scale>(&[
            "plan",
            "--replicas",
            "286",
            "--request-time",
            "10s",
            "-o",
            "json",
        ])
        .await;
    let report: Value = serde_json::from_str(&inverse.stdout).unwrap();
    assert_eq!(
        (report["solvedFor"].as_str(), report["replicas"].as_u64()),
        (Some("rps"), Some(286))
    );
    assert!((report["rps"].as_f64().unwrap() - 20.02).abs() < 1e-9);
    let name = ctx
        .run::<Scale>(&["plan", "--rps", "7", "--request-time", "1s", "-o", "name"])
        .await;
    assert_eq!(name.stdout, "10\n", "7 rps × 1 s / 0.7 is exactly 10");
}

#[tokio::test]
async fn plan_rejects_impossible_inputs() {
    let ctx = TestContext::new();
    for args in [
        vec![
            "plan",
            "--rps",
            "20",
            "--request-time",
            "10s",
            "--target-utilization",
            "150",
        ],
        vec!["plan", "--rps", "NaN", "--request-time", "1s"],
        vec!["plan", "--rps", "1", "--request-time", "0s"],
        vec!["plan", "--request-time", "1s"],
    ] {
        let out = ctx.run::<Scale>(&args).await;
        assert_code(&out, 2);
        assert!(
            out.stderr.starts_with("error:") && out.stdout.is_empty(),
            "{args:?}\n{out}"
        );
    }
}

#[tokio::test]
async fn every_sample_trace_runs_through_the_three_policies() {
    let ctx = TestContext::new();
    for name in ["step", "ramp", "spike", "sawtooth", "diurnal"] {
        let out = ctx
            .run::<Scale>(&["simulate", "--trace", &trace(name), "-o", "json"])
            .await;
        assert_code(&out, 0);
        let report: Value = serde_json::from_str(&out.stdout).unwrap();
        let policies: Vec<&str> = report["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["policy"].as_str().unwrap())
            .collect();
        assert_eq!(
            policies,
            ["azureml-fe policy", "HPA-like", "KPA-like"],
            "{name}"
        );
        assert_eq!(
            report["timeline"].as_array().unwrap().len() as u64,
            report["seconds"].as_u64().unwrap()
        );
        let above = |i: usize| {
            report["policies"][i]["secondsAboveTarget"]
                .as_u64()
                .unwrap()
        };
        if name != "sawtooth" {
            assert!(
                above(0) <= above(1),
                "{name}: the azureml-fe policy is above target no longer than the HPA-like one"
            );
        }
    }
}

#[tokio::test]
async fn the_table_has_a_chart_and_a_summary_and_csv_has_the_timeline() {
    let ctx = TestContext::new();
    let out = ctx
        .run::<Scale>(&["simulate", "--trace", &trace("step")])
        .await;
    assert_code(&out, 0);
    assert!(out.stdout.starts_with("SERIES                   REPLICAS OVER 1501 S (21 S A COLUMN; `@` = 10)\nload (replicas needed)   |"), "{out}");
    assert!(
        out.stdout
            .contains("\nPOLICY              ABOVE TARGET   PEAK UTILISATION"),
        "{out}"
    );
    let csv = ctx
        .run::<Scale>(&["simulate", "--trace", &trace("spike"), "-o", "csv"])
        .await;
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "second,rps,needed,azureml_fe_desired,azureml_fe_ready,hpa_desired,hpa_ready,kpa_desired,kpa_ready"
    );
    assert_eq!(lines.len(), 902);
    assert!(
        lines[301].starts_with("300,12,9,9,"),
        "the spike is met at the tick it arrives: {}",
        lines[301]
    );
    let name = ctx
        .run::<Scale>(&["simulate", "--trace", &trace("spike"), "-o", "name"])
        .await;
    assert_eq!(name.stdout, "azureml-fe policy\nHPA-like\nKPA-like\n");
}

#[tokio::test]
async fn svg_draws_load_and_every_policy() {
    let ctx = TestContext::new();
    let svg = ctx.path("ramp.svg");
    let out = ctx
        .run::<Scale>(&[
            "simulate",
            "--trace",
            &trace("ramp"),
            "--svg",
            svg.to_str().unwrap(),
        ])
        .await;
    assert_code(&out, 0);
    assert!(
        out.stderr
            .contains(&format!("wrote the chart to {}", svg.display())),
        "{out}"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
        "a whole SVG document"
    );
    for label in [
        "load (replicas needed)",
        "azureml-fe policy",
        "HPA-like",
        "KPA-like",
        "seconds",
        "replicas",
    ] {
        assert!(text.contains(label), "missing {label}");
    }
    assert!(text.matches("<polyline").count() >= 4, "a line per series");
}

#[tokio::test]
async fn bad_traces_and_settings_are_usage_errors() {
    let ctx = TestContext::new();
    let bad = ctx.path("bad.csv");
    std::fs::write(&bad, "seconds,rps,request_seconds\n0,1,1\n5,x,1\n").unwrap();
    let cases = [
        (
            vec!["simulate", "--trace", "/nonexistent.csv"],
            "cannot read the trace `/nonexistent.csv`",
        ),
        (
            vec!["simulate", "--trace", bad.to_str().unwrap()],
            "is not valid: line 3: `x` is not a valid rps",
        ),
    ];
    for (args, message) in cases {
        let out = ctx.run::<Scale>(&args).await;
        assert_code(&out, 2);
        assert!(out.stderr.contains(message), "{out}");
    }
    let step = trace("step");
    let out = ctx
        .run::<Scale>(&[
            "simulate",
            "--trace",
            &step,
            "--min-replicas",
            "5",
            "--max-replicas",
            "2",
        ])
        .await;
    assert_code(&out, 2);
    assert!(
        out.stderr
            .contains("min replicas (5) must not exceed max replicas (2)"),
        "{out}"
    );
}

#[test]
fn the_help_leaves_out_kubernetes_flags() {
    use clap::CommandFactory;
    let help = Scale::command().render_long_help().to_string();
    assert!(
        !help.contains("--kubeconfig") && help.contains("Exit codes:"),
        "{help}"
    );
}
