//! `fake-arm`: the fake Azure Resource Manager as a program, with an az configuration pointing at
//! it (custom cloud, defaults rg1/ws1, a stand-in `az`), for trying `kubectl aml attach` by hand.
//!
//! ```text
//! fake-arm --dir /tmp/arm        # prints the environment to export
//! AZURE_CONFIG_DIR=/tmp/arm/azure PATH=/tmp/arm/bin:$PATH kubectl aml attach list
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use aml_tests::AzureSetup;
use aml_tests::fake_arm::{FakeArm, Options};
use clap::Parser;

/// Serve a fake Azure Resource Manager on 127.0.0.1 until interrupted
#[derive(Parser)]
#[command(name = "fake-arm", version)]
struct Args {
    /// Directory for the az configuration (`azure/`) and the stand-in `az` (`bin/`)
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Polls an operation answers "in progress" before it ends
    #[arg(long, default_value_t = 2)]
    polls: u32,
    /// `Retry-After` seconds on operation answers (real ARM: 10 to 600)
    #[arg(long, default_value_t = 1)]
    retry_after: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let arm = FakeArm::start_with(Options {
        polls: args.polls,
        retry_after: Some(args.retry_after),
        ..Options::default()
    });
    arm.add_kubernetes_compute("k8s", "models");
    let setup = AzureSetup::write(&args.dir, &arm)?;
    println!("export AZURE_CONFIG_DIR={}", setup.config_dir.display());
    println!("export PATH={}:$PATH", setup.bin_dir.display());
    eprintln!(
        "serving a fake Azure Resource Manager at {}: workspace rg1/ws1 (eastus), AKS cluster rg1/aks1, Kubernetes compute k8s, model sentiment:1 and :2, environment sklearn-env:3 (Ctrl-C to stop)",
        arm.url()
    );
    loop {
        std::thread::park();
    }
}
