//! Command line of `kubectl aml scale`.

use std::path::PathBuf;
use std::time::Duration;

use std::net::SocketAddr;

use aml_core::autoscale::sim;
use aml_core::cli::{EXIT_CODES_HELP, KubeArgs, OutputArgs, parse_duration};
use clap::{Parser, Subcommand};

/// Replica planning and the azureml-fe autoscaling policy, tried before production
#[derive(Debug, Parser)]
#[command(name = "kubectl-aml-scale", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: ScaleCommand,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ScaleCommand {
    /// Replicas for a load by the docs' formula, or the load some replicas sustain
    ///
    /// replicas = ceil(rps × request time / target utilisation / max concurrent requests);
    /// e.g. 20 rps × 10 s / 0.7 / 1 → 286.
    #[command(after_help = EXIT_CODES_HELP)]
    Plan(PlanArgs),
    /// Replay a load trace through the azureml-fe policy and HPA-like and KPA-like baselines
    ///
    /// The trace is CSV with the header `seconds,rps,request_seconds` (optional); each row holds until the
    /// next. Prints a replica chart and a summary per policy; -o json or -o csv give the timeline.
    #[command(after_help = EXIT_CODES_HELP)]
    Simulate(SimulateArgs),
    /// What the live autoscaler decided, per model Deployment, and which router leads it
    ///
    /// Asks the leading router (`kubectl aml fe serve`) through the API server's pod proxy, or
    /// --admin directly; when it cannot be reached, shows what the Deployments, the
    /// HorizontalPodAutoscalers and the scaling Events say. -n limits it to one namespace.
    #[command(after_help = EXIT_CODES_HELP)]
    Status(StatusArgs),
    /// Replay a load trace against a live scoring URL, open loop, and watch the replicas follow
    ///
    /// Requests start on schedule whether or not earlier ones finished (latency counts from the
    /// intended start, so a slow server cannot hide behind a slowed load). Prints per second the
    /// requests sent, answered OK, their status codes and latency percentiles, and with --watch the
    /// Deployment's replicas. Ctrl-C stops it and prints what was measured so far.
    #[command(after_help = EXIT_CODES_HELP)]
    Replay(Box<ReplayArgs>),
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// Namespace of the routers and their Lease
    #[arg(long, value_name = "NAMESPACE", default_value = "default")]
    pub fe_namespace: String,
    /// The Lease electing the autoscaler's leader
    #[arg(long, value_name = "NAME", default_value = "azureml-fe-autoscaler", value_parser = aml_core::k8s::names::object_name)]
    pub lease_name: String,
    /// The routers' admin port, reached through the pod proxy: a number, or the name of the
    /// pod's container port (`fe install` names it `admin`)
    #[arg(long, value_name = "PORT", default_value = "admin", value_parser = port_name_or_number)]
    pub admin_port: String,
    /// Ask this admin address (host:port) instead, e.g. after kubectl port-forward
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// The service's shape, shared by plan and simulate.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServiceArgs {
    /// Concurrent requests one replica serves (`replica_max_concurrent_requests`)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent: u32,
    /// Target utilisation in percent (`autoscale_target_utilization`)
    #[arg(long, value_name = "PERCENT", default_value_t = 70, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub target_utilization: u8,
}

