//! `kubectl aml scale replay`: a trace replayed open loop against the router, with the watched
//! replicas following it; its bounds (max requests, max in flight, timeouts) and bad inputs.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::autoscale_env::*;
use crate::common::assert_code;
use crate::router_env::{PRIMARY, cluster, score_url};

type Scale = kubectl_aml_scale::Cli;

fn trace(ctx: &aml_tests::TestContext, rows: &str) -> String {
    let path = ctx.dir.path().join("trace.csv");
    std::fs::write(&path, format!("seconds,rps,request_seconds\n{rows}")).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_replayed_open_loop_is_served_and_the_replicas_follow_it() {
    let ctx = cluster();
    let annotations = [
        ("kubectl-aml.io/max-queue-wait-ms", "20000"),
        ("kubectl-aml.io/max-replicas", "4"),
    ];
    let (_, _kubelet) = model(&ctx, "m", &annotations, 10);
    let router = leading_router(&ctx, &[]);
    wait(Duration::from_secs(10), "a replica ready", || {
        ready_replicas(&router, "m") == 1
    });
    // 2 rps, then 12 rps of 300 ms requests (3.6 replicas' worth) for 6 s, then 2 rps.
    let file = trace(&ctx, "0,2,0.3\n2,12,0.3\n8,2,0.3\n11,2,0.3\n");
    let svg = ctx.dir.path().join("replay.svg");
    let url = score_url(&router, "m");
    let args = [
        "replay",
        "--trace",
        &file,
        "--url",
        &url,
        "--key",
        PRIMARY,
        "-H",
        "x-test-delay-ms: 300",
        "--watch",
        "m",
        "-n",
        "ws1",
        "--svg",
        svg.to_str().unwrap(),
        "--startup",
        "1s",
        "--max-replicas",
        "4",
        "-o",
        "json",
    ];
    let out = ctx.run::<Scale>(&args).await;
    assert_code(&out, 0);
    assert!(
        !out.stderr.contains(PRIMARY) && !out.stdout.contains(PRIMARY),
        "the key is never printed"
    );
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["ended"], "trace");
    let totals = &report["totals"];
    assert_eq!(totals["sent"], 2 * 2 + 12 * 6 + 2 * 4, "{totals}");
    assert_eq!(totals["ok"], totals["sent"], "{totals}");
    let seconds = report["seconds"].as_array().unwrap();
    assert_eq!(seconds.len(), 12);
    let most = seconds
        .iter()
        .filter_map(|s| s["desired"].as_u64())
        .max()
        .unwrap();
    assert!(most >= 3, "the replicas followed the step: {seconds:?}");
    assert!(totals["replicaSeconds"].as_u64().unwrap() >= 12);
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(
        drawn.contains("live ready") && drawn.contains("simulated ready"),
        "three series drawn"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_is_bounded_by_max_requests_max_inflight_and_the_timeout() {
    let ctx = cluster();
    let (_, _kubelet) = model(
        &ctx,
        "m",
        &[
            ("kubectl-aml.io/max-queue-wait-ms", "20000"),
            ("kubectl-aml.io/autoscale", "false"),
        ],
        10,
    );
    let router = leading_router(&ctx, &[]);
    wait(Duration::from_secs(10), "a replica ready", || {
        ready_replicas(&router, "m") == 1
    });
    let url = score_url(&router, "m");

    let file = trace(&ctx, "0,10,0.1\n4,10,0.1\n");
    let out = ctx
        .run::<Scale>(&[
            "replay",
            "--trace",
            &file,
            "--url",
            &url,
            "--key",
            PRIMARY,
            "--max-requests",
            "7",
            "-o",
            "json",
        ])
        .await;
    assert_code(&out, 0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (report["ended"].as_str(), report["totals"]["sent"].as_u64()),
        (Some("max-requests"), Some(7))
    );

    // A server that never answers: requests time out, the in-flight cap skips the rest, and the
    // run ends by the trace's end plus the timeout.
    let started = Instant::now();
    let args = [
        "replay",
        "--trace",
        &file,
        "--url",
        &url,
        "--key",
        PRIMARY,
        "-H",
        "x-test-hang: 1",
        "--timeout",
        "1s",
        "--max-inflight",
        "5",
        "-o",
        "json",
    ];
    let out = ctx.run::<Scale>(&args).await;
    assert_code(&out, 0);
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "took {:?}",
        started.elapsed()
    );
    let totals = serde_json::from_str::<Value>(&out.stdout).unwrap()["totals"].clone();
    assert_eq!(totals["ok"], 0);
    assert!(totals["errors"].as_u64().unwrap() >= 5, "{totals}");
    assert!(totals["skipped"].as_u64().unwrap() > 0, "{totals}");
}

#[tokio::test]
async fn bad_traces_urls_and_headers_are_usage_errors() {
    let ctx = aml_tests::TestContext::new();
    let good = trace(&ctx, "0,1,0.1\n");
    for (args, says) in [
        (
            vec![
                "replay",
                "--trace",
                "/nonexistent.csv",
                "--url",
                "http://127.0.0.1:1/s",
            ],
            "cannot read the trace",
        ),
        (
            vec!["replay", "--trace", &good, "--url", "ftp://x"],
            "invalid URL `ftp://x`",
        ),
        (
            vec![
                "replay", "--trace", &good, "--url", "http://x", "-H", "nocolon",
            ],
            "invalid header `nocolon`",
        ),
        (
            vec![
                "replay",
                "--trace",
                &good,
                "--url",
                "http://x",
                "-H",
                "Authorization: Bearer k",
            ],
            "--key or --token",
        ),
        (
            vec![
                "replay", "--trace", &good, "--url", "http://x", "--key", "a", "--token", "b",
            ],
            "cannot be used with",
        ),
    ] {
        let out = ctx.run::<Scale>(&args).await;
        assert_code(&out, 2);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    let bad = ctx.dir.path().join("bad.csv");
    std::fs::write(&bad, "seconds,rps\n0,1\n").unwrap();
    let out = ctx
        .run::<Scale>(&[
            "replay",
            "--trace",
            bad.to_str().unwrap(),
            "--url",
            "http://x",
        ])
        .await;
    assert_code(&out, 2);
    assert!(out.stderr.contains("is not valid"), "{}", out.stderr);
}
