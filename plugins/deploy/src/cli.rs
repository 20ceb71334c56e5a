//! Command line of `kubectl aml deploy`: the v1 `deploy_configuration` knobs as flags (spelled
//! like the v1 CLI's), on top of the v2 online endpoint and deployment they drive.

use std::path::PathBuf;

use aml_core::arm::WriteMode;
use aml_core::cli::{AzureArgs, EXIT_CODES_HELP, KubeArgs, OutputArgs};
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::knobs::Knobs;

/// Models as online deployments on a Kubernetes compute, configured with the v1 knobs
#[derive(Debug, Parser)]
#[command(name = "kubectl-aml-deploy", version, after_help = EXIT_CODES_HELP)]
// A service's namespace is its compute's: -n has nothing to choose here.
#[command(mut_arg("namespace", |a| a.hide(true)))]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: DeployCommand,
    #[command(flatten)]
    pub(crate) azure: AzureArgs,
    #[command(flatten)]
    pub(crate) kube: KubeArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DeployCommand {
    /// Deploy a model: the online endpoint SERVICE (created if missing) and its deployment
    #[command(after_help = EXIT_CODES_HELP, allow_negative_numbers = true)]
    Create(Box<CreateArgs>),
    /// Change a deployment: only what differs is sent
    #[command(after_help = EXIT_CODES_HELP, allow_negative_numbers = true)]
    Update(Box<UpdateArgs>),
    /// Show a service: its endpoint and deployments
    #[command(after_help = EXIT_CODES_HELP)]
    Show(ServiceArg),
    /// List the services on Kubernetes computes
    #[command(after_help = EXIT_CODES_HELP)]
    List,
    /// Delete a deployment, and the endpoint when no other deployment is left
    #[command(after_help = EXIT_CODES_HELP)]
    Delete(DeleteArgs),
    /// The service's keys (masked unless --show-secrets)
    #[command(after_help = EXIT_CODES_HELP)]
    Keys(KeysArgs),
    /// Replace one of the service's keys
    #[command(name = "regen-key", after_help = EXIT_CODES_HELP)]
    RegenKey(RegenArgs),
    /// An access token for a service with token auth, with its expiry and refresh-after times
    #[command(after_help = EXIT_CODES_HELP)]
    Token(ServiceArg),
    /// A deployment's container logs
    #[command(after_help = EXIT_CODES_HELP)]
    Logs(LogsArgs),
}

/// `--auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Auth {
    /// Keys (v1 auth_enabled; the default)
    Key,
    /// Azure ML tokens that expire (v1 token_auth_enabled)
    Token,
    /// Microsoft Entra ID tokens
    AadToken,
    /// No authentication (v1 auth_enabled=False): not possible with online endpoints
    None,
}

