//! `make bench`: `kubectl aml fe cleanup` against the docs' way of doing it, on one fake cluster
//! with a fixed latency per request, all in one command.
//!
//! Contestants, each run `--runs` times (median reported), the eight objects re-created before
//! every run (untimed):
//! 1. `kubectl-aml-fe cleanup --yes` (release build, backup of the TLS secret included);
//! 2. the docs' eight `kubectl delete` lines, run as a bash script;
//! 3. one `kubectl delete` naming all eight objects.
//!
//! Plus start-up: `kubectl-aml-fe --help` against `kubectl version --client`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aml_tests::FakeKube;
use clap::Parser;

/// Time `kubectl aml fe cleanup` against kubectl doing the same work
#[derive(Parser)]
#[command(name = "bench-fe")]
struct Args {
    /// Runs per contestant (the median is reported)
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Latency the fake API server adds to every request, in milliseconds
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
}

const DEMO: &str = include_str!("../../../scripts/demo/azureml-fe.yaml");

/// The docs' eight lines (how-to-create-attach-kubernetes, "update the cluster").
const DOCS_SCRIPT: &str = "set -e
kubectl delete sa azureml-fe
kubectl delete clusterrole azureml-fe-role
kubectl delete clusterrolebinding azureml-fe-binding
kubectl delete svc azureml-fe
kubectl delete svc azureml-fe-int-http
kubectl delete deploy azureml-fe
kubectl delete secret azuremlfessl
kubectl delete cm azuremlfeconfig
";

const ONE_KUBECTL: [&str; 9] = [
    "delete",
    "sa/azureml-fe",
    "clusterrole/azureml-fe-role",
    "clusterrolebinding/azureml-fe-binding",
    "svc/azureml-fe",
    "svc/azureml-fe-int-http",
    "deploy/azureml-fe",
    "secret/azuremlfessl",
    "cm/azuremlfeconfig",
];

/// One contestant's runs: wall time, CPU time (user + system, its children included) and peak RSS.
struct Timing {
    name: String,
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    /// Largest resident set of any process of the run, KiB (GNU time's `%M`).
    peak_kib: u64,
    requests: usize,
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time (user + system) of every child reaped so far, microsecond resolution.
fn children_cpu() -> anyhow::Result<Duration> {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    Ok(micros(usage.user_time()) + micros(usage.system_time()))
}

/// `command` run under GNU time, which writes its peak RSS (`%M`, KiB) to `stats`.
fn under_time(command: &Command, stats: &Path) -> Command {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M", "-o"])
        .arg(stats)
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    timed
}

/// Runs `command` once per run; `before` restores the cluster first, untimed.
fn measure(
    name: &str,
    runs: usize,
    kube: &FakeKube,
    before: &dyn Fn(),
    command: &dyn Fn() -> Command,
) -> anyhow::Result<Timing> {
    let stats = tempfile::NamedTempFile::new()?;
    let mut timing = Timing {
        name: name.to_string(),
        wall: vec![],
        cpu: vec![],
        peak_kib: 0,
        requests: 0,
    };
    for _ in 0..runs {
        before();
        kube.clear_requests();
        let cpu_before = children_cpu()?;
        let started = Instant::now();
        let output = under_time(&command(), stats.path()).output()?;
        let took = started.elapsed();
        // GNU time waits for the contestant, so its CPU time counts here once time is reaped.
        let cpu = children_cpu()? - cpu_before;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            anyhow::bail!("{name} failed: {}\n{stderr}", output.status);
        }
        let text = std::fs::read_to_string(stats.path())?;
        let Ok(peak) = text.trim().parse::<u64>() else {
            anyhow::bail!("unexpected GNU time output {text:?}")
        };
        timing.wall.push(took);
        timing.cpu.push(cpu);
        timing.peak_kib = timing.peak_kib.max(peak);
        timing.requests = kube.requests().len();
    }
    Ok(timing)
}

fn plugin_path() -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    let path = me.with_file_name("kubectl-aml-fe");
    assert!(
        path.exists(),
        "build the plugin first: cargo build --release -p kubectl-aml-fe"
    );
    path
}

