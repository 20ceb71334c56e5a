//! `kubectl aml fe`: the azureml-fe objects in a cluster — `status` shows them, `cleanup` deletes
//! them the way the Azure docs ask before a re-attach, without the ways scripts get it wrong,
//! `install` puts our router's eight in place, and `serve` runs the router itself
//! (`aml_core::router`).

mod cleanup;
mod cli;
mod install;
mod install_args;
mod serve;
mod status;

use aml_core::Context;
use aml_core::cli::{Command, Formats, Printer, SharedArgs};
use aml_core::k8s;

pub use cli::Cli;
use cli::FeCommand;

impl Command for Cli {
    const FORMATS: Formats = Formats {
        wide: Some("status, cleanup"),
        ..Formats::CLUSTER
    };

    fn shared(&self) -> SharedArgs<'_> {
        SharedArgs {
            kube: Some(&self.kube),
            azure: None,
            output: &self.output,
        }
    }

    async fn run(self, ctx: &Context, out: &mut Printer) -> anyhow::Result<()> {
        match self.command {
            FeCommand::Status => status::run(ctx.kube().await?, out).await,
            FeCommand::Cleanup(args) => {
                let plan = args.plan()?;
                cleanup::run(ctx.kube().await?, &plan, out).await
            }
            FeCommand::Install(args) => {
                let plan = args.plan()?;
                install::run(ctx.kube().await?, &plan, out).await
            }
            FeCommand::Serve(args) => {
                let options = args.plan(self.kube.namespace.clone(), self.kube.request_timeout)?;
                serve::run(ctx, options, out).await
            }
        }
    }

    fn worker_threads(&self) -> Option<usize> {
        match &self.command {
            FeCommand::Serve(args) => Some(args.workers()),
            _ => None,
        }
    }
}

/// The part of a Kubernetes error worth a table cell: the server's words, or the transport's.
pub(crate) fn object_error(e: &k8s::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text = c.to_string();
        cause = c.source();
    }
    text
}
