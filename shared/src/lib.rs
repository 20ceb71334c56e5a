//! Core of kubectl-aml: the CLI conventions every plugin shares (flags, output, errors, exit codes),
//! Kubernetes access (client from kubeconfig, get-or-none, delete-and-wait), the Azure ML objects in
//! a cluster (the azureml-fe resource set, model-service discovery), their TLS material, and the
//! autoscaling policies azureml-fe describes.
#![warn(missing_docs)]

pub mod arm;
pub mod autoscale;
pub mod cli;
mod context;
pub mod env;
mod error;
pub mod files;
pub mod k8s;
#[cfg(test)]
mod proptests;
pub mod redact;
pub mod router;
pub mod tls;

pub use context::Context;
pub use env::Env;
pub use error::{Error, Result};

/// Installs ring as rustls's process-wide crypto provider; call first in every `main` and test helper.
///
/// Idempotent. One provider in the tree (see `make check-tls`) keeps kube and reqwest from panicking.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
