//! Command line of `kubectl aml certs`, and the checks on it that need no cluster (`plan`).

use std::path::PathBuf;
use std::time::Duration;

use aml_core::Error;
use aml_core::cli::{DryRun, EXIT_CODES_HELP, KubeArgs, OutputArgs, parse_duration};
use clap::{Parser, Subcommand};

/// The azureml-fe TLS certificate (secret `azuremlfessl`): export, inspect, verify and rotate it
#[derive(Debug, Parser)]
#[command(name = "kubectl-aml-certs", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: CertsCommand,
    #[command(flatten)]
    pub(crate) kube: KubeArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CertsCommand {
    /// Write the secret's certificate chain and key as cert.pem and key.pem (the key mode 0600)
    ///
    /// What the Azure docs do by hand before a detach: decode `cert.pem` and `key.pem` from the
    /// secret. Prints the `kubectl aml attach aks` flags that re-attach with the same TLS settings.
    #[command(after_help = EXIT_CODES_HELP)]
    Export(ExportArgs),
    /// Show subject, names, issuer, validity, key, fingerprint and chain of a certificate
    #[command(after_help = EXIT_CODES_HELP)]
    Inspect(InspectArgs),
    /// Check a pair: decodes, key matches, chain in order and signed, valid long enough, name
    ///
    /// Exit code 0 only if every check passes, else 1; one row per check.
    #[command(after_help = EXIT_CODES_HELP)]
    Verify(VerifyArgs),
    /// Replace the secret's pair with a new one, safely, and restart azureml-fe
    ///
    /// Verifies the new pair first (it must cover the current certificate's name unless --cname
    /// says otherwise), backs up the secret, replaces both keys in one update, then restarts the
    /// azureml-fe Deployment as `kubectl rollout restart` does.
    #[command(after_help = EXIT_CODES_HELP)]
    Rotate(RotateArgs),
}

/// The TLS secret to read.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SecretArg {
    /// The TLS secret: azureml-fe's (cert.pem/key.pem) or a kubernetes.io/tls one (tls.crt/tls.key)
    #[arg(long, value_name = "NAME", default_value = "azuremlfessl", value_parser = aml_core::k8s::names::object_name)]
    pub secret: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub secret: SecretArg,
    /// Directory to write cert.pem and key.pem into
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
    /// Replace cert.pem and key.pem if they exist
    #[arg(long)]
    pub force: bool,
}

/// Where the pair comes from: the cluster's secret, or files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Secret(String),
    Files { cert: PathBuf, key: Option<PathBuf> },
}

#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    pub secret: SecretArg,
    /// Inspect a certificate file instead of the secret
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Its private key, to check that it matches
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl InspectArgs {
    pub(crate) fn source(&self) -> Source {
        match &self.cert {
            Some(cert) => Source::Files {
                cert: cert.clone(),
                key: self.key.clone(),
            },
            None => Source::Secret(self.secret.secret.clone()),
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub secret: SecretArg,
    /// Verify files instead of the secret (needs --key)
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key file
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// What a certificate must satisfy.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PolicyArgs {
    /// The certificate must stay valid at least this many more days
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub min_days: u32,
    /// A host name the certificate must cover (wildcards as in RFC 6125)
    #[arg(long, value_name = "NAME")]
    pub cname: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RotateArgs {
    /// The new certificate chain (PEM, leaf first)
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// The new private key (PEM, not encrypted)
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    #[command(flatten)]
    pub secret: SecretArg,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The Deployment to restart afterwards
    #[arg(long, value_name = "NAME", default_value = "azureml-fe", value_parser = aml_core::k8s::names::object_name)]
    pub deployment: String,
    /// Directory for the backup of the current secret
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub backup_dir: PathBuf,
    /// Do not restart azureml-fe (Microsoft's keeps the old certificate until its pods restart;
    /// `kubectl aml fe serve` picks up the new one by itself)
    #[arg(long)]
    pub no_restart: bool,
    /// Wait until the restarted azureml-fe has rolled out
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (e.g. 5m)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Show what would change: `client` sends nothing, `server` asks the server with dryRun=All
    #[arg(long, value_enum, value_name = "MODE", default_value_t, num_args = 0..=1,
          default_missing_value = "client", require_equals = true)]
    pub dry_run: DryRun,
    /// Rotate without asking for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
}

impl RotateArgs {
    /// Checks flag combinations that clap cannot express.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.wait && self.no_restart {
            return Err(Error::usage(
                "--wait follows the restart's rollout, and --no-restart asks for none",
                "drop one of the two",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::usage(
                "--timeout must be greater than 0",
                "use a duration like 2m",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<CertsCommand, String> {
        let argv = ["kubectl-aml-certs"]
            .into_iter()
            .chain(args.iter().copied());
        Cli::try_parse_from(argv)
            .map(|c| c.command)
            .map_err(|e| e.kind().to_string())
    }

    #[test]
    fn sources_default_to_the_azureml_fe_secret() {
        let CertsCommand::Inspect(i) = parse(&["inspect"]).unwrap() else {
            panic!()
        };
        assert_eq!(i.source(), Source::Secret("azuremlfessl".into()));
        let CertsCommand::Inspect(i) = parse(&["inspect", "--cert", "c.pem"]).unwrap() else {
            panic!()
        };
        assert_eq!(
            i.source(),
            Source::Files {
                cert: "c.pem".into(),
                key: None
            }
        );
        assert!(
            parse(&["inspect", "--key", "k.pem"]).is_err(),
            "--key needs --cert"
        );
        assert!(
            parse(&["verify", "--cert", "c.pem"]).is_err(),
            "verify needs both files"
        );
    }

    #[test]
    fn rotate_needs_both_files_and_sane_flags() {
        assert!(parse(&["rotate", "--cert", "c.pem"]).is_err());
        let CertsCommand::Rotate(r) = parse(&["rotate", "--cert", "c", "--key", "k"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (r.deployment.as_str(), r.policy.min_days, r.timeout),
            ("azureml-fe", 30, Duration::from_secs(300))
        );
        assert!(r.check().is_ok());
        let CertsCommand::Rotate(r) = parse(&[
            "rotate",
            "--cert",
            "c",
            "--key",
            "k",
            "--wait",
            "--no-restart",
        ])
        .unwrap() else {
            panic!()
        };
        assert!(r.check().unwrap_err().to_string().contains("--no-restart"));
        let CertsCommand::Rotate(r) =
            parse(&["rotate", "--cert", "c", "--key", "k", "--dry-run"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.dry_run, DryRun::Client);
        assert!(parse(&["rotate", "--cert", "c", "--key", "k", "--min-days", "-1"]).is_err());
    }
}
