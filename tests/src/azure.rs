//! An az configuration for tests: a custom cloud whose Resource Manager is the fake ARM, a default
//! subscription, group and workspace, and a stand-in `az` that answers
//! `az account get-access-token` — so tests run the real Azure CLI credential path.

use std::path::{Path, PathBuf};

use crate::fake_arm::{FakeArm, SUBSCRIPTION, TENANT};

/// Where the test's az configuration and stand-in `az` live.
#[derive(Debug, Clone)]
pub struct AzureSetup {
    /// `AZURE_CONFIG_DIR`.
    pub config_dir: PathBuf,
    /// The directory holding the stand-in `az`, first on `PATH`.
    pub bin_dir: PathBuf,
}

/// The stand-in `az`: logs each call to `$AZURE_CONFIG_DIR/az-calls.log`; answers a token like
/// az 2.54+ (with `expires_on`); fails like a signed-out az when `$AZURE_CONFIG_DIR/signed-out`
/// exists, and never answers when `$AZURE_CONFIG_DIR/hang` does.
const AZ: &str = r#"#!/bin/sh
echo "$*" >> "$AZURE_CONFIG_DIR/az-calls.log"
case "$*" in
  *"account get-access-token"*) ;;
  *) echo "ERROR: this stand-in az only answers 'account get-access-token'" >&2; exit 2 ;;
esac
if [ -f "$AZURE_CONFIG_DIR/hang" ]; then
  echo $$ > "$AZURE_CONFIG_DIR/hang.pid"
  exec sleep 20
fi
if [ -f "$AZURE_CONFIG_DIR/signed-out" ]; then
  echo "ERROR: Please run 'az login' to setup account." >&2
  exit 1
fi
now=$(date +%s)
printf '{"accessToken": "%s", "expiresOn": "2099-01-01 00:00:00.000000", "expires_on": %s, "subscription": "%s", "tenant": "%s", "tokenType": "Bearer"}\n' \
  "@TOKEN@" "$((now + 3600))" "@SUBSCRIPTION@" "@TENANT@"
"#;

impl AzureSetup {
    /// Writes `config`, `clouds.config`, `azureProfile.json` and `az` under `dir` for `arm`.
    pub fn write(dir: &Path, arm: &FakeArm) -> std::io::Result<Self> {
        let config_dir = dir.join("azure");
        let bin_dir = dir.join("bin");
        std::fs::create_dir_all(&config_dir)?;
        std::fs::create_dir_all(&bin_dir)?;
        std::fs::write(
            config_dir.join("config"),
            "[cloud]\nname = FakeCloud\n\n[defaults]\ngroup = rg1\nworkspace = ws1\n",
        )?;
        let url = arm.url();
        std::fs::write(
            config_dir.join("clouds.config"),
            format!(
                "[FakeCloud]\nendpoint_resource_manager = {url}/\nendpoint_active_directory_resource_id = {url}/\nendpoint_active_directory = {url}/aad\nsubscription = {SUBSCRIPTION}\n"
            ),
        )?;
        // az writes its profile with a byte-order mark.
        let profile = serde_json::json!({"installationId": "fake", "subscriptions": [{
            "id": SUBSCRIPTION, "name": "Fake Subscription", "state": "Enabled", "tenantId": TENANT,
            "isDefault": true, "environmentName": "FakeCloud",
            "user": {"name": "user@example.com", "type": "user"}}]});
        std::fs::write(
            config_dir.join("azureProfile.json"),
            format!("\u{feff}{profile}"),
        )?;
        let script = AZ
            .replace("@TOKEN@", arm.token())
            .replace("@SUBSCRIPTION@", SUBSCRIPTION)
            .replace("@TENANT@", TENANT);
        let az = bin_dir.join("az");
        std::fs::write(&az, script)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(Self {
            config_dir,
            bin_dir,
        })
    }

    /// `PATH` with the stand-in first and the system's tools (`sh`, `date`) after it.
    pub fn path(&self) -> String {
        format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin_dir.display())
    }

    /// The arguments of every `az` call so far, one line each.
    pub fn az_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.config_dir.join("az-calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Makes the stand-in fail like a signed-out az.
    pub fn sign_out(&self) {
        std::fs::write(self.config_dir.join("signed-out"), "").expect("sign out");
    }
}
