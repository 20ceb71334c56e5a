//! `kubectl aml deploy`: models as online deployments on a Kubernetes compute, configured with the
//! v1 `deploy_configuration` knobs (and v1 deployment files), checked with the v1 rules, sent as the
//! supported v2 API's online endpoint and deployment.

mod checks;
mod cli;
mod create;
mod delete;
mod earlier;
mod file;
mod guards;
mod knobs;
mod mapping;
mod secrets;
mod service;
mod settings;
mod show;
mod update;

use aml_core::Context;
use aml_core::cli::{Command, Formats, Printer, SharedArgs};

pub use cli::Cli;
use cli::DeployCommand;

impl Command for Cli {
    const FORMATS: Formats = Formats {
        wide: Some("show, list, create, update"),
        ..Formats::AZURE
    };

    fn shared(&self) -> SharedArgs<'_> {
        SharedArgs {
            kube: Some(&self.kube),
            azure: Some(&self.azure),
            output: &self.output,
        }
    }

    async fn run(self, ctx: &Context, out: &mut Printer) -> anyhow::Result<()> {
        match &self.command {
            DeployCommand::Create(args) => create::run(ctx, args, out).await,
            DeployCommand::Update(args) => update::run(ctx, args, out).await,
            DeployCommand::Show(args) => {
                show::print_one(&service::Service::load(ctx, &args.service).await?.1, out)
            }
            DeployCommand::List => show::list(ctx.azure().await?, out).await,
            DeployCommand::Delete(args) => delete::run(ctx, args, out).await,
            DeployCommand::Keys(args) => secrets::keys(ctx, args, out).await,
            DeployCommand::RegenKey(args) => secrets::regen(ctx, args, out).await,
            DeployCommand::Token(args) => secrets::token(ctx, args, out).await,
            DeployCommand::Logs(args) => secrets::logs(ctx, args, out).await,
        }
    }
}
