//! `make bench`: the live autoscaler against its own simulation and against an HPA, in one command.
//!
//! - **Reaction**: a load step on one replica; time from the step to the scale subresource write
//!   (the fake API server's request journal), `--reps` times, median and worst.
//! - **Live vs simulated**: each sample trace, compressed in time by a factor (its phases, the
//!   scale-down window and the replica start-up all divided by it; rates and request times kept),
//!   replayed open loop (`kubectl aml scale replay --watch`) against `kubectl aml fe serve` with a
//!   test kubelet; its replica-seconds and seconds above target next to `kubectl aml scale
//!   simulate`'s azureml-fe prediction for the same compressed trace (goal: within 10 %).
//! - **azureml-fe vs HPA-like**: `simulate` on the original traces (the HPA-like baseline's 15 s sync
//!   and 300 s stabilisation are real-time constants: compressing would handicap it unfairly).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aml_tests::FakeKube;
use aml_tests::kubelet::Kubelet;
use aml_tests::router::{self as contract, RouterProcess};
use clap::Parser;
use serde_json::Value;

/// The live autoscaler against its simulation and an HPA
#[derive(Parser)]
#[command(name = "bench-autoscale")]
struct Args {
    /// Load steps timed for the reaction
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Only these sample traces (default: step, spike, ramp, sawtooth)
    #[arg(long, value_delimiter = ',')]
    traces: Vec<String>,
}

const KEY: &str = "bench-key-0123456789";

fn binary(name: &str) -> PathBuf {
    std::env::current_exe()
        .expect("own path")
        .with_file_name(name)
}

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/traces")
}

/// A fake cluster with model `m` (these annotations), its kubelet (start-up, capacity 64) and the
/// router with its autoscaler (this scale-down window).
struct Harness {
    kube: FakeKube,
    _kubelet: Kubelet,
    router: RouterProcess,
    _dir: tempfile::TempDir,
}

fn harness(annotations: &[(&str, &str)], startup: Duration, window: &str) -> Harness {
    aml_core::init_crypto();
    let kube = FakeKube::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    kube.write_kubeconfig(&kubeconfig, None)
        .expect("kubeconfig");
    let deployment = contract::v1_deployment("ws1", "m", annotations);
    kube.seed([
        contract::namespace("ws1"),
        deployment.clone(),
        contract::keys_secret("ws1", "m-keys", KEY, "other"),
    ]);
    let kubelet = Kubelet::start(&kubeconfig, &deployment, startup, 64);
    let plugin = binary("kubectl-aml-fe");
    let router = RouterProcess::start(
        plugin.to_str().unwrap(),
        &kubeconfig,
        &["--scale-down-window", window],
    );
    let started = Instant::now();
    while router
        .metric("azureml_fe_ready_replicas", &["service=\"m\""])
        .unwrap_or(0.0)
        < 1.0
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the first replica never became ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Harness {
        kube,
        _kubelet: kubelet,
        router,
        _dir: dir,
    }
}

fn scale_writes(kube: &FakeKube) -> Vec<std::time::Instant> {
    kube.requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/deployments/m/scale"))
        .map(|r| r.received)
        .collect()
}

/// Seconds from a load step to the first scale write, once.
/// One load step, started `phase` of the way into the autoscaler's 1 s loop period (the steps of
/// a run spread over the period: the wait for the next tick is part of the reaction).
fn reaction(phase: f64) -> f64 {
    let h = harness(
        &[("kubectl-aml.io/max-queue-wait-ms", "30000")],
        Duration::from_millis(200),
        "60s",
    );
    // Let the leader settle, then a step of 6 concurrent clients on one single-slot replica.
    std::thread::sleep(Duration::from_secs(3) + Duration::from_secs_f64(phase));
    let url = format!("http://{}/api/v1/service/m/score", h.router.http);
    let step = Instant::now();
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let _ = Command::new("curl")
                    .args([
                        "-s",
                        "-o",
                        "/dev/null",
                        "-X",
                        "POST",
                        "-H",
                        &format!("Authorization: Bearer {KEY}"),
                        "-H",
                        "x-test-delay-ms: 3000",
                        "-d",
                        "{}",
                        &url,
                    ])
                    .status();
            })
        })
        .collect();
    while scale_writes(&h.kube).is_empty() {
        assert!(
            step.elapsed() < Duration::from_secs(10),
            "no scale write within 10 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = scale_writes(&h.kube)[0]
        .saturating_duration_since(step)
        .as_secs_f64();
    for client in clients {
        let _ = client.join();
    }
    took
}

/// Writes `trace` with its seconds divided by `factor`; returns the new file and its length.
fn compress(trace: &Path, factor: u64, into: &Path) -> u64 {
    let text = std::fs::read_to_string(trace).expect("trace");
    let mut out = String::from("seconds,rps,request_seconds\n");
    let mut last = None;
    let mut end = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("seconds"))
    {
        let fields: Vec<&str> = line.split(',').collect();
        let Ok(second) = fields[0].parse::<u64>() else {
            continue;
        };
        let second = second / factor;
        if last == Some(second) {
            continue;
        }
        last = Some(second);
        end = second;
        out.push_str(&format!("{second},{},{}\n", fields[1], fields[2]));
    }
    std::fs::write(into, out).expect("write the trace");
    end + 1
}

