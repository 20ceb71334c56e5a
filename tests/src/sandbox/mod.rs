//! The local sandbox's pieces (see README, "The sandbox"): the scoring runtime — the real Azure ML
//! inference server in a venv, or the built-in server — and model replicas as local processes.

pub mod balancer;
pub mod controller;
pub mod extension;
pub mod kubelet;
pub mod materialiser;
pub mod pods;
pub mod python;
pub mod replica;

pub use pods::Setup;
pub use python::{PACKAGE, Runtime};
pub use replica::{Replica, free_port};

/// Where tests keep the sandbox's venv: one per target directory, made by the first test that
/// needs it and reused by every later run.
pub fn test_cache() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/sandbox")
}

/// The fake ARM's online deployments as the sandbox's extension reads them.
pub fn arm_snapshot(arm: &crate::FakeArm) -> materialiser::Snapshot {
    let source = arm.online_source();
    Box::new(move || {
        source()
            .into_iter()
            .map(|(endpoint, deployment, keys, namespace)| {
                let online = extension::Online {
                    endpoint,
                    deployment,
                    keys,
                };
                (online, namespace)
            })
            .collect()
    })
}
