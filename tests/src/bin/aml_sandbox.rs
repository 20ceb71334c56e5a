//! `aml-sandbox`: the whole loop on one machine — the fake API server and fake Azure Resource
//! Manager on 127.0.0.1; a stand-in for the Azure ML extension that turns the online deployments
//! ARM holds into model Deployments; and a Deployment controller + process kubelet that runs model
//! pods as the real Azure ML inference server and the router's pods as `kubectl-aml-fe serve`. `up` prints the
//! `export` lines and runs until Ctrl-C, SIGTERM or `aml-sandbox down`; every process it started
//! stops with it.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aml_tests::AzureSetup;
use aml_tests::fake_arm::state::managed_cluster;
use aml_tests::fake_arm::{FakeArm, Options as ArmOptions};
use aml_tests::fake_kube::{FakeKube, Options as KubeOptions};
use aml_tests::router as contract;
use aml_tests::sandbox::kubelet::ProcessKubelet;
use aml_tests::sandbox::materialiser::{Extension, TokenKeys};
use aml_tests::sandbox::{Runtime, Setup, arm_snapshot, balancer, test_cache};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A local sandbox: fake Kubernetes and Azure, real inference servers, our router
#[derive(Parser)]
#[command(name = "aml-sandbox", version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the sandbox and print its `export` lines; runs until Ctrl-C or `aml-sandbox down`
    Up {
        /// Directory for the kubeconfig, az configuration, logs and the pid file
        #[arg(long, value_name = "DIR", default_value = "target/sandbox-run")]
        dir: PathBuf,
        /// Port of the fake API server (another is picked, and said, if it is in use)
        #[arg(long, default_value_t = 16443)]
        kube_port: u16,
        /// Port of the scoring address (Service azureml-fe, http)
        #[arg(long, default_value_t = 18080)]
        http_port: u16,
        /// Port of the scoring address (Service azureml-fe, https)
        #[arg(long, default_value_t = 18443)]
        https_port: u16,
        /// Where the inference server's venv is made once and reused
        #[arg(long, value_name = "DIR")]
        venv_cache: Option<PathBuf>,
        /// The program azureml-fe pods run as `kubectl-aml-fe` [default: kubectl-aml-fe beside
        /// aml-sandbox]
        #[arg(long, value_name = "PATH")]
        router: Option<PathBuf>,
    },
    /// Stop a running sandbox and everything it started
    Down {
        /// The directory `up` used
        #[arg(long, value_name = "DIR", default_value = "target/sandbox-run")]
        dir: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Up {
            dir,
            kube_port,
            http_port,
            https_port,
            venv_cache,
            router,
        } => up(
            &dir,
            (kube_port, http_port, https_port),
            venv_cache.unwrap_or_else(test_cache),
            router.unwrap_or_else(|| sibling("kubectl-aml-fe")),
        ),
        Command::Down { dir } => down(&dir),
    }
}

/// `port` if it is free on 127.0.0.1, else 0 (the OS picks one) — said on stderr.
fn port_or_any(port: u16, what: &str) -> u16 {
    if port == 0 || std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
        return port;
    }
    eprintln!("port {port} for {what} is in use: using another");
    0
}

/// The plugin binary `name` next to this program (cargo builds them into the same directory).
fn sibling(name: &str) -> PathBuf {
    let here = std::env::current_exe().ok();
    let dir = here
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    dir.join(name)
}

