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

/// `AZURE_CONFIG_DIR`: where az keeps `config`, `clouds.config` and `azureProfile.json`.
pub const AZURE_CONFIG_DIR: &str = "AZURE_CONFIG_DIR";
/// `AZURE_DEFAULTS_GROUP`: az's default resource group (overrides `[defaults] group`).
pub const AZURE_DEFAULTS_GROUP: &str = "AZURE_DEFAULTS_GROUP";
/// `AZURE_DEFAULTS_WORKSPACE`: az ml's default workspace (overrides `[defaults] workspace`).
pub const AZURE_DEFAULTS_WORKSPACE: &str = "AZURE_DEFAULTS_WORKSPACE";
/// `AZURE_CORE_OUTPUT`: az's default output format (overrides `[core] output`).
pub const AZURE_CORE_OUTPUT: &str = "AZURE_CORE_OUTPUT";
/// `AZURE_CLIENT_ID`: a service principal's or workload identity's client id.
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// `AZURE_TENANT_ID`: its tenant.
pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
/// `AZURE_CLIENT_SECRET`: a service principal's secret (never logged).
pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// `AZURE_FEDERATED_TOKEN_FILE`: a workload identity's token file (set in AKS pods).
pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// `IDENTITY_ENDPOINT` / `MSI_ENDPOINT`: a managed identity is available.
pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
/// `AML_POLL_INTERVAL`: seconds between polls of an Azure operation when Azure gives no
/// `Retry-After` (default 5).
pub const AML_POLL_INTERVAL: &str = "AML_POLL_INTERVAL";
/// `AML_RETRY_BACKOFF`: seconds before the first retry of a 429/5xx answer without `Retry-After`,
/// doubling after each (default 1).
pub const AML_RETRY_BACKOFF: &str = "AML_RETRY_BACKOFF";
/// `PATH`: where `az` is looked for by the Azure CLI credential.
pub const PATH: &str = "PATH";

/// A value that must never be printed: `Debug` shows `[redacted]`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(pub String);

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

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
    /// Value of `AZURE_CONFIG_DIR`.
    pub azure_config_dir: Option<PathBuf>,
    /// Value of `AZURE_DEFAULTS_GROUP`.
    pub azure_defaults_group: Option<String>,
    /// Value of `AZURE_DEFAULTS_WORKSPACE`.
    pub azure_defaults_workspace: Option<String>,
    /// Value of `AZURE_CORE_OUTPUT`.
    pub azure_core_output: Option<String>,
    /// Value of `AZURE_CLIENT_ID`.
    pub azure_client_id: Option<String>,
    /// Value of `AZURE_TENANT_ID`.
    pub azure_tenant_id: Option<String>,
    /// Value of `AZURE_CLIENT_SECRET`.
    pub azure_client_secret: Option<SecretString>,
    /// Value of `AZURE_FEDERATED_TOKEN_FILE`.
    pub azure_federated_token_file: Option<PathBuf>,
    /// Whether a managed identity endpoint is advertised (`IDENTITY_ENDPOINT` or `MSI_ENDPOINT`).
    pub managed_identity: bool,
    /// Value of `PATH`, for the `az` the CLI credential runs.
    pub path: Option<OsString>,
    /// `AML_POLL_INTERVAL`, parsed (fractions allowed).
    pub poll_interval: Option<std::time::Duration>,
    /// `AML_RETRY_BACKOFF`, parsed (fractions allowed).
    pub retry_backoff: Option<std::time::Duration>,
}

/// A number of seconds (fractions allowed, at most a day); anything else is ignored.
fn seconds(value: Option<String>) -> Option<std::time::Duration> {
    value
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && (0.0..=86_400.0).contains(s))
        .map(std::time::Duration::from_secs_f64)
}

impl Env {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        let text = |name| var(name).and_then(|v| v.into_string().ok());
        Self {
            kubeconfig: var(KUBECONFIG),
            home: var(HOME).map(PathBuf::from),
            no_color: var(NO_COLOR).is_some(),
            rust_log: var(RUST_LOG).and_then(|v| v.into_string().ok()),
            in_cluster: var(KUBERNETES_SERVICE_HOST).is_some(),
            azure_config_dir: var(AZURE_CONFIG_DIR).map(PathBuf::from),
            azure_defaults_group: text(AZURE_DEFAULTS_GROUP),
            azure_defaults_workspace: text(AZURE_DEFAULTS_WORKSPACE),
            azure_core_output: text(AZURE_CORE_OUTPUT),
            azure_client_id: text(AZURE_CLIENT_ID),
            azure_tenant_id: text(AZURE_TENANT_ID),
            azure_client_secret: text(AZURE_CLIENT_SECRET).map(SecretString),
            azure_federated_token_file: var(AZURE_FEDERATED_TOKEN_FILE).map(PathBuf::from),
            managed_identity: var(IDENTITY_ENDPOINT).is_some() || var("MSI_ENDPOINT").is_some(),
            path: var(PATH),
            poll_interval: seconds(text(AML_POLL_INTERVAL)),
            retry_backoff: seconds(text(AML_RETRY_BACKOFF)),
        }
    }
}
