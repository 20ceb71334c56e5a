//! Azure settings as az users expect them: the active cloud and its endpoints (`config` `[cloud]
//! name`, custom clouds in `clouds.config`), the default subscription (`azureProfile.json`), and the
//! `[defaults]` group and workspace — each overridden by its flag, and the defaults by
//! `AZURE_DEFAULTS_GROUP`/`AZURE_DEFAULTS_WORKSPACE`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Error;
use crate::Env;

/// An Azure cloud's endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cloud {
    /// az's name: `AzureCloud`, `AzureUSGovernment`, `AzureChinaCloud`, or a registered custom cloud.
    pub name: String,
    /// The Resource Manager endpoint, without a trailing slash.
    pub resource_manager: String,
    /// The token audience for Resource Manager (az's `active_directory_resource_id`).
    pub audience: String,
    /// The Entra ID authority host.
    pub authority: String,
}

impl Cloud {
    /// The clouds az knows without registration.
    pub fn builtin(name: &str) -> Option<Self> {
        let (rm, audience, authority) = match name.to_ascii_lowercase().as_str() {
            "azurecloud" => (
                "https://management.azure.com",
                "https://management.core.windows.net/",
                "https://login.microsoftonline.com",
            ),
            "azureusgovernment" => (
                "https://management.usgovcloudapi.net",
                "https://management.core.usgovcloudapi.net/",
                "https://login.microsoftonline.us",
            ),
            "azurechinacloud" => (
                "https://management.chinacloudapi.cn",
                "https://management.core.chinacloudapi.cn/",
                "https://login.chinacloudapi.cn",
            ),
            _ => return None,
        };
        let name = match name.to_ascii_lowercase().as_str() {
            "azurecloud" => "AzureCloud",
            "azureusgovernment" => "AzureUSGovernment",
            _ => "AzureChinaCloud",
        };
        Some(Self {
            name: name.into(),
            resource_manager: rm.into(),
            audience: audience.into(),
            authority: authority.into(),
        })
    }

    /// The OAuth scope for Resource Manager, formed as az forms it: the audience and `/.default`
    /// (`https://management.core.windows.net//.default` for the public cloud's audience).
    pub fn scope(&self) -> String {
        format!("{}/.default", self.audience)
    }
}

/// The settings a command that calls Azure runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureSettings {
    /// The cloud.
    pub cloud: Cloud,
    /// The subscription id, when one is known.
    pub subscription: Option<String>,
    /// The tenant of that subscription, when known.
    pub tenant: Option<String>,
    /// The resource group, when one is known.
    pub resource_group: Option<String>,
    /// The workspace, when one is known.
    pub workspace: Option<String>,
}

/// What the flags say; `None` leaves it to az's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AzureFlags {
    /// `--cloud`.
    pub cloud: Option<String>,
    /// `--subscription`: a name or an id.
    pub subscription: Option<String>,
    /// `-g/--resource-group`.
    pub resource_group: Option<String>,
    /// `-w/--workspace-name`.
    pub workspace: Option<String>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    subscriptions: Vec<ProfileSubscription>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileSubscription {
    id: String,
    name: String,
    #[serde(default)]
    tenant_id: Option<String>,
    #[serde(default)]
    is_default: bool,
    #[serde(default)]
    environment_name: Option<String>,
}

/// az's configuration directory: `AZURE_CONFIG_DIR`, else `~/.azure`.
pub fn config_dir(env: &Env) -> Option<PathBuf> {
    env.azure_config_dir
        .clone()
        .or_else(|| env.home.as_ref().map(|h| h.join(".azure")))
}

