//! The whole command tree — the umbrella's own verbs and each plugin's clap command under its
//! verb — for the verb list, shell completions and man pages.

use aml_core::cli::command;
use clap::{Arg, Command};

/// The plugins' verbs, in the order they are listed.
pub(crate) const VERBS: [&str; 5] = ["attach", "certs", "deploy", "fe", "scale"];

/// `kubectl aml` with every verb, built (global flags propagated to every subcommand).
pub(crate) fn tree() -> Command {
    let mut root = unbuilt();
    root.build();
    root
}

/// The tree before clap builds it (clap_complete and clap_mangen build it their own way).
pub(crate) fn unbuilt() -> Command {
    let plugins = [
        command::<kubectl_aml_attach::Cli>(),
        command::<kubectl_aml_certs::Cli>(),
        command::<kubectl_aml_deploy::Cli>(),
        command::<kubectl_aml_fe::Cli>(),
        command::<kubectl_aml_scale::Cli>(),
    ];
    let mut root = Command::new("kubectl-aml")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Azure Machine Learning inference on Kubernetes, the kubectl way");
    for (verb, plugin) in VERBS.into_iter().zip(plugins) {
        root = root.subcommand(plugin.name(verb));
    }
    let root = root
        .subcommand(
            Command::new("version")
                .about("Every plugin's version and the commit they were built from")
                .arg(
                    Arg::new("output")
                        .short('o')
                        .long("output")
                        .value_parser(["json", "table"]),
                ),
        )
        .subcommand(
            Command::new("completion")
                .about("A shell completion script for kubectl-aml (bash, zsh, fish, powershell)")
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_parser(clap::value_parser!(clap_complete::Shell)),
                ),
        );
    without_help_subcommands(root)
}

/// clap's `help` subcommands are left out of completions and man pages: `--help` is the kubectl way.
fn without_help_subcommands(command: Command) -> Command {
    command
        .disable_help_subcommand(true)
        .mut_subcommands(without_help_subcommands)
}

/// The one-line description of a verb.
pub(crate) fn about(tree: &Command, verb: &str) -> String {
    tree.find_subcommand(verb)
        .and_then(|c| c.get_about())
        .map(|a| a.to_string().replace('\n', " "))
        .unwrap_or_default()
}
