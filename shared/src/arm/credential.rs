//! Credentials in the order az users expect — a service principal or workload identity from the
//! environment, then a managed identity, then the account signed in to the Azure CLI — or the one
//! `--credential` forces. azure_identity 1.x has no default chain, so the choice lives here. Tokens
//! are cached until five minutes before they expire (the CLI credential starts `az` on every call).

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, Executor, ManagedIdentityCredential, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use tokio::sync::Mutex;

use super::{Cloud, Error};
use crate::Env;

/// The credentials kubectl-aml can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`.
    ServicePrincipal,
    /// `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_FEDERATED_TOKEN_FILE` (AKS workload identity).
    WorkloadIdentity,
    /// The machine's or pod's managed identity.
    ManagedIdentity,
    /// The account signed in with `az login`.
    AzureCli,
}

impl CredentialKind {
    /// Its name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::ServicePrincipal => "service principal",
            Self::WorkloadIdentity => "workload identity",
            Self::ManagedIdentity => "managed identity",
            Self::AzureCli => "Azure CLI",
        }
    }

    /// The forced one, or the first the environment offers, ending with the Azure CLI.
    pub fn choose(forced: Option<Self>, env: &Env) -> Self {
        let app = env.azure_client_id.is_some() && env.azure_tenant_id.is_some();
        match forced {
            Some(kind) => kind,
            None if app && env.azure_client_secret.is_some() => Self::ServicePrincipal,
            None if app && env.azure_federated_token_file.is_some() => Self::WorkloadIdentity,
            None if env.managed_identity => Self::ManagedIdentity,
            None => Self::AzureCli,
        }
    }
}

/// Runs `az` (through the shell, as azure_identity asks) with the `PATH` and `AZURE_CONFIG_DIR`
/// captured at start-up, so a test can put a stand-in `az` first without touching the process.
#[derive(Debug)]
struct ShellExecutor {
    path: Option<OsString>,
    config_dir: Option<PathBuf>,
}

#[async_trait::async_trait]
impl Executor for ShellExecutor {
    async fn run(&self, program: &OsStr, args: &[&OsStr]) -> std::io::Result<Output> {
        use std::process::Stdio;
        let mut command = tokio::process::Command::new(program);
        // Its own process group: the credential runs `az` through a shell, and when we give up
        // on it (--request-timeout) the whole group goes, not only the shell.
        command
            .args(args)
            .kill_on_drop(true)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = &self.path {
            command.env("PATH", path);
        }
        if let Some(dir) = &self.config_dir {
            command.env("AZURE_CONFIG_DIR", dir);
        }
        let child = command.spawn()?;
        let mut group = GroupGuard(child.id());
        let output = child.wait_with_output().await;
        group.0 = None;
        output
    }
}

/// Kills a process group when dropped unless disarmed (its leader was waited for).
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn cloud_options(cloud: &Cloud) -> azure_core::http::ClientOptions {
    let configuration = match cloud.name.as_str() {
        "AzureCloud" => return azure_core::http::ClientOptions::default(),
        "AzureUSGovernment" => azure_core::cloud::CloudConfiguration::AzureGovernment,
        "AzureChinaCloud" => azure_core::cloud::CloudConfiguration::AzureChina,
        _ => {
            let mut custom = azure_core::cloud::CustomConfiguration::default();
            custom.authority_host = cloud.authority.clone();
            azure_core::cloud::CloudConfiguration::Custom(custom)
        }
    };
    azure_core::http::ClientOptions {
        cloud: Some(Arc::new(configuration)),
        ..Default::default()
    }
}

/// Bearer tokens for Resource Manager, cached.
pub struct Tokens {
    kind: CredentialKind,
    credential: Arc<dyn TokenCredential>,
    scope: String,
    cached: Mutex<Option<(String, i64)>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("kind", &self.kind)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Sets up the chosen credential for the cloud's Resource Manager audience.
    pub fn new(
        kind: CredentialKind,
        env: &Env,
        cloud: &Cloud,
        tenant: Option<&str>,
    ) -> Result<Self, Error> {
        let failed = |e: azure_core::Error| Error::Credential {
            kind: kind.label(),
            reason: e.to_string(),
        };
        let missing = |what: &str| Error::Credential {
            kind: kind.label(),
            reason: format!("{what} is not set"),
        };
        let credential: Arc<dyn TokenCredential> = match kind {
            CredentialKind::ServicePrincipal => {
                let tenant = env
                    .azure_tenant_id
                    .as_deref()
                    .ok_or_else(|| missing("AZURE_TENANT_ID"))?;
                let client = env
                    .azure_client_id
                    .clone()
                    .ok_or_else(|| missing("AZURE_CLIENT_ID"))?;
                let secret = env
                    .azure_client_secret
                    .clone()
                    .ok_or_else(|| missing("AZURE_CLIENT_SECRET"))?;
                let options = ClientSecretCredentialOptions {
                    client_options: cloud_options(cloud),
                };
                ClientSecretCredential::new(tenant, client, Secret::new(secret.0), Some(options))
                    .map_err(failed)?
            }
            CredentialKind::WorkloadIdentity => {
                let credential_options = azure_identity::ClientAssertionCredentialOptions {
                    client_options: cloud_options(cloud),
                };
                let options = WorkloadIdentityCredentialOptions {
                    credential_options,
                    tenant_id: Some(
                        env.azure_tenant_id
                            .clone()
                            .ok_or_else(|| missing("AZURE_TENANT_ID"))?,
                    ),
                    client_id: Some(
                        env.azure_client_id
                            .clone()
                            .ok_or_else(|| missing("AZURE_CLIENT_ID"))?,
                    ),
                    token_file_path: Some(
                        env.azure_federated_token_file
                            .clone()
                            .ok_or_else(|| missing("AZURE_FEDERATED_TOKEN_FILE"))?,
                    ),
                };
                WorkloadIdentityCredential::new(Some(options)).map_err(failed)?
            }
            CredentialKind::ManagedIdentity => {
                ManagedIdentityCredential::new(None).map_err(failed)?
            }
            CredentialKind::AzureCli => {
                let executor = ShellExecutor {
                    path: env.path.clone(),
                    config_dir: env.azure_config_dir.clone(),
                };
                let options = AzureCliCredentialOptions {
                    tenant_id: tenant.map(str::to_string),
                    executor: Some(Arc::new(executor)),
                    ..Default::default()
                };
                AzureCliCredential::new(Some(options)).map_err(failed)?
            }
        };
        Ok(Self {
            kind,
            credential,
            scope: cloud.scope(),
            cached: Mutex::new(None),
        })
    }

