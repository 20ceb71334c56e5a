//! `kubectl aml scale`: replica planning by the docs' formula, and azureml-fe's autoscaling policy
//! tried on load traces beside HPA-like and KPA-like baselines — before production.

mod baselines;
mod chart;
mod cli;
mod plan;
mod simulate;

use aml_core::Context;
use aml_core::cli::{Command, Printer, SharedArgs};

pub use cli::Cli;
use cli::ScaleCommand;

impl Command for Cli {
    fn shared(&self) -> SharedArgs<'_> {
        // No cluster is involved: the Kubernetes flags stay out of the help.
        SharedArgs {
            kube: None,
            azure: None,
            output: &self.output,
        }
    }

    async fn run(self, _ctx: &Context, out: &mut Printer) -> anyhow::Result<()> {
        match self.command {
            ScaleCommand::Plan(args) => plan::run(&args, out),
            ScaleCommand::Simulate(args) => simulate::run(&args, out),
        }
    }
}
