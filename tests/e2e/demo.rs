//! `make demo` itself, shortened (`scripts/demo.sh --short`): the whole loop on the sandbox must
//! end with every step's outcome checked — a score, replicas rising under load, no failed request
//! through a certificate rotation, the scale-down after the window, the cleanup.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn the_demo_runs_every_step_and_checks_it() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // The plugins as kubectl finds them (`kubectl-aml-<verb>` on PATH): this build's copies.
    let bin = tempfile::tempdir().unwrap();
    for (name, built) in [
        ("kubectl-aml-attach", env!("CARGO_BIN_EXE_aml-attach-dup")),
        ("kubectl-aml-certs", env!("CARGO_BIN_EXE_aml-certs-dup")),
        ("kubectl-aml-deploy", env!("CARGO_BIN_EXE_aml-deploy-dup")),
        ("kubectl-aml-fe", env!("CARGO_BIN_EXE_aml-fe-dup")),
        ("kubectl-aml-scale", env!("CARGO_BIN_EXE_aml-scale-dup")),
        ("aml-sandbox", env!("CARGO_BIN_EXE_aml-sandbox")),
    ] {
        std::os::unix::fs::symlink(built, bin.path().join(name)).unwrap();
    }
    let started = Instant::now();
    let out = Command::new("bash")
        .arg("scripts/demo.sh")
        .arg("--short")
        .current_dir(&root)
        .env("AML_DEMO_BIN", bin.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("bash");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "the demo failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("demo done"), "{stdout}");
    assert!(stdout.contains("failed requests: 0"), "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(180),
        "took {:?}",
        started.elapsed()
    );
}
