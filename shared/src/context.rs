//! `Context`: the resolved settings of one invocation plus clients built on first use.

use tokio::sync::OnceCell;

use crate::arm::{ArmOptions, Azure, AzureFlags, CredentialKind, Deadline};
use crate::cli::{AzureArgs, CredentialArg, KubeArgs};
use crate::k8s::{self, Kube};
use crate::{Env, Result};

/// Settings resolved from flags and environment, and the clients built from them on demand, so a
/// command that never talks to a cluster (or to Azure) never needs a kubeconfig (or a login).
pub struct Context {
    kube_options: k8s::ClientOptions,
    kube: OnceCell<Kube>,
    azure_flags: AzureFlags,
    credential: Option<CredentialKind>,
    env: Env,
    azure: OnceCell<Azure>,
    deadline: Option<Deadline>,
}

impl Context {
    /// Resolves the settings; builds nothing yet.
    pub fn new(kube: Option<&KubeArgs>, azure: Option<&AzureArgs>, env: &Env) -> Self {
        let kube_options = k8s::ClientOptions::from_args(&kube.cloned().unwrap_or_default(), env);
        let azure = azure.cloned().unwrap_or_default();
        // --timeout counts from the start of the command (zero: a command without Azure flags).
        let deadline = (!azure.timeout.is_zero()).then(|| Deadline::after(azure.timeout));
        let azure_flags = AzureFlags {
            cloud: azure.cloud,
            subscription: azure.subscription,
            resource_group: azure.resource_group,
            workspace: azure.workspace,
        };
        let credential = azure.credential.map(|c| match c {
            CredentialArg::Cli => CredentialKind::AzureCli,
            CredentialArg::ManagedIdentity => CredentialKind::ManagedIdentity,
            CredentialArg::WorkloadIdentity => CredentialKind::WorkloadIdentity,
            CredentialArg::ServicePrincipal => CredentialKind::ServicePrincipal,
        });
        Self {
            kube_options,
            kube: OnceCell::new(),
            azure_flags,
            credential,
            env: env.clone(),
            azure: OnceCell::new(),
            deadline,
        }
    }

    /// The Kubernetes client, built on first use from the kubeconfig flags.
    pub async fn kube(&self) -> Result<&Kube> {
        Ok(self
            .kube
            .get_or_try_init(|| k8s::connect(&self.kube_options))
            .await?)
    }

    /// Where the Kubernetes client's configuration comes from (for a second client with other
    /// timeouts, such as one for long-running watches).
    pub fn kube_options(&self) -> &k8s::ClientOptions {
        &self.kube_options
    }

    /// Whether a kubeconfig is at hand (flag, `KUBECONFIG` or `~/.kube/config`), for checks that
    /// look inside the cluster only when they can.
    pub fn has_kubeconfig(&self) -> bool {
        self.kube_options.has_source()
    }

    /// The Kubernetes client when the kubeconfig's server is one of `hosts` (a cluster's FQDN or
    /// private FQDN), so checks inside a cluster look at the right one; otherwise why not, for a
    /// warning.
    pub async fn kube_for_cluster(
        &self,
        group: &str,
        name: &str,
        hosts: &[&str],
    ) -> std::result::Result<&Kube, String> {
        if !self.has_kubeconfig() {
            return Err(format!(
                "no kubeconfig; `az aks get-credentials -g {group} -n {name}` gives one"
            ));
        }
        let kube = self
            .kube()
            .await
            .map_err(|e| format!("the kubeconfig cannot be used ({e})"))?;
        let host = k8s::server_host(&kube.server);
        if hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            return Ok(kube);
        }
        let expected = hosts.first().copied().unwrap_or("its API server");
        Err(format!(
            "the kubeconfig context points at {host}, not at cluster `{name}` ({expected}); choose its context with --context"
        ))
    }

    /// The Azure settings and client, resolved on first use.
    pub async fn azure(&self) -> Result<&Azure> {
        self.azure
            .get_or_try_init(|| async {
                let mut options = ArmOptions::default();
                // --request-timeout bounds every request, to the API server and to ARM alike.
                if let Some(timeout) = self.kube_options.request_timeout {
                    options.request_timeout = timeout;
                }
                options.deadline = self.deadline;
                if let Some(interval) = self.env.poll_interval {
                    options.poll_interval = interval;
                }
                if let Some(backoff) = self.env.retry_backoff {
                    options.backoff = backoff;
                }
                Azure::connect(&self.azure_flags, self.credential, &self.env, options)
                    .map_err(|e| crate::Error::Arm(Box::new(e)))
            })
            .await
    }

    /// The whole command's limit (`--timeout`), on commands that call Azure.
    pub fn deadline(&self) -> Option<Deadline> {
        self.deadline
    }

    /// The environment snapshot this invocation started with.
    pub fn env(&self) -> &Env {
        &self.env
    }
}
