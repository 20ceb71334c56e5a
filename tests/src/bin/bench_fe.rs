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
use std::time::Duration;

use aml_tests::FakeKube;
use aml_tests::bench::{measure, print_table};
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
    let requests = || kube.requests().len();

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
            &requests,
            &restore,
            &plugin_run,
        )?,
        measure(
            "docs: 8 kubectl delete lines (bash)",
            args.runs,
            &requests,
            &restore,
            &script,
        )?,
        measure(
            "one kubectl delete naming all 8",
            args.runs,
            &requests,
            &restore,
            &one,
        )?,
    ];
    // Start-up rows start from an empty journal: a late request of the runs above is not theirs.
    let nothing = || kube.clear_requests();
    let startup = [
        measure(
            "kubectl-aml-fe --help",
            args.runs,
            &requests,
            &nothing,
            &|| {
                let mut c = Command::new(&plugin);
                c.arg("--help");
                c
            },
        )?,
        measure(
            "kubectl version --client",
            args.runs,
            &requests,
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
