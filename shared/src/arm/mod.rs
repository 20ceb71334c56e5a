//! Azure Resource Manager: settings as az users expect them, credentials, typed resource ids, one
//! HTTP core with retries, the long-running-operation poller, and errors with hints.

mod client;
mod credential;
mod deadline;
mod error;
mod hints;
mod id;
mod iso;
mod poller;
mod request;
mod settings;
mod submit;
pub mod workspace;

pub use client::{ArmClient, ArmOptions};
pub use credential::{CredentialKind, Tokens};
pub use deadline::Deadline;
pub use error::{ArmFailure, ArmFailureError, Error};
pub use id::{IdError, ResourceId};
pub use iso::parse_iso_ms;
pub use poller::{Pending, pending, provisioning, wait, wait_gone, wait_provisioned};
pub use request::{ArmRequest, ArmResponse};
pub use settings::{AzureFlags, AzureSettings, Cloud, config_dir, core_output, resolve};
pub use submit::{Sent, WriteMode, print_request, submit};
pub use workspace::Workspace;

use crate::Env;

/// api-version for Microsoft.MachineLearningServices (the stable spec held byte-exact).
pub const ML_API: &str = "2024-04-01";
/// api-version for Microsoft.ContainerService.
pub const AKS_API: &str = "2024-02-01";
/// api-version for Microsoft.KubernetesConfiguration (cluster extensions).
pub const EXTENSIONS_API: &str = "2023-05-01";
/// api-version for Microsoft.Kubernetes (Arc connected clusters).
pub const ARC_API: &str = "2024-01-01";

/// Settings plus a client: what a command needs to call Azure.
#[derive(Debug)]
pub struct Azure {
    /// The resolved settings.
    pub settings: AzureSettings,
    /// The client.
    pub client: ArmClient,
}

impl Azure {
    /// Resolves settings and sets up the credential; nothing is sent yet.
    pub fn connect(
        flags: &AzureFlags,
        credential: Option<CredentialKind>,
        env: &Env,
        options: ArmOptions,
    ) -> Result<Self, Error> {
        let settings = resolve(flags, env)?;
        let kind = CredentialKind::choose(credential, env);
        let tokens = Tokens::new(kind, env, &settings.cloud, settings.tenant.as_deref())?;
        let client = ArmClient::new(&settings.cloud.resource_manager, tokens, options)?;
        Ok(Self { settings, client })
    }

    /// The subscription, or a usage error saying how to give one.
    pub fn subscription(&self) -> Result<&str, Error> {
        self.settings.subscription.as_deref().ok_or(Error::Missing {
            what: "subscription",
            how: "pass --subscription, or pick one with `az account set -s <subscription>`",
        })
    }

    /// The resource group, or a usage error.
    pub fn resource_group(&self) -> Result<&str, Error> {
        self.settings.resource_group.as_deref().ok_or(Error::Missing {
            what: "resource group",
            how: "pass -g/--resource-group, or set a default with `az configure --defaults group=<group>`",
        })
    }

    /// The workspace's id, or a usage error naming what is missing.
    pub fn workspace(&self) -> Result<ResourceId, Error> {
        // In the id's order, so the first missing setting is the one reported.
        let (subscription, group) = (self.subscription()?, self.resource_group()?);
        let workspace = self.settings.workspace.as_deref().ok_or(Error::Missing {
            what: "workspace",
            how: "pass -w/--workspace-name, or set a default with `az configure --defaults workspace=<workspace>`",
        })?;
        Ok(ResourceId::new(
            subscription,
            group,
            "Microsoft.MachineLearningServices",
            &[("workspaces", workspace)],
        ))
    }

    /// The URL of a resource with an api-version and more query parameters.
    pub fn url(&self, id: &ResourceId, api_version: &str, query: &[(&str, &str)]) -> String {
        let mut all = vec![("api-version", api_version)];
        all.extend_from_slice(query);
        self.client.url(&id.to_string(), &all)
    }
}
