//! `Context`: the resolved settings of one invocation plus clients built on first use.

use tokio::sync::OnceCell;

use crate::cli::KubeArgs;
use crate::k8s::{self, Kube};
use crate::{Env, Result};

/// Settings resolved from flags and environment, and the clients built from them on demand, so a
/// command that never talks to a cluster never needs a kubeconfig.
pub struct Context {
    kube_options: k8s::ClientOptions,
    kube: OnceCell<Kube>,
}

impl Context {
    /// Resolves the settings; builds nothing yet.
    pub fn new(kube: Option<&KubeArgs>, env: &Env) -> Self {
        let kube_options = k8s::ClientOptions::from_args(&kube.cloned().unwrap_or_default(), env);
        Self {
            kube_options,
            kube: OnceCell::new(),
        }
    }

    /// The Kubernetes client, built on first use from the kubeconfig flags.
    pub async fn kube(&self) -> Result<&Kube> {
        Ok(self
            .kube
            .get_or_try_init(|| k8s::connect(&self.kube_options))
            .await?)
    }
}
