//! `kubectl aml attach`: Azure ML computes backed by a Kubernetes cluster — attach an AKS cluster
//! (legacy `AKS`) or any AKS/Arc cluster (v2 `Kubernetes`), create one, detach, list, show — with
//! every rule the docs describe checked before anything is sent.

mod aks;
mod body;
mod checks;
mod cli;
mod cluster;
mod detach;
mod finish;
mod journal;
mod k8s;
mod reattach;
mod reattach_plan;
mod resume;
mod show;
mod workspace;

use aml_core::Context;
use aml_core::cli::{Command, Formats, Printer, SharedArgs};

use cli::AttachCommand;
pub use cli::Cli;

impl Command for Cli {
    const FORMATS: Formats = Formats {
        wide: Some("list, show, aks, k8s, create"),
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
            AttachCommand::Aks(args) => aks::attach(ctx, args, out).await,
            AttachCommand::Create(args) => aks::create(ctx, args, out).await,
            AttachCommand::K8s(args) => {
                let namespace = self.kube.namespace.as_deref().unwrap_or("default");
                k8s::attach(ctx, args, namespace, out).await
            }
            AttachCommand::Detach(args) => detach::run(ctx, args, out).await,
            AttachCommand::List(args) => {
                show::list(ctx.azure().await?, args.show_secrets, out).await
            }
            AttachCommand::Show(args) => {
                show::show(ctx.azure().await?, &args.name, args.show_secrets, out).await
            }
            AttachCommand::Reattach(args) => reattach::run(ctx, args, out).await,
            AttachCommand::Versions(args) => {
                show::versions(ctx.azure().await?, args.location.as_deref(), out).await
            }
        }
    }
}
