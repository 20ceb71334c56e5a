//! Command line of `kubectl aml fe`, and the checks on it that need no cluster (`Cli::plan`).

use std::path::PathBuf;
use std::time::Duration;

use aml_core::cli::{DryRun, EXIT_CODES_HELP, KubeArgs, OutputArgs, parse_duration};
use aml_core::k8s::Propagation;
use clap::{Parser, Subcommand, ValueEnum};

/// The azureml-fe objects in a cluster: see them, clean them up safely before a re-attach, or run
/// the router itself
#[derive(Debug, Parser)]
#[command(name = "kubectl-aml-fe", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: FeCommand,
    #[command(flatten)]
    pub(crate) kube: KubeArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum FeCommand {
    /// Show each of the eight azureml-fe objects and the model services in the cluster
    #[command(after_help = EXIT_CODES_HELP)]
    Status,
    /// Delete the eight azureml-fe objects, as the docs ask before a re-attach, safely
    ///
    /// Refuses while a model service (a Deployment labelled isazuremlapp=true) runs replicas,
    /// unless --force. Saves the TLS secret `azuremlfessl` to a 0600 file first, unless
    /// --no-backup. Deletes all eight in parallel and waits until they are gone. Absent objects are
    /// reported, not errors, so running it again finishes an interrupted cleanup.
    #[command(after_help = EXIT_CODES_HELP)]
    Cleanup(CleanupArgs),
    /// Install our router as azureml-fe: the eight objects `cleanup` removes, applied server-side
    ///
    /// ServiceAccount, ClusterRole (exactly the verbs the router and its autoscaler use) and its
    /// binding, Service azureml-fe (LoadBalancer; internal with --load-balancer-type
    /// InternalLoadBalancer), Service azureml-fe-int-http (the admin port), Deployment azureml-fe
    /// (fast-prod: 3 pods spread over nodes; dev-test: 1), Secret azuremlfessl from --cert/--key
    /// (an existing one is kept otherwise), ConfigMap azuremlfeconfig (the router's settings).
    /// Applied with field manager kubectl-aml: running it again converges and keeps what the
    /// router's autoscaler changed. Refuses over an azureml-fe that kubectl-aml did not install
    /// unless --force. --dry-run=client -o yaml prints the manifests and sends nothing.
    #[command(after_help = EXIT_CODES_HELP)]
    Install(Box<crate::install_args::InstallArgs>),
    /// Run the router: an open, azureml-fe compatible inference router for the model services
    ///
    /// Finds model pods through the API server (Deployments labelled isazuremlapp=true, in every
    /// namespace or only -n), authenticates scoring requests with the services' keys or tokens,
    /// queues them per service with per-replica slots, and forwards them to ready pods. With
    /// --https it serves the certificate of the azuremlfessl Secret and picks up a rotated one
    /// without a restart. Health, readiness and metrics are on --admin. SIGTERM drains: readiness
    /// fails, requests in flight finish, and the process exits within --drain-timeout. The
    /// contract with model pods (labels, annotations, keys Secret, ports) is in the README.
    #[command(after_help = EXIT_CODES_HELP)]
    Serve(Box<crate::serve::ServeArgs>),
}

/// kubectl's `--cascade` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Cascade {
    /// Delete now; the garbage collector removes dependents (pods) afterwards
    #[default]
    Background,
    /// Remove dependents first
    Foreground,
    /// Leave dependents running
    Orphan,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CleanupArgs {
    /// Delete even while model services are active (they stop receiving traffic)
    #[arg(long)]
    force: bool,

    /// Directory for the backup of the TLS secret [default: the current directory]
    #[arg(long, value_name = "DIR", conflicts_with = "no_backup")]
    backup_dir: Option<PathBuf>,

    /// Do not save the TLS secret before deleting it (its certificate may then be lost)
    #[arg(long)]
    no_backup: bool,

    /// Wait until every object is gone: --wait=false returns once the deletes are accepted
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    wait: bool,

    /// How long to wait for each object, deletion included (e.g. 30s, 2m)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    timeout: Duration,

    /// Show what would be deleted: `client` sends nothing, `server` asks the server with dryRun=All
    #[arg(long, value_enum, value_name = "MODE", default_value_t, num_args = 0..=1,
          default_missing_value = "client", require_equals = true)]
    dry_run: DryRun,

    /// Delete without asking for confirmation
    #[arg(short = 'y', long)]
    yes: bool,

    /// How dependents (the azureml-fe pods) are deleted
    #[arg(long, value_enum, value_name = "MODE", default_value_t)]
    cascade: Cascade,
}