/// The v1 knobs.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "v1 deployment settings")]
pub(crate) struct KnobArgs {
    /// CPU cores requested per replica [v1 default: 0.1]
    #[arg(long, value_name = "CORES")]
    cpu_cores: Option<f64>,
    /// Memory requested per replica, in GB [v1 default: 0.5]
    #[arg(long, value_name = "GB")]
    memory_gb: Option<f64>,
    /// CPU cores limit per replica
    #[arg(long, value_name = "CORES")]
    cpu_cores_limit: Option<f64>,
    /// Memory limit per replica, in GB
    #[arg(long, value_name = "GB")]
    memory_gb_limit: Option<f64>,
    /// GPUs per replica [v1 default: 0]
    #[arg(long, value_name = "N")]
    gpu_cores: Option<i64>,
    /// Let azureml-fe scale replicas [v1 default: on unless --num-replicas]
    #[arg(long, overrides_with = "no_autoscale")]
    autoscale: bool,
    /// Fixed replica count (--num-replicas)
    #[arg(long, overrides_with = "autoscale")]
    no_autoscale: bool,
    /// Fewest replicas [v1 default: 1]
    #[arg(long, value_name = "N")]
    autoscale_min_replicas: Option<i64>,
    /// Most replicas [v1 default: 10]
    #[arg(long, value_name = "N")]
    autoscale_max_replicas: Option<i64>,
    /// Busy share of replicas to aim for, 1–100 % [v1 default: 70]
    #[arg(long, value_name = "PERCENT")]
    autoscale_target_utilization: Option<i64>,
    /// How often the autoscaler looks, in seconds [v1 default: 1]
    #[arg(long, value_name = "SECONDS")]
    autoscale_refresh_seconds: Option<i64>,
    /// Replicas, without autoscale
    #[arg(long, value_name = "N")]
    num_replicas: Option<i64>,
    /// Request timeout in ms [v1 default: 60000]
    #[arg(long, value_name = "MS")]
    scoring_timeout_ms: Option<i64>,
    /// Concurrent requests per replica [v1 default: 1]
    #[arg(long, value_name = "N")]
    replica_max_concurrent_requests: Option<i64>,
    /// Longest wait in the queue, in ms [v1 default: 500]
    #[arg(long, value_name = "MS")]
    max_request_wait_time: Option<i64>,
    /// Liveness probe period, seconds [v1 default: 10]
    #[arg(long, value_name = "SECONDS")]
    period_seconds: Option<i64>,
    /// Liveness probe initial delay, seconds [v1 default: 310]
    #[arg(long, value_name = "SECONDS")]
    initial_delay_seconds: Option<i64>,
    /// Liveness probe timeout, seconds [v1 default: 2]
    #[arg(long, value_name = "SECONDS")]
    timeout_seconds: Option<i64>,
    /// Liveness probe successes to be live [v1 default: 1]
    #[arg(long, value_name = "N")]
    success_threshold: Option<i64>,
    /// Liveness probe failures to restart [v1 default: 3]
    #[arg(long, value_name = "N")]
    failure_threshold: Option<i64>,
    /// Description of the deployment
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    /// Tags: KEY=VALUE, comma-separated
    #[arg(long, value_name = "KEY=VALUE", value_delimiter = ',', action = ArgAction::Append)]
    tags: Vec<String>,
    /// A v1 CLI deployment file (deploymentconfig.json, JSON or YAML); flags win over it
    #[arg(long, value_name = "FILE")]
    pub deploy_config_file: Option<PathBuf>,
}

