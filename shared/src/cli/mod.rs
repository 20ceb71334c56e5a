//! The boundary every plugin goes through: parse, run, print errors once, exit with a documented code.
//!
//! A plugin implements [`Command`] and its `main` is `aml_core::cli::main::<Cli>()`. Tests drive the
//! same path in-process with [`run_with`].
#![allow(clippy::print_stderr)]

pub mod args;
mod exit;
pub mod format;
pub mod jsonpath;
mod jsonpath_parse;
pub mod output;
pub mod query;
mod render;
mod table;

use std::ffi::OsString;
use std::future::Future;

pub use args::{
    AzureArgs, CredentialArg, DryRun, KubeArgs, OutputArgs, parse_duration, positive_duration,
};
pub use exit::{EXIT_CODES_HELP, ExitCode};
pub use format::{Formats, OutputFormat};
pub use output::{Printer, Report, plural};
pub use query::Query;
pub use render::render;
pub use table::{Table, human_age};

use crate::{Context, Env, k8s};

/// The flag groups a command shares with the others; `kube` is `None` for commands that never
/// touch a cluster (their help then leaves the Kubernetes flags out).
#[derive(Debug, Clone, Copy)]
pub struct SharedArgs<'a> {
    /// kubectl connection flags.
    pub kube: Option<&'a KubeArgs>,
    /// az flags, for commands that call Azure.
    pub azure: Option<&'a AzureArgs>,
    /// Output flags.
    pub output: &'a OutputArgs,
}

/// A plugin's command line: clap parser plus the async work.
pub trait Command: clap::Parser {
    /// The shared flag groups this command carries.
    fn shared(&self) -> SharedArgs<'_>;

    /// Does the work; errors are reported by the caller, never printed here.
    fn run(self, ctx: &Context, out: &mut Printer) -> impl Future<Output = anyhow::Result<()>>;

    /// The output formats this plugin's commands print.
    const FORMATS: Formats = Formats::CLUSTER;

    /// Worker threads for the async runtime: `None` (the default) runs on the main thread, which
    /// is all a command that waits on a few requests needs; a server asks for its cores.
    fn worker_threads(&self) -> Option<usize> {
        None
    }
}

/// Parses a plugin's command line, its usage lines naming it as typed: `kubectl aml fe` for
/// `kubectl-aml-fe`. The name is given here, not in the derive, so the umbrella can put every
/// plugin's command under its verb for completions (clap_complete cannot name the children of a
/// command that is already named, clap#4996).
pub fn parse<C, I, T>(argv: I) -> Result<C, clap::Error>
where
    C: Command,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = command::<C>();
    let typed = command
        .get_name()
        .replacen("kubectl-aml-", "kubectl aml ", 1);
    let matches = command.bin_name(&typed).try_get_matches_from(argv)?;
    // Wide and csv are each some commands' only, and --query has no `-o name` form: refused
    // before any work, not after it.
    let format = matches.get_one::<OutputFormat>("output");
    let refused = match (format, matches.subcommand_name()) {
        (Some(OutputFormat::Name), _) if matches.contains_id("query") => Some(
            "--query does not work with -o name\nhint: use -o tsv, json, yaml or table with --query"
                .to_string(),
        ),
        (Some(format), Some(sub)) => C::FORMATS
            .check(format, sub)
            .err()
            .map(|message| format!("{typed} {message}\nhint: use -o table, json or yaml")),
        _ => None,
    };
    if let Some(message) = refused {
        return Err(clap::Error::raw(
            clap::error::ErrorKind::InvalidValue,
            format!("{message}\n"),
        ));
    }
    <C as clap::FromArgMatches>::from_arg_matches(&matches)
}

