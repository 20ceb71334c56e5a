//! Every environment variable kubectl-aml reads, read once into [`Env`].
//!
//! Code below the CLI boundary never calls `std::env`: tests pass an `Env` instead of mutating the
//! process environment (which is `unsafe` in edition 2024).

use std::ffi::OsString;
use std::path::PathBuf;

/// `KUBECONFIG`: one or more kubeconfig files separated by `:` (`;` on Windows), merged like kubectl.
pub const KUBECONFIG: &str = "KUBECONFIG";
/// `HOME`: where `~/.kube/config` is looked for.
pub const HOME: &str = "HOME";
/// `NO_COLOR`: any non-empty value turns colour off (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// `RUST_LOG`: overrides the log filter that `-v` sets.
pub const RUST_LOG: &str = "RUST_LOG";
/// `KUBERNETES_SERVICE_HOST`: set inside a pod; enables the in-cluster fallback.
pub const KUBERNETES_SERVICE_HOST: &str = "KUBERNETES_SERVICE_HOST";

/// The environment values kubectl-aml uses, captured once at start-up.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Value of `KUBECONFIG`, unsplit.
    pub kubeconfig: Option<OsString>,
    /// Value of `HOME`.
    pub home: Option<PathBuf>,
    /// Whether `NO_COLOR` is set to a non-empty value.
    pub no_color: bool,
    /// Value of `RUST_LOG`.
    pub rust_log: Option<String>,
    /// Whether `KUBERNETES_SERVICE_HOST` is set (running in a pod).
    pub in_cluster: bool,
}

impl Env {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        Self {
            kubeconfig: var(KUBECONFIG),
            home: var(HOME).map(PathBuf::from),
            no_color: var(NO_COLOR).is_some(),
            rust_log: var(RUST_LOG).and_then(|v| v.into_string().ok()),
            in_cluster: var(KUBERNETES_SERVICE_HOST).is_some(),
        }
    }
}
