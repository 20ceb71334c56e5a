//! `fake-kube`: the fake Kubernetes API server as a program, for pointing kubectl at by hand, for
//! `make demo` and for benchmarks.
//!
//! ```text
//! fake-kube --seed scripts/demo/azureml-fe.yaml --kubeconfig /tmp/kc
//! KUBECONFIG=/tmp/kc kubectl get deploy -A
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Duration;

use aml_tests::fake_kube::{FakeKube, Options};
use clap::Parser;

/// Serve a fake Kubernetes API server on 127.0.0.1 until interrupted
#[derive(Parser)]
#[command(name = "fake-kube", version)]
struct Args {
    /// Port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve HTTPS with a fresh test CA (written into the kubeconfig)
    #[arg(long)]
    tls: bool,
    /// Require this bearer token (kubectl only sends tokens over HTTPS)
    #[arg(long)]
    token: Option<String>,
    /// Kubernetes minor version to report; the kubectl dispatcher picks its client by it
    #[arg(long, default_value_t = 33)]
    minor: u32,
    /// Multi-document YAML file of objects to create at start
    #[arg(long, value_name = "FILE")]
    seed: Vec<PathBuf>,
    /// Write a kubeconfig pointing at the server here
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Namespace of the kubeconfig's context
    #[arg(long)]
    namespace: Option<String>,
    /// Latency added to every request, in milliseconds
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kube = FakeKube::start_with(Options {
        tls: args.tls,
        token: args.token.clone(),
        minor: args.minor,
        port: args.port,
        ..Options::default()
    });
    for file in &args.seed {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read seed `{}`: {e}", file.display()))?;
        kube.seed_yaml(&text);
    }
    kube.set_latency(Duration::from_millis(args.latency_ms));
    if let Some(path) = &args.kubeconfig {
        kube.write_kubeconfig(path, args.namespace.as_deref())?;
        eprintln!("kubeconfig written to {}", path.display());
    }
    println!("{}", kube.url());
    eprintln!(
        "serving a fake Kubernetes API at {} (Ctrl-C to stop)",
        kube.url()
    );
    loop {
        std::thread::park();
    }
}