impl ServiceArgs {
    pub(crate) fn target(&self) -> f64 {
        f64::from(self.target_utilization) / 100.0
    }
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("load").required(true).args(["rps", "replicas"]))]
pub(crate) struct PlanArgs {
    /// Requests per second to serve
    #[arg(long, value_name = "RPS")]
    pub rps: Option<f64>,
    /// Or: replicas, to get the requests per second they sustain at the target (at most 10000)
    #[arg(long, value_name = "N", value_parser = replicas_u64)]
    pub replicas: Option<u64>,
    /// Time one request takes (e.g. 10s, 250ms)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub request_time: Duration,
    #[command(flatten)]
    pub service: ServiceArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SimulateArgs {
    /// The load trace (CSV: seconds,rps,request_seconds)
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// Also draw load and each policy's replicas into this SVG file
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// The simulated cluster and the policy's bounds, shared by simulate and replay's chart.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ModelArgs {
    /// Fewest replicas (`autoscale_min_replicas`)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = replicas_u32)]
    pub min_replicas: u32,
    /// Most replicas (`autoscale_max_replicas`; at most 10000)
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = replicas_u32)]
    pub max_replicas: u32,
    /// Replicas at the start [default: --min-replicas]
    #[arg(long, value_name = "N", value_parser = replicas_u32)]
    pub initial_replicas: Option<u32>,
    /// Time from scheduling a replica to it serving
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub startup: Duration,
    /// Most replicas the cluster can run; more stay unschedulable [default: no limit]
    #[arg(long, value_name = "N", value_parser = replicas_u32)]
    pub capacity: Option<u32>,
    /// How long lower demand must last before the azureml-fe policy scales down
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub scale_down_window: Duration,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// The load trace (CSV: seconds,rps,request_seconds; request_seconds is the model's business here)
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// The scoring URL, e.g. http://20.61.10.24/api/v1/service/sentiment/score
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The service's key (sent as `Authorization: Bearer`, never printed)
    #[arg(
        long,
        value_name = "KEY",
        env = "AML_SCORING_KEY",
        hide_env_values = true,
        conflicts_with = "token"
    )]
    pub key: Option<String>,
    /// Or a token (sent the same way, never printed)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "AML_SCORING_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The JSON body of every request
    #[arg(
        long,
        value_name = "JSON",
        default_value = r#"{"data": [[0.1, 0.2, 0.3]]}"#
    )]
    pub body: String,
    /// A header for every request, `Name: value` (repeatable; e.g. azureml-model-deployment: blue)
    #[arg(short = 'H', long = "header", value_name = "HEADER", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Record this Deployment's replicas (in -n) every second
    #[arg(long, value_name = "DEPLOYMENT", value_parser = aml_core::k8s::names::object_name)]
    pub watch: Option<String>,
    /// Draw the load, the live replicas and simulate's prediction for the trace into this SVG file
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Stop after this many requests
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_requests: u64,
    /// Most requests in flight; past it a request is skipped (and counted), not queued
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_inflight: u64,
    /// Most time for one request
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// `Name: value`, as curl's -H.
fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("invalid header `{text}`: use `Name: value`"))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!("invalid header name `{name}`"));
    }
    if name.eq_ignore_ascii_case("authorization") {
        return Err("give the credential with --key or --token, which are never printed".into());
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// A replica count within [`sim::MAX_REPLICAS`].
fn replicas_u32(text: &str) -> Result<u32, String> {
    let n: u64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number of replicas"))?;
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= sim::MAX_REPLICAS)
        .ok_or_else(|| format!("{n} replicas is over the limit of {}", sim::MAX_REPLICAS))
}

fn replicas_u64(text: &str) -> Result<u64, String> {
    replicas_u32(text).map(u64::from)
}

/// A port as the pod proxy takes it: 1–65535, or a port name (lower-case letters, digits and `-`,
/// at most 15 characters, with a letter).
fn port_name_or_number(text: &str) -> Result<String, String> {
    if let Ok(n) = text.parse::<u32>() {
        return if (1..=65535).contains(&n) {
            Ok(text.to_string())
        } else {
            Err("a port number is 1 to 65535".into())
        };
    }
    let ok = !text.is_empty()
        && text.len() <= 15
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && text.chars().any(|c| c.is_ascii_lowercase())
        && !text.starts_with('-')
        && !text.ends_with('-');
    if ok {
        Ok(text.to_string())
    } else {
        Err("a port is a number or a container port name like `admin`".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_ports_are_numbers_or_container_port_names() {
        for good in ["9001", "1", "65535", "admin", "http-2"] {
            assert_eq!(port_name_or_number(good).as_deref(), Ok(good));
        }
        for bad in [
            "0",
            "65536",
            "",
            "Admin",
            "-admin",
            "admin-",
            "123-",
            "a_b",
            "abcdefghijklmnop",
        ] {
            assert!(port_name_or_number(bad).is_err(), "{bad}");
        }
    }

    fn parse(args: &[&str]) -> Result<ScaleCommand, String> {
        let argv = ["kubectl-aml-scale"]
            .into_iter()
            .chain(args.iter().copied());
        Cli::try_parse_from(argv)
            .map(|c| c.command)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn plan_takes_a_load_or_replicas_and_a_sane_target() {
        let ScaleCommand::Plan(p) =
            parse(&["plan", "--rps", "20", "--request-time", "10s"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (p.rps, p.request_time, p.service.target()),
            (Some(20.0), Duration::from_secs(10), 0.7)
        );
        assert!(
            parse(&["plan", "--request-time", "1s"])
                .unwrap_err()
                .contains("--rps"),
            "a load or replicas is required"
        );
        assert!(
            parse(&[
                "plan",
                "--rps",
                "1",
                "--replicas",
                "3",
                "--request-time",
                "1s"
            ])
            .is_err()
        );
        assert!(
            parse(&[
                "plan",
                "--rps",
                "1",
                "--request-time",
                "1s",
                "--target-utilization",
                "150"
            ])
            .unwrap_err()
            .contains("150")
        );
        assert!(
            parse(&[
                "plan",
                "--rps",
                "1",
                "--request-time",
                "1s",
                "--max-concurrent",
                "0"
            ])
            .is_err()
        );
    }

    #[test]
    fn simulate_defaults_follow_the_v1_defaults() {
        let ScaleCommand::Simulate(s) = parse(&["simulate", "--trace", "t.csv"]).unwrap() else {
            panic!()
        };
        assert_eq!(
            (
                s.model.min_replicas,
                s.model.max_replicas,
                s.service.target_utilization
            ),
            (1, 10, 70)
        );
        assert_eq!(
            (s.model.startup, s.model.scale_down_window),
            (Duration::from_secs(10), Duration::from_secs(60))
        );
    }
}
