//! `kubectl-aml`, run as `kubectl aml`: with no verb it lists the verbs; `kubectl aml VERB …` runs
//! the plugin `kubectl-aml-VERB` in its place (exec: same stdin, stdout, stderr and exit code);
//! `kubectl aml version` prints every plugin's version and the commit.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use aml_core::cli::{ExitCode, OutputFormat, Printer, report};

/// The verbs, each with the line its plugin's `--help` starts with.
const VERBS: &[(&str, &str)] = &[
    (
        "attach",
        "Azure ML computes backed by a Kubernetes cluster: attach, create, detach, list, show",
    ),
    (
        "certs",
        "The azureml-fe TLS certificate (secret `azuremlfessl`): export, inspect, verify and rotate it",
    ),
    (
        "deploy",
        "Models as online deployments on a Kubernetes compute, configured with the v1 knobs",
    ),
    (
        "fe",
        "The azureml-fe objects in a cluster: see them, clean them up safely before a re-attach, or run the router itself",
    ),
    (
        "scale",
        "Replica planning and the azureml-fe autoscaling policy, tried before production",
    ),
];

fn usage() -> String {
    let mut text = String::from(
        "Azure Machine Learning inference on Kubernetes, the kubectl way\n\nUsage: kubectl aml <VERB> [ARGS]...\n\nVerbs:\n",
    );
    for (verb, about) in VERBS {
        text.push_str(&format!("  {verb:<8} {about}\n"));
    }
    text.push_str("  version  Every plugin's version and the commit they were built from\n\n");
    text.push_str("`kubectl aml <VERB> --help` shows a verb's commands and flags.\n");
    text
}

/// Where the plugin for `verb` is: beside this program (a krew or `make install` layout, followed
/// through symbolic links), else on PATH.
fn plugin(verb: &str) -> Option<PathBuf> {
    let name = format!("kubectl-aml-{verb}");
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(&name));
    beside.into_iter().chain(on_path).find(|p| p.is_file())
}

fn missing(verb: &str) -> aml_core::Error {
    aml_core::Error::failed(
        format!("the plugin `kubectl-aml-{verb}` is not installed beside kubectl-aml nor on PATH"),
        "`make install` installs every plugin (or `kubectl krew install aml`)",
    )
}

/// Runs the plugin in this process's place; returns only when it could not be started.
fn run(verb: &str, args: &[OsString]) -> anyhow::Error {
    let Some(path) = plugin(verb) else {
        return missing(verb).into();
    };
    let error = std::process::Command::new(&path).args(args).exec();
    anyhow::Error::new(error).context(format!("cannot run `{}`", path.display()))
}

/// `version`: this program's version and commit, and each plugin's `--version`.
fn version(out: &mut Printer) -> Result<(), anyhow::Error> {
    let mut plugins = serde_json::Map::new();
    for (verb, _) in VERBS {
        let said = plugin(verb)
            .and_then(|p| std::process::Command::new(p).arg("--version").output().ok())
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.split_whitespace().nth(1).map(String::from));
        let said = said.map_or(serde_json::Value::Null, Into::into);
        plugins.insert(format!("kubectl-aml-{verb}"), said);
    }
    let version = env!("CARGO_PKG_VERSION");
    // Set by build.rs; the tests' copy of this program is built without it.
    let commit = option_env!("AML_COMMIT").unwrap_or("unknown");
    if out.format == OutputFormat::Json {
        let all = serde_json::json!({"version": version, "commit": commit, "plugins": plugins});
        out.json(&all)?;
        return Ok(());
    }
    out.line(&format!("kubectl-aml {version} (commit {commit})"))?;
    for (name, said) in &plugins {
        let said = said.as_str().unwrap_or("not installed");
        out.line(&format!("{name:<20} {said}"))?;
    }
    Ok(())
}

/// `-o json` (also `--output=json`, `-ojson`) after `version`.
fn wants_json(args: &[OsString]) -> bool {
    match args {
        [o, json, ..] if o == "-o" || o == "--output" => json == "json",
        [one, ..] => one == "--output=json" || one == "-ojson",
        [] => false,
    }
}

/// What the command line asks for; `Err` is reported by the one error printer.
fn dispatch(args: &[OsString], out: &mut Printer) -> Result<(), anyhow::Error> {
    let first = args.first().map(|a| a.to_string_lossy().into_owned());
    match first.as_deref() {
        None | Some("-h" | "--help" | "help") => {
            for line in usage().lines() {
                out.line(line)?;
            }
            Ok(())
        }
        Some("version" | "--version") => version(out),
        Some(verb) if VERBS.iter().any(|(v, _)| *v == verb) => Err(run(verb, &args[1..])),
        Some(other) => {
            let verbs: Vec<&str> = VERBS.iter().map(|(v, _)| *v).collect();
            Err(aml_core::Error::usage(
                format!("unknown verb `{other}`"),
                format!(
                    "the verbs are {} and version: `kubectl aml --help`",
                    verbs.join(", ")
                ),
            )
            .into())
        }
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let format = if wants_json(args.get(1..).unwrap_or_default()) {
        OutputFormat::Json
    } else {
        OutputFormat::Table
    };
    let mut out = Printer::stdio(format, no_color);
    match dispatch(&args, &mut out) {
        Ok(()) => ExitCode::OK.into(),
        Err(e) => report(&e, &mut out).into(),
    }
}