/// A plugin's clap command with its own output formats: `-o` offers and accepts only those;
/// `--query` is hidden and refused on cluster verbs (kubectl's `-o jsonpath=` is theirs).
pub fn command<C: Command>() -> clap::Command {
    let formats = C::FORMATS;
    let command = <C as clap::CommandFactory>::command().mut_arg("output", |arg| {
        // The help line lists the formats (templates included); clap's list would repeat it.
        arg.value_parser(format::FormatParser(formats))
            .help(formats.help())
            .hide_possible_values(true)
    });
    if formats.azure {
        return command;
    }
    command.mut_arg("query", |arg| {
        arg.hide(true).value_parser(|_: &str| {
            Err::<Query, _>(
                "--query (JMESPath) is for the Azure verbs; here use -o jsonpath=TEMPLATE",
            )
        })
    })
}

/// The whole life of a plugin process: returns the exit code for `main` to return.
pub fn main<C: Command>() -> std::process::ExitCode {
    crate::init_crypto();
    let env = Env::from_process();
    let cli = match parse::<C, _, _>(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return std::process::ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let output = cli.shared().output.clone();
    let no_color = output.no_color || env.no_color;
    init_tracing(output.verbose, env.rust_log.as_deref(), no_color);
    let mut printer = Printer::stdio(output.output.clone().unwrap_or_default(), no_color);
    let mut builder = match cli.worker_threads() {
        Some(threads) if threads > 1 => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads);
            builder
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE.into();
        }
    };
    runtime.block_on(execute(cli, &env, &mut printer)).into()
}

/// Parses `argv` (program name first) and runs the command with this environment and printer.
///
/// This is `main` without the process: tests use it to run plugins in-process.
pub async fn run_with<C: Command, I, T>(argv: I, env: &Env, printer: &mut Printer) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match parse::<C, _, _>(argv) {
        Ok(cli) => execute(cli, env, printer).await,
        Err(e) => {
            let text = e.render().to_string();
            if e.exit_code() == 0 {
                let _ = printer.line(text.trim_end());
                ExitCode::OK
            } else {
                printer.info(text.trim_end());
                ExitCode::USAGE
            }
        }
    }
}

/// Runs a parsed command and reports its error, if any.
pub async fn execute<C: Command>(cli: C, env: &Env, printer: &mut Printer) -> ExitCode {
    printer.set_output(cli.shared().output, C::FORMATS, env);
    let shared = cli.shared();
    let ctx = Context::new(shared.kube, shared.azure, env);
    let deadline = ctx.deadline();
    let run = cli.run(&ctx, printer);
    let outcome = match deadline {
        None => run.await,
        // The backstop for what no request deadline covers: the Azure client stops at the
        // deadline itself (saying which request), so this fires a little later.
        Some(d) => tokio::time::timeout_at(d.at + BACKSTOP_GRACE, run)
            .await
            .unwrap_or_else(|_| Err(out_of_time(d.limit).into())),
    };
    // What was collected prints even when the command then failed: it says what was done.
    let printed = printer.finish();
    let code = match (outcome, printed) {
        (Ok(()), Ok(())) => ExitCode::OK,
        (Err(e), _) => report(&e, printer),
        (Ok(()), Err(e)) => report(&e.into(), printer),
    };
    let _ = printer.flush();
    code
}

/// How long after `--timeout` the backstop ends a command that something else held up.
const BACKSTOP_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

fn out_of_time(limit: std::time::Duration) -> crate::Error {
    crate::Error::FailedAs {
        message: format!(
            "the command did not finish within --timeout ({}s)",
            limit.as_secs_f64()
        ),
        hint: Some(
            "something it waited on did not answer: raise --timeout, or set --request-timeout to learn which request hung"
                .into(),
        ),
        code: ExitCode::TIMEOUT,
    }
}