fn run_json(binary: &Path, args: &[&str]) -> Value {
    let out = Command::new(binary).args(args).output().expect("run");
    assert!(
        out.status.success(),
        "{binary:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Replica-seconds and seconds above target: live (replay) and simulated, on the compressed trace.
fn live_vs_simulated(name: &str, factor: u64, dir: &Path) -> ((u64, u64), (u64, u64)) {
    let trace = dir.join(format!("{name}-x{factor}.csv"));
    compress(&traces_dir().join(format!("{name}.csv")), factor, &trace);
    let window = format!("{}ms", 60_000 / factor);
    let startup = Duration::from_millis((10_000 / factor).max(200));
    let scale = binary("kubectl-aml-scale");
    let startup_flag = format!("{}ms", startup.as_millis());
    let simulated = run_json(
        &scale,
        &[
            "simulate",
            "--trace",
            trace.to_str().unwrap(),
            "--startup",
            &startup_flag,
            "--scale-down-window",
            &window,
            "-o",
            "json",
        ],
    );
    let policy = &simulated["policies"][0];
    let sim = (
        policy["replicaSeconds"].as_u64().unwrap_or(0),
        policy["secondsAboveTarget"].as_u64().unwrap_or(0),
    );

    let h = harness(
        &[("kubectl-aml.io/max-queue-wait-ms", "30000")],
        startup,
        &window,
    );
    let kubeconfig = dir.join(format!("{name}.kubeconfig"));
    h.kube
        .write_kubeconfig(&kubeconfig, None)
        .expect("kubeconfig");
    let url = format!("http://{}/api/v1/service/m/score", h.router.http);
    let mut replay = Command::new(&scale);
    replay.args([
        "replay",
        "--trace",
        trace.to_str().unwrap(),
        "--url",
        &url,
        "--key",
        KEY,
        "-H",
        "x-test-delay-ms: 500",
        "--watch",
        "m",
        "-n",
        "ws1",
        "-o",
        "json",
    ]);
    let report: Value = {
        let out = replay
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .expect("replay");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let mut live = (0u64, 0u64);
    for row in report["seconds"].as_array().into_iter().flatten() {
        let desired = row["desired"].as_u64().unwrap_or(0);
        let ready = row["ready"].as_u64().unwrap_or(0).max(1) as f64;
        live.0 += desired;
        let demand = row["rps"].as_f64().unwrap_or(0.0) * 0.5;
        if demand / ready > 0.7 {
            live.1 += 1;
        }
    }
    (live, sim)
}

fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "autoscaler benchmark: router and kubectl-aml-scale release builds, fake API server, test kubelet\n"
    );
    let mut reactions: Vec<f64> = (0..args.reps)
        .map(|rep| reaction(rep as f64 / args.reps as f64))
        .collect();
    reactions.sort_by(f64::total_cmp);
    println!(
        "| load step → scale write | median {:.2} s | worst {:.2} s | goal: decision ≤ 1 s, written ≤ 2 s |",
        reactions[reactions.len() / 2],
        reactions[reactions.len() - 1]
    );

    let traces = if args.traces.is_empty() {
        vec![
            "step".into(),
            "spike".into(),
            "ramp".into(),
            "sawtooth".into(),
        ]
    } else {
        args.traces.clone()
    };
    println!(
        "\n| trace | compressed | replica-s live | replica-s simulated | ratio | s above target live | simulated | within 10 % |\n|---|---|---|---|---|---|---|---|"
    );
    for name in &traces {
        let seconds: u64 = std::fs::read_to_string(traces_dir().join(format!("{name}.csv")))
            .unwrap()
            .lines()
            .last()
            .and_then(|l| l.split(',').next()?.parse().ok())
            .unwrap_or(600);
        let factor = (seconds / 90).max(5);
        let (live, sim) = live_vs_simulated(name, factor, dir.path());
        let ratio = live.0 as f64 / sim.0.max(1) as f64;
        let ok = (ratio - 1.0).abs() <= 0.10;
        println!(
            "| {name} | ÷{factor} | {} | {} | {ratio:.2} | {} | {} | {} |",
            live.0,
            sim.0,
            live.1,
            sim.1,
            if ok { "yes" } else { "NO" }
        );
    }

    println!(
        "\n| trace (simulated, real time) | azureml-fe replica-s | s above target | HPA-like replica-s | s above target | ahead of HPA-like |\n|---|---|---|---|---|---|"
    );
    let scale = binary("kubectl-aml-scale");
    for name in ["step", "spike", "ramp", "sawtooth", "diurnal"] {
        let report = run_json(
            &scale,
            &[
                "simulate",
                "--trace",
                traces_dir().join(format!("{name}.csv")).to_str().unwrap(),
                "-o",
                "json",
            ],
        );
        let policy = |i: usize| {
            let p = &report["policies"][i];
            (
                p["replicaSeconds"].as_u64().unwrap_or(0),
                p["secondsAboveTarget"].as_u64().unwrap_or(0),
            )
        };
        let (fe, hpa) = (policy(0), policy(1));
        let ahead = fe.1 < hpa.1;
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            fe.0,
            fe.1,
            hpa.0,
            hpa.1,
            if ahead {
                "yes (fewer seconds above target)"
            } else {
                "no"
            }
        );
    }
}