fn ini(path: &Path) -> Result<Option<ini::Ini>, Error> {
    if !path.is_file() {
        return Ok(None);
    }
    ini::Ini::load_from_file(path)
        .map(Some)
        .map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

fn get(file: &Option<ini::Ini>, section: &str, key: &str) -> Option<String> {
    let file = file.as_ref()?;
    let section = file
        .sections()
        .flatten()
        .find(|s| s.eq_ignore_ascii_case(section))?;
    let properties = file.section(Some(section))?;
    properties
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// az's default output format: `AZURE_CORE_OUTPUT`, else `[core] output` in az's `config` (an
/// unreadable file is left to the command's own reading of it to report).
pub fn core_output(env: &Env) -> Option<String> {
    env.azure_core_output.clone().or_else(|| {
        let config = ini(&config_dir(env)?.join("config")).ok()?;
        get(&config, "core", "output")
    })
}

/// Resolves flags against az's configuration and the environment.
pub fn resolve(flags: &AzureFlags, env: &Env) -> Result<AzureSettings, Error> {
    let dir = config_dir(env);
    let config = match &dir {
        Some(d) => ini(&d.join("config"))?,
        None => None,
    };
    let clouds = match &dir {
        Some(d) => ini(&d.join("clouds.config"))?,
        None => None,
    };
    let cloud_name = flags
        .cloud
        .clone()
        .or_else(|| get(&config, "cloud", "name"))
        .unwrap_or_else(|| "AzureCloud".into());
    let cloud = match Cloud::builtin(&cloud_name) {
        Some(cloud) => cloud,
        None => {
            let endpoint =
                get(&clouds, &cloud_name, "endpoint_resource_manager").ok_or_else(|| {
                    Error::UnknownCloud {
                        name: cloud_name.clone(),
                    }
                })?;
            Cloud {
                name: cloud_name.clone(),
                resource_manager: endpoint.trim_end_matches('/').to_string(),
                audience: get(
                    &clouds,
                    &cloud_name,
                    "endpoint_active_directory_resource_id",
                )
                .unwrap_or_else(|| endpoint.clone()),
                authority: get(&clouds, &cloud_name, "endpoint_active_directory")
                    .unwrap_or_else(|| "https://login.microsoftonline.com".into()),
            }
        }
    };
    let profile: Vec<ProfileSubscription> = match &dir {
        Some(d) if d.join("azureProfile.json").is_file() => {
            let path = d.join("azureProfile.json");
            let text = std::fs::read_to_string(&path).map_err(|e| Error::Config {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            // az writes it with a UTF-8 byte-order mark.
            let parsed: Profile = serde_json::from_str(text.trim_start_matches('\u{feff}'))
                .map_err(|e| Error::Config {
                    path,
                    reason: e.to_string(),
                })?;
            parsed.subscriptions
        }
        _ => vec![],
    };
    let in_cloud = |s: &&ProfileSubscription| {
        s.environment_name
            .as_deref()
            .is_none_or(|e| e.eq_ignore_ascii_case(&cloud.name))
    };
    let (subscription, tenant) = match &flags.subscription {
        Some(given) => match profile
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(given) || s.name == *given)
        {
            Some(known) => (Some(known.id.clone()), known.tenant_id.clone()),
            None if looks_like_id(given) => (Some(given.clone()), None),
            None => {
                return Err(Error::UnknownSubscription {
                    name: given.clone(),
                });
            }
        },
        None => match profile
            .iter()
            .filter(in_cloud)
            .find(|s| s.is_default)
            .or_else(|| {
                get(&clouds, &cloud.name, "subscription")
                    .and_then(|id| profile.iter().find(|s| s.id == id))
            }) {
            Some(default) => (Some(default.id.clone()), default.tenant_id.clone()),
            None => (get(&clouds, &cloud.name, "subscription"), None),
        },
    };
    let default = |flag: &Option<String>, env_value: &Option<String>, key: &str| {
        flag.clone()
            .or_else(|| env_value.clone())
            .or_else(|| get(&config, "defaults", key))
    };
    Ok(AzureSettings {
        cloud,
        subscription,
        tenant,
        resource_group: default(&flags.resource_group, &env.azure_defaults_group, "group"),
        workspace: default(&flags.workspace, &env.azure_defaults_workspace, "workspace"),
    })
}

fn looks_like_id(text: &str) -> bool {
    text.len() == 36 && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(dir: &Path) -> Env {
        Env {
            azure_config_dir: Some(dir.to_path_buf()),
            ..Env::default()
        }
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    const PROFILE: &str = "\u{feff}{\"subscriptions\": [
        {\"id\": \"00000000-0000-0000-0000-000000000001\", \"name\": \"Dev\", \"tenantId\": \"t1\", \"isDefault\": false, \"environmentName\": \"AzureCloud\"},
        {\"id\": \"00000000-0000-0000-0000-000000000002\", \"name\": \"Prod\", \"tenantId\": \"t2\", \"isDefault\": true, \"environmentName\": \"AzureCloud\"}]}";

    #[test]
    fn defaults_come_from_az_configuration_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "config",
            "[defaults]\ngroup = rg-config\nWorkspace: ws-config\n",
        );
        write(dir.path(), "azureProfile.json", PROFILE);
        let s = resolve(&AzureFlags::default(), &env_with(dir.path())).unwrap();
        assert_eq!(s.cloud.resource_manager, "https://management.azure.com");
        assert_eq!(
            s.subscription.as_deref(),
            Some("00000000-0000-0000-0000-000000000002")
        );
        assert_eq!(
            (s.resource_group.as_deref(), s.workspace.as_deref()),
            (Some("rg-config"), Some("ws-config"))
        );
        let env = Env {
            azure_defaults_group: Some("rg-env".into()),
            ..env_with(dir.path())
        };
        let flags = AzureFlags {
            subscription: Some("Dev".into()),
            workspace: Some("ws-flag".into()),
            ..AzureFlags::default()
        };
        let s = resolve(&flags, &env).unwrap();
        assert_eq!(
            s.subscription.as_deref(),
            Some("00000000-0000-0000-0000-000000000001"),
            "a subscription by name"
        );
        assert_eq!(
            (s.resource_group.as_deref(), s.workspace.as_deref()),
            (Some("rg-env"), Some("ws-flag"))
        );
    }

    #[test]
    fn custom_clouds_come_from_clouds_config() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "config", "[cloud]\nname = Fake\n");
        write(
            dir.path(),
            "clouds.config",
            "[Fake]\nendpoint_resource_manager = http://127.0.0.1:9/\nendpoint_active_directory_resource_id = https://management.core.windows.net/\n",
        );
        let s = resolve(&AzureFlags::default(), &env_with(dir.path())).unwrap();
        assert_eq!(
            (s.cloud.name.as_str(), s.cloud.resource_manager.as_str()),
            ("Fake", "http://127.0.0.1:9")
        );
        assert_eq!(
            s.cloud.scope(),
            "https://management.core.windows.net//.default"
        );
        let unknown = resolve(
            &AzureFlags {
                cloud: Some("Nowhere".into()),
                ..AzureFlags::default()
            },
            &env_with(dir.path()),
        );
        assert!(matches!(unknown, Err(Error::UnknownCloud { .. })));
        let gov = resolve(
            &AzureFlags {
                cloud: Some("azureusgovernment".into()),
                ..AzureFlags::default()
            },
            &env_with(dir.path()),
        )
        .unwrap();
        assert_eq!(
            gov.cloud.resource_manager,
            "https://management.usgovcloudapi.net"
        );
    }

    #[test]
    fn an_unknown_subscription_name_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "azureProfile.json", PROFILE);
        let e = resolve(
            &AzureFlags {
                subscription: Some("Nope".into()),
                ..AzureFlags::default()
            },
            &env_with(dir.path()),
        )
        .unwrap_err();
        assert!(matches!(e, Error::UnknownSubscription { .. }));
    }
}
