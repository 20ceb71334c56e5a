//! `kubectl aml scale`: replica planning by the docs' formula, azureml-fe's autoscaling policy
//! tried on load traces beside HPA-like and KPA-like baselines — before production — and the live
//! autoscaler's decisions (`status`).

mod baselines;
mod chart;
mod cli;
mod plan;
mod replay;
mod simulate;
mod status;

use aml_core::Context;
use aml_core::cli::{Command, Formats, Printer, SharedArgs};

pub use cli::Cli;
use cli::ScaleCommand;

impl Command for Cli {
    const FORMATS: Formats = Formats {
        wide: Some("status"),
        csv: Some("simulate, replay"),
        ..Formats::CLUSTER
    };

    fn shared(&self) -> SharedArgs<'_> {
        // Only `status` looks at a cluster: the other verbs' help leaves the Kubernetes flags out.
        let kube = match &self.command {
            ScaleCommand::Status(args) => Some(&args.kube),
            ScaleCommand::Replay(args) => Some(&args.kube),
            _ => None,
        };
        SharedArgs {
            kube,
            azure: None,
            output: &self.output,
        }
    }

    async fn run(self, ctx: &Context, out: &mut Printer) -> anyhow::Result<()> {
        match self.command {
            ScaleCommand::Plan(args) => plan::run(&args, out),
            ScaleCommand::Simulate(args) => simulate::run(&args, out),
            ScaleCommand::Replay(args) => {
                // The cluster is read only for --watch: no kubeconfig needed otherwise.
                let kube = match &args.watch {
                    Some(_) => Some(ctx.kube().await?),
                    None => None,
                };
                replay::run(&args, kube, out).await
            }
            ScaleCommand::Status(args) => {
                let namespace = args.kube.namespace.clone();
                status::run(ctx.kube().await?, &args, namespace.as_deref(), out).await
            }
        }
    }
}