    /// A credential-free source, for tests and dry runs: always this token.
    pub fn fixed(token: &str) -> Self {
        #[derive(Debug)]
        struct Fixed(String);
        #[async_trait::async_trait]
        impl TokenCredential for Fixed {
            async fn get_token(
                &self,
                _: &[&str],
                _: Option<azure_core::credentials::TokenRequestOptions<'_>>,
            ) -> azure_core::Result<azure_core::credentials::AccessToken> {
                let expires = azure_core::time::OffsetDateTime::now_utc()
                    + azure_core::time::Duration::hours(1);
                Ok(azure_core::credentials::AccessToken::new(
                    self.0.clone(),
                    expires,
                ))
            }
        }
        Self {
            kind: CredentialKind::AzureCli,
            credential: Arc::new(Fixed(token.into())),
            scope: "test/.default".into(),
            cached: Mutex::new(None),
        }
    }

    /// Which credential this is.
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// A bearer token, from the cache while it has more than five minutes left.
    pub async fn bearer(&self) -> Result<String, Error> {
        let mut cached = self.cached.lock().await;
        let now = jiff::Timestamp::now().as_second();
        if let Some((token, expires)) = cached.as_ref()
            && *expires - now > 300
        {
            return Ok(token.clone());
        }
        tracing::debug!(credential = self.kind.label(), scope = %self.scope, "getting a token");
        let token = self
            .credential
            .get_token(&[&self.scope], None)
            .await
            .map_err(|e| Error::Credential {
                kind: self.kind.label(),
                reason: first_line(&e.to_string()),
            })?;
        let value = token.token.secret().to_string();
        *cached = Some((value.clone(), token.expires_on.unix_timestamp()));
        Ok(value)
    }
}

/// The first line of a credential's error (az's stderr can run long).
fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no reason given")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::SecretString;

    #[test]
    fn the_chain_follows_az_users_order() {
        let app = Env {
            azure_client_id: Some("c".into()),
            azure_tenant_id: Some("t".into()),
            ..Env::default()
        };
        let sp = Env {
            azure_client_secret: Some(SecretString("s".into())),
            ..app.clone()
        };
        let wi = Env {
            azure_federated_token_file: Some("/var/run/token".into()),
            ..app.clone()
        };
        let mi = Env {
            managed_identity: true,
            ..Env::default()
        };
        assert_eq!(
            CredentialKind::choose(None, &sp),
            CredentialKind::ServicePrincipal
        );
        assert_eq!(
            CredentialKind::choose(None, &wi),
            CredentialKind::WorkloadIdentity
        );
        assert_eq!(
            CredentialKind::choose(None, &mi),
            CredentialKind::ManagedIdentity
        );
        assert_eq!(
            CredentialKind::choose(None, &app),
            CredentialKind::AzureCli,
            "a client id alone is not a credential"
        );
        assert_eq!(
            CredentialKind::choose(Some(CredentialKind::AzureCli), &sp),
            CredentialKind::AzureCli
        );
        assert_eq!(format!("{:?}", sp.azure_client_secret), "Some([redacted])");
    }

    #[tokio::test]
    async fn tokens_are_cached() {
        let tokens = Tokens::fixed("t0");
        assert_eq!(tokens.bearer().await.unwrap(), "t0");
        *tokens.cached.lock().await =
            Some(("cached".into(), jiff::Timestamp::now().as_second() + 3600));
        assert_eq!(tokens.bearer().await.unwrap(), "cached");
        *tokens.cached.lock().await =
            Some(("stale".into(), jiff::Timestamp::now().as_second() + 60));
        assert_eq!(
            tokens.bearer().await.unwrap(),
            "t0",
            "renewed within five minutes of expiry"
        );
    }
}
