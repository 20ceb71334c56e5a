//! Kubernetes access: a client from kubectl's flags, object helpers, the azureml-fe resource set and
//! model-service discovery.

mod azureml_fe;
pub mod backup;
mod error;
pub mod install;
mod models;
pub mod names;
mod objects;
mod wait;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

pub use azureml_fe::{AZUREML_FE, FeObject, MODEL_SERVICE_LABEL};
pub use error::{Error, ServerStatus, Target};
pub use models::{ModelService, list_model_services};
pub use objects::{DeleteOptions, Deletion, Kind, Propagation, apply, delete, get_opt, replace};
pub use wait::{
    Progress, kube_time, restart_deployment, rollout_progress, wait_for, wait_for_rollout,
    wait_until_gone,
};

use crate::Env;
use crate::cli::KubeArgs;

/// Where the client's configuration comes from, resolved from flags and environment.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `--kubeconfig`: one file, which must exist.
    pub kubeconfig: Option<PathBuf>,
    /// `KUBECONFIG`: a path list, merged first-wins like kubectl; missing files are skipped.
    pub kubeconfig_env: Option<OsString>,
    /// `~/.kube/config`, used when neither of the above is set.
    pub default_kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
    /// `-n/--namespace`.
    pub namespace: Option<String>,
    /// `--request-timeout`; `None` means no limit.
    pub request_timeout: Option<Duration>,
    /// Fall back to the in-cluster configuration when no kubeconfig is found.
    pub in_cluster: bool,
}

impl ClientOptions {
    /// Whether any kubeconfig source exists (flag, an existing `KUBECONFIG` file, `~/.kube/config`,
    /// or the in-cluster configuration).
    pub fn has_source(&self) -> bool {
        !kubeconfig_files(self).0.is_empty() || self.in_cluster
    }

    /// Resolves kubectl's flags against the environment.
    pub fn from_args(args: &KubeArgs, env: &Env) -> Self {
        Self {
            kubeconfig: args.kubeconfig.clone(),
            kubeconfig_env: env.kubeconfig.clone(),
            default_kubeconfig: env.home.as_ref().map(|h| h.join(".kube").join("config")),
            context: args.context.clone(),
            namespace: args.namespace.clone(),
            request_timeout: Some(args.request_timeout).filter(|t| !t.is_zero()),
            in_cluster: env.in_cluster,
        }
    }
}

/// A connected client and the namespace commands act in.
#[derive(Clone)]
pub struct Kube {
    /// The kube-rs client.
    pub client: kube::Client,
    /// `-n`, else the context's namespace, else `default`.
    pub namespace: String,
    /// The API server URL, for messages.
    pub server: String,
}

/// The host of an API server URL (`https://h:443/` → `h`; IPv6 without brackets).
pub fn server_host(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or("").to_string(),
        None => host
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(host)
            .to_string(),
    }
}

/// Builds a client the way kubectl resolves its configuration.
pub async fn connect(options: &ClientOptions) -> Result<Kube, Error> {
    let mut config = load_config(options).await?;
    if let Some(ns) = &options.namespace {
        config.default_namespace = ns.clone();
    }
    if let Some(timeout) = options.request_timeout {
        config.read_timeout = Some(timeout);
        // Count from the request, not from when a pooled connection went idle.
        config.reset_reader_on_write = true;
        config.connect_timeout = config.connect_timeout.map(|t| t.min(timeout));
    }
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("kubectl-aml/", env!("CARGO_PKG_VERSION"))),
    ));
    let server = config.cluster_url.to_string();
    let namespace = config.default_namespace.clone();
    tracing::debug!(%server, %namespace, "connecting");
    let client = kube::Client::try_from(config).map_err(|source| Error::Client {
        server: server.clone(),
        source,
    })?;
    Ok(Kube {
        client,
        namespace,
        server,
    })
}

