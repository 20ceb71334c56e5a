//! Flag groups shared by every plugin, flattened into each plugin's clap parser.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::cli::format::{FormatParser, Formats, OutputFormat};
use crate::cli::query::Query;

/// kubectl's connection flags, spelled as kubectl spells them.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Kubernetes options")]
pub struct KubeArgs {
    /// Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]
    #[arg(long, value_name = "PATH", global = true)]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use [default: the current context]
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,

    /// Namespace of the azureml-fe objects [default: the context's namespace]
    #[arg(short = 'n', long, value_name = "NAMESPACE", global = true, value_parser = crate::k8s::names::namespace)]
    pub namespace: Option<String>,

    /// Time limit for each request to the API server and to Azure Resource Manager (e.g. 5s, 1m);
    /// 0 means none for the API server and 100s for Resource Manager
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration, global = true)]
    pub request_timeout: Duration,
}

/// az's flags, spelled as az spells them; unset ones come from az's configuration.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Azure options")]
pub struct AzureArgs {
    /// Subscription name or id [default: az's default subscription]
    #[arg(long, value_name = "SUBSCRIPTION", global = true)]
    pub subscription: Option<String>,

    /// Resource group of the workspace [default: az's `defaults.group`]
    #[arg(short = 'g', long, value_name = "GROUP", global = true)]
    pub resource_group: Option<String>,

    /// Azure Machine Learning workspace [default: az's `defaults.workspace`]
    #[arg(
        short = 'w',
        long = "workspace-name",
        value_name = "WORKSPACE",
        global = true
    )]
    pub workspace: Option<String>,

    /// Azure cloud as az names it [default: az's active cloud]
    #[arg(long, value_name = "CLOUD", global = true)]
    pub cloud: Option<String>,

    /// Use this credential instead of the chain (environment, managed identity, Azure CLI)
    #[arg(long, value_enum, value_name = "KIND", global = true)]
    pub credential: Option<CredentialArg>,

    /// Time limit for the whole command, Azure's long-running operations included (e.g. 10m, 1h)
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = positive_duration, global = true)]
    pub timeout: Duration,
}

/// `--credential` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CredentialArg {
    /// The account signed in with `az login`
    Cli,
    /// The machine's or pod's managed identity
    ManagedIdentity,
    /// AKS workload identity (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE)
    WorkloadIdentity,
    /// A service principal (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET)
    ServicePrincipal,
}

/// Output flags: format, colour and verbosity.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Output options")]
pub struct OutputArgs {
    /// Output format: data goes to stdout, messages to stderr
    // Each plugin narrows the parser and the help to its own formats (`cli::command`). No clap
    // default: on Azure verbs an unset -o is az's configured one (`Printer::set_output`).
    #[arg(
        short = 'o',
        long,
        value_name = "FORMAT",
        value_parser = FormatParser(Formats::AZURE),
        global = true
    )]
    pub output: Option<OutputFormat>,

    /// JMESPath query applied to the output before it is printed, as az's --query
    #[arg(long, value_name = "JMESPATH", value_parser = Query::parse, global = true)]
    pub query: Option<Query>,

    /// Never colour messages (also: NO_COLOR=1)
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Log requests and decisions to stderr (never secret values); -vv for more
    #[arg(short = 'v', long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// kubectl's `--dry-run[=none|client|server]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// Act for real.
    #[default]
    None,
    /// Print what would be done and send nothing that changes state.
    Client,
    /// Send the changes with `dryRun=All`: the server checks them and persists nothing.
    Server,
}

impl DryRun {
    /// The flag value: `none`, `client`, `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Client => "client",
            Self::Server => "server",
        }
    }

    /// True for `client` and `server`.
    pub fn is_dry(self) -> bool {
        self != Self::None
    }
}

/// Parses a Go-style duration as kubectl does: `30s`, `2m`, `1m30s`, `500ms`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let error =
        || format!("invalid duration `{text}`: use a number with a unit, like 30s, 2m or 1m30s");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let parsed: jiff::SignedDuration = text.parse().map_err(|_| error())?;
    Duration::try_from(parsed).map_err(|_| error())
}

/// A duration flag that must be more than zero (`--timeout`).
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => {
            Err("it must be greater than 0: use a duration such as 30s or 10m".into())
        }
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_kubectl() {
        let ok = [
            ("0", 0),
            ("10", 10_000),
            ("30s", 30_000),
            ("2m", 120_000),
            ("1m30s", 90_000),
            ("500ms", 500),
            ("1h", 3_600_000),
        ];
        for (text, millis) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        }
        for bad in ["", "soon", "-5s", "5 parsecs"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
    }
}