fn kubectl(dir: &Path, kubeconfig: &Path) -> Command {
    let mut command = Command::new("kubectl");
    command
        .env("KUBECONFIG", kubeconfig)
        .env("KUBECACHEDIR", dir.join("cache"));
    command
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kube = FakeKube::start();
    kube.seed_yaml(DEMO);
    kube.update("apps/v1", "Deployment", "ws1", "sentiment", |d| {
        d["spec"]["replicas"] = 0.into()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    kube.write_kubeconfig(&kubeconfig, None)
        .expect("kubeconfig");
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).expect("backup dir");
    let plugin = plugin_path();
    let restore = || kube.seed_missing_yaml(DEMO);

    // Warm kubectl's discovery cache, as on any workstation that used the cluster before.
    let warm = kubectl(dir.path(), &kubeconfig)
        .args(["get", "cm"])
        .output()
        .expect("kubectl");
    assert!(
        warm.status.success(),
        "kubectl does not work against the fake: {}",
        String::from_utf8_lossy(&warm.stderr)
    );
    kube.set_latency(Duration::from_millis(args.latency_ms));

    let plugin_run = || {
        let mut c = Command::new(&plugin);
        c.args(["cleanup", "--yes", "--backup-dir"])
            .arg(&backups)
            .env("KUBECONFIG", &kubeconfig);
        c
    };
    let script = || {
        let mut c = Command::new("bash");
        c.args(["-c", DOCS_SCRIPT])
            .env("KUBECONFIG", &kubeconfig)
            .env("KUBECACHEDIR", dir.path().join("cache"));
        c
    };
    let one = || {
        let mut c = kubectl(dir.path(), &kubeconfig);
        c.args(ONE_KUBECTL);
        c
    };
    let results = [
        measure(
            "kubectl aml fe cleanup --yes",
            args.runs,
            &kube,
            &restore,
            &plugin_run,
        )?,
        measure(
            "docs: 8 kubectl delete lines (bash)",
            args.runs,
            &kube,
            &restore,
            &script,
        )?,
        measure(
            "one kubectl delete naming all 8",
            args.runs,
            &kube,
            &restore,
            &one,
        )?,
    ];
    let nothing = || {};
    let startup = [
        measure("kubectl-aml-fe --help", args.runs, &kube, &nothing, &|| {
            let mut c = Command::new(&plugin);
            c.arg("--help");
            c
        })?,
        measure(
            "kubectl version --client",
            args.runs,
            &kube,
            &nothing,
            &|| {
                let mut c = kubectl(dir.path(), &kubeconfig);
                c.args(["version", "--client"]);
                c
            },
        )?,
    ];

    println!(
        "fe cleanup: fake API server on loopback, {} ms per request, {} runs each (median; peak = max)",
        args.latency_ms, args.runs
    );
    print_table(&results);
    println!();
    println!("start-up (no server involved)");
    print_table(&startup);
    Ok(())
}

fn print_table(rows: &[Timing]) {
    println!(
        "{:<40} {:>9} {:>7} {:>9} {:>7} {:>10} {:>7} {:>9}",
        "CONTESTANT", "WALL", "RATIO", "CPU", "RATIO", "PEAK RSS", "RATIO", "REQUESTS"
    );
    let (wall, cpu, peak) = (
        median(&rows[0].wall),
        median(&rows[0].cpu),
        rows[0].peak_kib,
    );
    for r in rows {
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.1}x", a / b)
            } else {
                "-".into()
            }
        };
        println!(
            "{:<40} {:>7.1}ms {:>7} {:>7.1}ms {:>7} {:>7.1}MiB {:>7} {:>9}",
            r.name,
            ms(median(&r.wall)),
            ratio(ms(median(&r.wall)), ms(wall)),
            ms(median(&r.cpu)),
            ratio(ms(median(&r.cpu)), ms(cpu)),
            r.peak_kib as f64 / 1024.0,
            ratio(r.peak_kib as f64, peak as f64),
            r.requests,
        );
    }
}
