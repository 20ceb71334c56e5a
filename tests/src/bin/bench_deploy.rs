//! `make bench`: `kubectl aml deploy create` against what the Azure docs offer now that the v1 SDK
//! is gone — the REST how-to's curl + jq script — on one fake ARM with a fixed latency per request.
//!
//! Contestants, each run `--runs` times on a new service name (median reported):
//! 1. `kubectl-aml-deploy create` (release build): settings, workspace, compute, model and
//!    environment looked up and checked; endpoint, deployment and traffic each waited for;
//! 2. the docs' REST way as a bash script (`how-to-deploy-with-rest`): a token from az, then curl
//!    PUTs with a poll loop on `Azure-AsyncOperation` (jq reads each answer), ids written in by hand.
//!    The docs sleep 5 s between polls; the script polls at once, as the fake says `Retry-After: 0`.
#![allow(clippy::print_stdout)]

use std::cell::Cell;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use aml_tests::bench::{measure, print_table};
use aml_tests::fake_arm::{Options, SUBSCRIPTION};
use aml_tests::{AzureSetup, FakeArm};
use clap::Parser;

/// Time `kubectl aml deploy create` against the docs' REST script doing the same deployment
#[derive(Parser)]
#[command(name = "bench-deploy")]
struct Args {
    /// Runs per contestant (the median is reported)
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Latency the fake ARM adds to every request, in milliseconds
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
}

/// The REST how-to's steps: endpoint, deployment, traffic, each PUT followed by a poll loop.
const REST_SCRIPT: &str = r#"set -euo pipefail
NAME=$1
WSID="/subscriptions/$SUB/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1"
WS="$ARM$WSID"
API="api-version=2024-04-01"
TOKEN=$(az account get-access-token | jq -r .accessToken)
wait_for_completion() {
  local operation=$1 status=unknown
  while [[ $status != Succeeded && $status != Failed ]]; do
    status=$(curl -sSf "$operation" -H "Authorization: Bearer $TOKEN" | jq -r .status)
  done
  [[ $status == Succeeded ]]
}
put() {
  curl -sSf -D - -o /dev/null -X PUT "$WS/onlineEndpoints/$1?$API" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d "$2" | tr -d '\r' | sed -n 's/^azure-asyncoperation: //Ip'
}
wait_for_completion "$(put "$NAME" '{"location": "eastus", "identity": {"type": "SystemAssigned"},
  "properties": {"authMode": "Key", "compute": "'"$WSID"'/computes/k8s"}}')"
wait_for_completion "$(put "$NAME/deployments/blue" '{"location": "eastus", "sku": {"name": "Default", "capacity": 1},
  "properties": {"endpointComputeType": "Kubernetes", "model": "'"$MODEL"'", "environmentId": "'"$ENV_ID"'"}}')"
wait_for_completion "$(put "$NAME" '{"location": "eastus", "identity": {"type": "SystemAssigned"},
  "properties": {"authMode": "Key", "compute": "'"$WSID"'/computes/k8s", "traffic": {"blue": 100}}}')"
curl -sSf "$WS/onlineEndpoints/$NAME?$API" -H "Authorization: Bearer $TOKEN" | jq -r .properties.scoringUri
"#;

fn plugin_path() -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    let path = me.with_file_name("kubectl-aml-deploy");
    assert!(
        path.exists(),
        "build the plugin first: cargo build --release -p kubectl-aml-deploy"
    );
    path
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let arm = FakeArm::start_with(Options {
        latency: Duration::from_millis(args.latency_ms),
        ..Options::default()
    });
    arm.add_kubernetes_compute("k8s", "models");
    let dir = tempfile::tempdir()?;
    let azure = AzureSetup::write(dir.path(), &arm)?;
    let plugin = plugin_path();
    let env = |c: &mut Command| {
        c.env("AZURE_CONFIG_DIR", &azure.config_dir)
            .env("PATH", azure.path())
            .env("HOME", dir.path());
    };
    let serial = Cell::new(0);
    let next_name = || {
        serial.set(serial.get() + 1);
        format!("svc-{}", serial.get())
    };
    let ours = || {
        let mut c = Command::new(&plugin);
        env(&mut c);
        c.args(["create", &next_name(), "--compute", "k8s"]).args([
            "--model",
            "sentiment:1",
            "--environment",
            "sklearn-env:3",
        ]);
        c
    };
    let rest = || {
        let mut c = Command::new("bash");
        env(&mut c);
        c.env("ARM", arm.url())
            .env("SUB", SUBSCRIPTION)
            .env("MODEL", FakeArm::asset_id("models", "sentiment", "1"))
            .env(
                "ENV_ID",
                FakeArm::asset_id("environments", "sklearn-env", "3"),
            )
            .args(["-c", REST_SCRIPT, "rest"])
            .arg(next_name());
        c
    };
    let requests = || arm.journal().len();
    let nothing = || {};
    let results = [
        measure(
            "kubectl aml deploy create",
            args.runs,
            &requests,
            &nothing,
            &ours,
        )?,
        measure(
            "docs: REST how-to (bash, curl, jq)",
            args.runs,
            &requests,
            &nothing,
            &rest,
        )?,
    ];
    let deployed = arm.endpoint(&format!("svc-{}", serial.get()), Some("blue"));
    anyhow::ensure!(
        deployed.is_some_and(|d| d["properties"]["provisioningState"] == "Succeeded"),
        "the REST script did not deploy"
    );
    println!(
        "deploy create: fake ARM on loopback, {} ms per request, {} runs each (median; peak = max)",
        args.latency_ms, args.runs
    );
    print_table(&results);
    Ok(())
}