/// What `fe cleanup` will do, resolved from its flags without touching the cluster.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CleanupPlan {
    pub force: bool,
    /// Where to save the TLS secret; `None` with --no-backup.
    pub backup_dir: Option<PathBuf>,
    pub wait: bool,
    pub timeout: Duration,
    pub dry_run: DryRun,
    pub yes: bool,
    pub propagation: Propagation,
}

impl CleanupArgs {
    /// Checks flag combinations and fills defaults.
    pub(crate) fn plan(self) -> Result<CleanupPlan, aml_core::Error> {
        if self.timeout.is_zero() {
            return Err(aml_core::Error::usage(
                "--timeout must be greater than 0",
                "use a duration like 30s or 2m",
            ));
        }
        if self.dry_run.is_dry() && self.yes {
            tracing::debug!("--yes has no effect with --dry-run");
        }
        Ok(CleanupPlan {
            force: self.force,
            backup_dir: (!self.no_backup)
                .then(|| self.backup_dir.unwrap_or_else(|| PathBuf::from("."))),
            wait: self.wait,
            timeout: self.timeout,
            dry_run: self.dry_run,
            yes: self.yes,
            propagation: match self.cascade {
                Cascade::Background => Propagation::Background,
                Cascade::Foreground => Propagation::Foreground,
                Cascade::Orphan => Propagation::Orphan,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<CleanupPlan, String> {
        let argv = ["kubectl-aml-fe", "cleanup"]
            .into_iter()
            .chain(args.iter().copied());
        let cli = Cli::try_parse_from(argv).map_err(|e| e.kind().to_string())?;
        let FeCommand::Cleanup(args) = cli.command else {
            panic!("not cleanup")
        };
        args.plan().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_safe() {
        let p = plan(&[]).unwrap();
        assert_eq!(p.backup_dir, Some(PathBuf::from(".")));
        assert!(p.wait && !p.force && !p.yes);
        assert_eq!(p.dry_run, DryRun::None);
        assert_eq!(p.timeout, Duration::from_secs(60));
        assert_eq!(p.propagation, Propagation::Background);
    }

    #[test]
    fn flags_resolve_like_kubectl() {
        type Check = fn(&CleanupPlan) -> bool;
        let cases: &[(&[&str], Check)] = &[
            (&["--dry-run"], |p| p.dry_run == DryRun::Client),
            (&["--dry-run=server"], |p| p.dry_run == DryRun::Server),
            (&["--dry-run=none"], |p| p.dry_run == DryRun::None),
            (&["--wait=false"], |p| !p.wait),
            (&["--wait"], |p| p.wait),
            (&["--no-backup"], |p| p.backup_dir.is_none()),
            (&["--backup-dir", "/tmp/b"], |p| {
                p.backup_dir == Some(PathBuf::from("/tmp/b"))
            }),
            (&["--timeout", "1m30s"], |p| {
                p.timeout == Duration::from_secs(90)
            }),
            (&["-y", "--force", "--cascade", "foreground"], |p| {
                p.yes && p.force && p.propagation == Propagation::Foreground
            }),
        ];
        for (args, check) in cases {
            let p = plan(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(check(&p), "{args:?} gave {p:?}");
        }
    }

    #[test]
    fn bad_combinations_are_usage_errors() {
        assert!(
            plan(&["--no-backup", "--backup-dir", "x"])
                .unwrap_err()
                .contains("cannot be used with")
        );
        assert!(
            plan(&["--timeout", "0"])
                .unwrap_err()
                .contains("greater than 0")
        );
        assert!(plan(&["--timeout", "soon"]).is_err());
        assert!(plan(&["--dry-run=maybe"]).is_err());
        assert!(
            plan(&["--wait", "false"]).is_err(),
            "--wait takes its value with `=`, like kubectl"
        );
    }
}