impl KnobArgs {
    /// The knobs the flags give, or a usage error for a malformed tag.
    pub(crate) fn knobs(&self) -> Result<Knobs, aml_core::Error> {
        let tags = (!self.tags.is_empty())
            .then(|| {
                self.tags
                    .iter()
                    .map(|t| match t.split_once('=') {
                        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                        _ => Err(aml_core::Error::usage(
                            format!("--tags: `{t}` is not KEY=VALUE"),
                            "write tags like team=ml,env=prod",
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(Knobs {
            cpu_cores: self.cpu_cores,
            memory_gb: self.memory_gb,
            cpu_cores_limit: self.cpu_cores_limit,
            memory_gb_limit: self.memory_gb_limit,
            gpu_cores: self.gpu_cores,
            autoscale: match (self.autoscale, self.no_autoscale) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            min_replicas: self.autoscale_min_replicas,
            max_replicas: self.autoscale_max_replicas,
            target_utilization: self.autoscale_target_utilization,
            refresh_seconds: self.autoscale_refresh_seconds,
            num_replicas: self.num_replicas,
            scoring_timeout_ms: self.scoring_timeout_ms,
            max_concurrent_requests: self.replica_max_concurrent_requests,
            max_request_wait_ms: self.max_request_wait_time,
            period_seconds: self.period_seconds,
            initial_delay_seconds: self.initial_delay_seconds,
            timeout_seconds: self.timeout_seconds,
            success_threshold: self.success_threshold,
            failure_threshold: self.failure_threshold,
            description: self.description.clone(),
            tags,
            ..Knobs::default()
        })
    }
}

/// Flags of every verb that writes.
#[derive(Debug, Clone, Args)]
pub(crate) struct WriteArgs {
    /// Print the requests that would be sent and send none
    #[arg(long)]
    pub dry_run: bool,
}

impl WriteArgs {
    /// How a write is sent (deploy always waits: the next step needs the previous one done).
    pub(crate) fn mode(&self) -> WriteMode {
        WriteMode {
            dry_run: self.dry_run,
            no_wait: false,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The service: the online endpoint's name
    pub service: String,
    /// The deployment in it
    #[arg(long, value_name = "NAME", default_value = "blue")]
    pub deployment: String,
    /// The Kubernetes compute to run on [default: the file's computeTargetName]
    #[arg(long, value_name = "NAME")]
    pub compute: Option<String>,
    /// The registered model: ARM id or NAME:VERSION
    #[arg(long, value_name = "ID|NAME:VERSION")]
    pub model: String,
    /// The registered environment: ARM id or NAME:VERSION
    #[arg(long, value_name = "ID|NAME:VERSION")]
    pub environment: String,
    /// Registered scoring code: ARM id or NAME:VERSION (with --scoring-script)
    #[arg(long, value_name = "ID|NAME:VERSION", requires = "scoring_script")]
    pub code: Option<String>,
    /// The scoring script's path inside the code
    #[arg(long, value_name = "PATH", requires = "code")]
    pub scoring_script: Option<String>,
    /// How clients authenticate [default: key]
    #[arg(long, value_enum)]
    pub auth: Option<Auth>,
    /// Percent of the endpoint's traffic for this deployment [default: 100 for the first deployment, else 0]
    #[arg(long, value_name = "PERCENT")]
    pub traffic: Option<i64>,
    /// Delete a HorizontalPodAutoscaler that targets the service (it would fight azureml-fe)
    #[arg(long)]
    pub remove_hpa: bool,
    #[command(flatten)]
    pub knobs: KnobArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// The service
    pub service: String,
    /// The deployment [default: the only one, or the one taking the most traffic]
    #[arg(long, value_name = "NAME")]
    pub deployment: Option<String>,
    /// A new model: ARM id or NAME:VERSION
    #[arg(long, value_name = "ID|NAME:VERSION")]
    pub model: Option<String>,
    /// A new environment: ARM id or NAME:VERSION
    #[arg(long, value_name = "ID|NAME:VERSION")]
    pub environment: Option<String>,
    /// How clients authenticate
    #[arg(long, value_enum)]
    pub auth: Option<Auth>,
    /// Percent of the endpoint's traffic for this deployment (the others share the rest as before)
    #[arg(long, value_name = "PERCENT")]
    pub traffic: Option<i64>,
    /// Delete a HorizontalPodAutoscaler that targets the service
    #[arg(long)]
    pub remove_hpa: bool,
    #[command(flatten)]
    pub knobs: KnobArgs,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ServiceArg {
    /// The service
    pub service: String,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The service
    pub service: String,
    /// Only this deployment (it must take no traffic while others remain)
    #[arg(long, value_name = "NAME")]
    pub deployment: Option<String>,
    /// Delete without asking
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    /// The service
    pub service: String,
    /// Print the keys themselves
    #[arg(long)]
    pub show_secrets: bool,
}

/// `--key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyName {
    Primary,
    Secondary,
}

#[derive(Debug, Args)]
pub(crate) struct RegenArgs {
    /// The service
    pub service: String,
    /// Which key
    #[arg(long, value_enum)]
    pub key: KeyName,
    /// The new value [default: Azure makes one]
    #[arg(long, value_name = "VALUE")]
    pub value: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

/// `--container`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Container {
    #[default]
    InferenceServer,
    StorageInitializer,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The service
    pub service: String,
    /// The deployment [default: the only one, or the one taking the most traffic]
    #[arg(long, value_name = "NAME")]
    pub deployment: Option<String>,
    /// Last N lines [default: 5000, as v1]
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub tail: u32,
    /// Which container
    #[arg(long, value_enum, default_value_t)]
    pub container: Container,
}
