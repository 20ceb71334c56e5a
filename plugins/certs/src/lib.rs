//! `kubectl aml certs`: the azureml-fe TLS certificate — export it for a re-attach, inspect and
//! verify it, and rotate it safely (for people and for cron).

mod cli;
mod export;
mod inspect;
mod owed;
mod rotate;
mod source;
mod summary;

use aml_core::Context;
use aml_core::cli::{Command, Formats, Printer, SharedArgs};

use cli::CertsCommand;
pub use cli::Cli;

impl Command for Cli {
    const FORMATS: Formats = Formats::CLUSTER;

    fn shared(&self) -> SharedArgs<'_> {
        SharedArgs {
            kube: Some(&self.kube),
            azure: None,
            output: &self.output,
        }
    }

    async fn run(self, ctx: &Context, out: &mut Printer) -> anyhow::Result<()> {
        match self.command {
            CertsCommand::Export(args) => export::run(ctx, &args, out).await,
            CertsCommand::Inspect(args) => inspect::inspect(ctx, &args.source(), out).await,
            CertsCommand::Verify(args) => {
                let source = match (args.cert, args.key) {
                    (Some(cert), key) => cli::Source::Files { cert, key },
                    (None, _) => cli::Source::Secret(args.secret.secret),
                };
                inspect::verify(ctx, &source, &args.policy, out).await
            }
            CertsCommand::Rotate(args) => {
                args.check()?;
                rotate::run(ctx, &args, out).await
            }
        }
    }
}