fn up(dir: &Path, ports: (u16, u16, u16), cache: PathBuf, fe: PathBuf) -> anyhow::Result<()> {
    let (kube_port, http_port, https_port) = ports;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let pid_file = dir.join("pid");
    if let Ok(text) = std::fs::read_to_string(&pid_file)
        && let Ok(pid) = text.trim().parse::<i32>()
        && kill(Pid::from_raw(pid), None).is_ok()
    {
        bail!(
            "a sandbox (pid {pid}) already runs with {}: `aml-sandbox down --dir {}` first",
            dir.display(),
            dir.display()
        );
    }
    if !fe.is_file() {
        bail!(
            "{} is missing: build it first (`cargo build -p kubectl-aml-fe`) or name it with --router",
            fe.display()
        );
    }
    eprintln!(
        "preparing the inference server (once; later runs reuse {})…",
        cache.display()
    );
    let runtime = Runtime::prepare(&cache);
    eprintln!("{}", runtime.describe());

    let kube = FakeKube::start_with(KubeOptions {
        port: port_or_any(kube_port, "the API server"),
        ..KubeOptions::default()
    });
    kube.set_auto_ready(false);
    kube.seed([
        contract::namespace("models"),
        contract::namespace("azureml"),
    ]);
    let kubeconfig = dir.join("kubeconfig");
    kube.write_kubeconfig(&kubeconfig, Some("azureml"))?;
    let arm = FakeArm::start_with(ArmOptions {
        polls: 1,
        retry_after: Some(1),
        ..ArmOptions::default()
    });
    // Cluster aks1 (with the Azure ML extension) is this API server, so `attach k8s` looks inside.
    let mut cluster = managed_cluster("rg1", "aks1", "eastus", 3, "Standard_D3_v2");
    cluster["properties"]["fqdn"] = serde_json::json!("127.0.0.1");
    arm.put_cluster(cluster, true);
    let azure = AzureSetup::write(&dir, &arm)?;
    let setup = Setup {
        kubeconfig: kubeconfig.clone(),
        logs: dir.join("logs"),
        programs: vec![("kubectl-aml-fe".into(), fe.clone())],
    };
    let scoring = balance(&kubeconfig, http_port, https_port)?;
    let http = scoring
        .iter()
        .find(|(n, _)| n == "http")
        .map(|(_, a)| *a)
        .expect("http");
    arm.set_scoring_host(&http.to_string());
    let kubelet = ProcessKubelet::start(setup, runtime);
    // Online deployments on the Kubernetes compute appear in its namespace, as the extension makes
    // them; the router (fe install's, in azureml) trusts the tokens ARM signs.
    let token_keys = TokenKeys {
        namespace: "azureml".into(),
        jwks: arm.token_jwks(),
    };
    let extension = Extension::start(&kubeconfig, arm_snapshot(&arm), Some(token_keys));
    std::fs::write(&pid_file, std::process::id().to_string())?;

    let plugins = fe.parent().unwrap_or(Path::new(".")).display().to_string();
    println!("export KUBECONFIG={}", kubeconfig.display());
    println!("export AZURE_CONFIG_DIR={}", azure.config_dir.display());
    println!("export PATH={}:{plugins}:$PATH", azure.bin_dir.display());
    for (name, address) in &scoring {
        println!(
            "export AML_SANDBOX_{}=127.0.0.1:{}",
            name.to_uppercase(),
            address.port()
        );
    }
    eprintln!(
        "sandbox up: API server {}, Azure Resource Manager {} (workspace rg1/ws1, AKS cluster rg1/aks1 = this API server, namespaces azureml and models), scoring at http://{http} (Service azureml-fe); logs in {}; `aml-sandbox down --dir {}` or Ctrl-C stops it",
        kube.url(),
        arm.url(),
        dir.join("logs").display(),
        dir.display()
    );

    let signals = wait_for_signal();
    loop {
        if signals.try_recv().is_ok() {
            break;
        }
        for line in kubelet.take_reports() {
            eprintln!("{line}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("stopping the sandbox…");
    drop(extension);
    drop(kubelet);
    let _ = std::fs::remove_file(&pid_file);
    eprintln!("sandbox down");
    Ok(())
}

/// Starts the load balancer of Service `azureml-fe` (its own thread and runtime); answers its
/// addresses.
fn balance(kubeconfig: &Path, http: u16, https: u16) -> anyhow::Result<Vec<(String, SocketAddr)>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let kubeconfig = kubeconfig.to_path_buf();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let started = async {
                let config = kube::config::Kubeconfig::read_from(&kubeconfig)?;
                let config =
                    kube::Config::from_custom_kubeconfig(config, &Default::default()).await?;
                let client = kube::Client::try_from(config)?;
                let ports = [
                    ("http", port_or_any(http, "scoring (http)")),
                    ("https", port_or_any(https, "scoring (https)")),
                ];
                let balancer =
                    balancer::start(client, "azureml", "azuremlappname=azureml-fe", &ports).await?;
                anyhow::Ok(balancer.addresses)
            };
            let _ = tx.send(started.await);
            std::future::pending::<()>().await;
        });
    });
    rx.recv().context("the load balancer did not start")?
}

/// A channel that receives once SIGINT or SIGTERM arrives.
fn wait_for_signal() -> std::sync::mpsc::Receiver<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (mut int, mut term) = (
                signal(SignalKind::interrupt()).expect("SIGINT"),
                signal(SignalKind::terminate()).expect("SIGTERM"),
            );
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        });
        let _ = tx.send(());
    });
    rx
}

fn down(dir: &Path) -> anyhow::Result<()> {
    let pid_file = dir.join("pid");
    let Ok(text) = std::fs::read_to_string(&pid_file) else {
        eprintln!("no sandbox runs with {}", dir.display());
        return Ok(());
    };
    let pid = Pid::from_raw(text.trim().parse().context("a bad pid file")?);
    if kill(pid, Signal::SIGTERM).is_err() {
        let _ = std::fs::remove_file(&pid_file);
        eprintln!(
            "no sandbox runs with {} (a stale pid file, removed)",
            dir.display()
        );
        return Ok(());
    }
    // The sandbox removes its pid file once everything it started has stopped (waiting for the
    // process alone would wait on a zombie its parent has not reaped yet).
    let started = Instant::now();
    while pid_file.exists() && kill(pid, None).is_ok() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the sandbox (pid {pid}) did not stop within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("sandbox down");
    Ok(())
}