async fn load_config(options: &ClientOptions) -> Result<kube::Config, Error> {
    let (files, looked_at) = kubeconfig_files(options);
    if files.is_empty() {
        if options.in_cluster && options.kubeconfig.is_none() {
            let mut config = kube::Config::incluster().map_err(Error::InCluster)?;
            config.default_namespace = options
                .namespace
                .clone()
                .unwrap_or(config.default_namespace);
            return Ok(config);
        }
        return Err(Error::NoConfig { looked_at });
    }
    let from = files
        .iter()
        .map(|f| format!("`{}`", f.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let kubeconfig_error = |source| Error::Kubeconfig {
        from: from.clone(),
        source,
    };
    let mut merged = Kubeconfig::default();
    for file in &files {
        merged = merged
            .merge(Kubeconfig::read_from(file).map_err(kubeconfig_error)?)
            .map_err(kubeconfig_error)?;
    }
    let select = KubeConfigOptions {
        context: options.context.clone(),
        cluster: None,
        user: None,
    };
    kube::Config::from_custom_kubeconfig(merged, &select)
        .await
        .map_err(kubeconfig_error)
}

/// The kubeconfig files to merge, and a description of where we looked (for the error).
fn kubeconfig_files(options: &ClientOptions) -> (Vec<PathBuf>, String) {
    if let Some(flag) = &options.kubeconfig {
        // kubectl fails when --kubeconfig names a missing file; reading it reports that.
        return (vec![flag.clone()], format!("`{}`", flag.display()));
    }
    if let Some(list) = &options.kubeconfig_env {
        let listed: Vec<PathBuf> = std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !listed.is_empty() {
            let looked_at = format!("KUBECONFIG={}", list.to_string_lossy());
            return (
                listed.into_iter().filter(|p| p.is_file()).collect(),
                looked_at,
            );
        }
    }
    match &options.default_kubeconfig {
        Some(default) => {
            let looked_at = format!("`{}`", default.display());
            (
                std::iter::once(default.clone())
                    .filter(|p| p.is_file())
                    .collect(),
                looked_at,
            )
        }
        None => (vec![], "nowhere: HOME is not set".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_out_of_server_urls() {
        assert_eq!(
            server_host("https://aks1-dns-1a2b.hcp.eastus.azmk8s.io:443/"),
            "aks1-dns-1a2b.hcp.eastus.azmk8s.io"
        );
        assert_eq!(server_host("http://127.0.0.1:6443"), "127.0.0.1");
        assert_eq!(server_host("https://[::1]:6443/"), "::1");
    }

    fn write(dir: &std::path::Path, name: &str, server: &str, ns: Option<&str>) -> PathBuf {
        let ns = ns
            .map(|n| format!("\n    namespace: {n}"))
            .unwrap_or_default();
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {name}\nclusters:\n- name: {name}\n  cluster:\n    server: {server}\n\
             contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}{ns}\nusers:\n- name: {name}\n  user:\n    token: t\n"
        );
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn options(dir: &std::path::Path) -> ClientOptions {
        ClientOptions {
            default_kubeconfig: Some(dir.join("absent")),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn kubeconfig_list_merges_first_wins_and_skips_missing_files() {
        crate::init_crypto();
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", "http://127.0.0.1:1", Some("team-a"));
        let b = write(dir.path(), "b", "http://127.0.0.1:2", None);
        let list = std::env::join_paths([dir.path().join("missing"), a, b]).unwrap();
        let mut opts = ClientOptions {
            kubeconfig_env: Some(list),
            ..options(dir.path())
        };
        let kube = connect(&opts).await.unwrap();
        assert_eq!(
            (kube.server.as_str(), kube.namespace.as_str()),
            ("http://127.0.0.1:1/", "team-a")
        );

        opts.context = Some("b".into());
        let kube = connect(&opts).await.unwrap();
        assert_eq!(
            (kube.server.as_str(), kube.namespace.as_str()),
            ("http://127.0.0.1:2/", "default")
        );

        opts.namespace = Some("azureml".into());
        assert_eq!(connect(&opts).await.unwrap().namespace, "azureml");
    }

    #[tokio::test]
    async fn missing_config_and_unknown_context_are_usage_errors_with_hints() {
        crate::init_crypto();
        let dir = tempfile::tempdir().unwrap();
        let Err(e) = connect(&options(dir.path())).await else {
            panic!("connected without a kubeconfig")
        };
        assert!(matches!(e, Error::NoConfig { .. }), "{e:?}");
        assert_eq!(e.exit_code(), crate::cli::ExitCode::USAGE);
        assert!(e.hint().unwrap().contains("--kubeconfig"));

        let a = write(dir.path(), "a", "http://127.0.0.1:1", None);
        let opts = ClientOptions {
            kubeconfig: Some(a),
            context: Some("nope".into()),
            ..options(dir.path())
        };
        let Err(e) = connect(&opts).await else {
            panic!("unknown context accepted")
        };
        assert!(matches!(e, Error::Kubeconfig { .. }), "{e:?}");

        let opts = ClientOptions {
            kubeconfig: Some(dir.path().join("nope")),
            ..options(dir.path())
        };
        assert!(matches!(
            connect(&opts).await,
            Err(Error::Kubeconfig { .. })
        ));
    }
}
