//! `kubectl-aml`, run as `kubectl aml`: with no verb it lists the verbs; `kubectl aml VERB …` runs
//! the plugin `kubectl-aml-VERB` in its place (exec: same stdin, stdout, stderr and exit code);
//! `kubectl aml version` prints every plugin's version and the commit.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use aml_core::cli::{ExitCode, OutputFormat, Printer, report};

mod complete;
mod tree;

use tree::VERBS;

fn usage() -> String {
    let tree = tree::tree();
    let mut text = format!(
        "{}\n\nUsage: kubectl aml <VERB> [ARGS]...\n\nVerbs:\n",
        tree.get_about().map(|a| a.to_string()).unwrap_or_default()
    );
    for verb in VERBS.iter().copied().chain(["version", "completion"]) {
        text.push_str(&format!("  {verb:<11} {}\n", tree::about(&tree, verb)));
    }
    text.push_str("\n`kubectl aml <VERB> --help` shows a verb's commands and flags.\n");
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
    for verb in VERBS {
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
        out.document(&all, String::new)?;
        out.finish()?;
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
        Some("completion") => completion(args.get(1), out),
        // `make man`: a page for kubectl-aml and for every verb and command.
        Some("__man") => {
            let dir = args
                .get(1)
                .map_or_else(|| "man".into(), std::path::PathBuf::from);
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(tree::unbuilt(), &dir)?;
            Ok(())
        }
        Some(verb) if VERBS.contains(&verb) => Err(run(verb, &args[1..])),
        Some(other) => Err(aml_core::Error::usage(
            format!("unknown verb `{other}`"),
            format!(
                "the verbs are {}, version and completion: `kubectl aml --help`",
                VERBS.join(", ")
            ),
        )
        .into()),
    }
}

/// `completion SHELL`: the script for the shell, on stdout.
fn completion(shell: Option<&OsString>, out: &mut Printer) -> Result<(), anyhow::Error> {
    let name = shell
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let shell: clap_complete::Shell = name.parse().map_err(|_| {
        aml_core::Error::usage(
            format!("no completion for shell `{name}`"),
            "give one of bash, zsh, fish, powershell: `kubectl aml completion bash`",
        )
    })?;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut tree::unbuilt(), "kubectl-aml", &mut script);
    let mut script = String::from_utf8_lossy(&script).into_owned();
    if shell == clap_complete::Shell::Bash {
        // clap_complete 4.6 names the case arms of a hyphenated program's subcommands
        // `kubectl__subcmd__aml__…` but looks them up as `kubectl__aml__…`: make them agree.
        script = script.replace("kubectl__subcmd__aml", "kubectl__aml");
    }
    out.line(script.trim_end())?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    // Installed as `kubectl_complete-aml` too: kubectl's completion of `kubectl aml …`.
    let me = std::env::args_os().next().unwrap_or_default();
    let called = std::path::Path::new(&me).file_name().unwrap_or_default();
    // kubectl runs `kubectl_complete-aml-VERB` for `kubectl aml VERB …` (its plugin's name).
    let called = called.to_string_lossy();
    if let Some(rest) = called.strip_prefix("kubectl_complete-aml") {
        let verb = rest.strip_prefix('-').filter(|v| VERBS.contains(v));
        let words: Vec<String> = verb
            .map(String::from)
            .into_iter()
            .chain(std::env::args().skip(1))
            .collect();
        let (found, directive) = complete::candidates(&tree::tree(), &words);
        let mut out = Printer::stdio(OutputFormat::Table, true);
        let _ = out.line(complete::answer(&found, directive).trim_end());
        return ExitCode::OK.into();
    }
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