/// Prints an error chain as `error:` / `caused by:` / `hint:` and chooses the exit code.
///
/// The first typed cause in the chain decides the code and the hint; a broken pipe (stdout closed
/// by `head`) is not an error.
pub fn report(err: &anyhow::Error, printer: &mut Printer) -> ExitCode {
    let chain: Vec<&(dyn std::error::Error + 'static)> = err.chain().collect();
    if chain.iter().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return ExitCode::OK;
    }
    let (mut code, mut hint) = (None, None);
    for cause in &chain {
        let (c, h) = classify(*cause);
        code = code.or(c);
        hint = hint.or(h);
    }
    let mut lines: Vec<String> = Vec::new();
    for cause in &chain {
        // kube's own errors repeat their source in their text ("HyperError: <source>"): show the source.
        if cause.downcast_ref::<kube::Error>().is_some() && cause.source().is_some() {
            continue;
        }
        // A server may quote a key or a token back in its error message.
        let text = crate::redact::text(&cause.to_string()).into_owned();
        if text.is_empty() || lines.last().is_some_and(|prev| prev.contains(&text)) {
            continue;
        }
        lines.push(text);
    }
    let (first, causes) = lines
        .split_first()
        .map(|(f, c)| (f.clone(), c.to_vec()))
        .unwrap_or_default();
    let hint = hint.map(|h| crate::redact::text(&h).into_owned());
    printer.error_report(&first, &causes, hint.as_deref());
    code.unwrap_or(ExitCode::FAILURE)
}

fn classify(cause: &(dyn std::error::Error + 'static)) -> (Option<ExitCode>, Option<String>) {
    if let Some(e) = cause.downcast_ref::<crate::Error>() {
        (Some(e.exit_code()), e.hint())
    } else if let Some(e) = cause.downcast_ref::<k8s::Error>() {
        (Some(e.exit_code()), e.hint())
    } else if let Some(e) = cause.downcast_ref::<crate::tls::Error>() {
        (Some(e.exit_code()), e.hint())
    } else if let Some(e) = cause.downcast_ref::<crate::arm::Error>() {
        (Some(e.exit_code()), e.hint())
    } else {
        (None, None)
    }
}

/// Logs go to stderr: `warn` by default, `-v` debug for our crates and kube, `-vv` trace; `RUST_LOG` wins.
///
/// Targets match by prefix, so `kubectl_aml` covers every plugin crate.
fn init_tracing(verbose: u8, rust_log: Option<&str>, no_color: bool) {
    let filter = match (rust_log, verbose) {
        (Some(filter), _) => filter.to_string(),
        // kube logs failed requests at ERROR; we report every error ourselves, so only with -v.
        // The router is a server: its start, certificate, drain and scaling lines are worth seeing.
        (None, 0) => "warn,aml_core::router=info,aml_core::autoscale=info,kube_client=off".into(),
        (None, 1) => {
            "warn,aml_core=debug,kubectl_aml=debug,kube_client=debug,azure_identity=debug".into()
        }
        (None, _) => "debug,aml_core=trace,kubectl_aml=trace,kube_client=trace".into(),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        // Debug logs carry request and answer bodies: secrets in them are redacted line by line.
        .with_writer(|| crate::redact::Redacting(std::io::stderr()))
        .with_ansi(!no_color && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use anyhow::Context as _;

    use super::*;

    fn reported(err: anyhow::Error) -> (ExitCode, String) {
        let (mut printer, _, stderr) = Printer::captured(OutputFormat::Table, "", false);
        let code = report(&err, &mut printer);
        (code, stderr.text())
    }

    #[test]
    fn the_first_typed_cause_chooses_code_and_hint() {
        let inner = crate::Error::usage("--timeout must be greater than 0", "use 30s");
        let (code, text) = reported(anyhow::Error::new(inner).context("cannot clean up"));
        assert_eq!(code, ExitCode::USAGE);
        assert_eq!(
            text,
            "error: cannot clean up\n  caused by: --timeout must be greater than 0\nhint: use 30s\n"
        );
    }

    #[test]
    fn untyped_errors_are_failures_without_a_hint() {
        let (code, text) = reported(anyhow::anyhow!("something broke"));
        assert_eq!(
            (code, text.as_str()),
            (ExitCode::FAILURE, "error: something broke\n")
        );
    }

    #[test]
    fn a_closed_stdout_is_not_an_error() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let (code, text) = reported(Err::<(), _>(pipe).context("writing the table").unwrap_err());
        assert_eq!((code, text.as_str()), (ExitCode::OK, ""));
    }
}
