//! `kubectl_complete-aml`: kubectl (1.26+) completes `kubectl aml …` by running this program with
//! the words after `aml`, the last being the one completed, and reads Cobra's answer: candidates one
//! per line (`value\tdescription`), then `:DIRECTIVE`. Namespaces and contexts come from kubectl,
//! compute and service names from the plugin's own `list -o name`, each within a second; a slow
//! server gives none rather than a stuck shell.

use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use clap::{Arg, Command};

/// Cobra's directive: complete nothing else (no file names).
const NO_FILES: u8 = 4;
/// Cobra's default directive: the shell may complete file names.
const FILES: u8 = 0;
/// The most a dynamic look-up may take.
const LOOK_UP: Duration = Duration::from_millis(900);
/// Commands whose first argument names an existing compute (attach) or service (deploy).
const NAMED: [(&str, &[&str]); 2] = [
    ("attach", &["show", "detach", "reattach"]),
    (
        "deploy",
        &[
            "show",
            "update",
            "delete",
            "keys",
            "regen-key",
            "token",
            "logs",
        ],
    ),
];
/// The Azure flags a name look-up passes on (`-g`, `-w` and the rest, as typed).
const AZURE_FLAGS: [&str; 5] = [
    "resource-group",
    "workspace",
    "subscription",
    "cloud",
    "credential",
];

/// The answer for `words` (the last one is being completed): candidates and the directive.
pub(crate) fn candidates(tree: &Command, words: &[String]) -> (Vec<String>, u8) {
    let (done, partial) = match words.split_last() {
        Some((last, done)) => (done, last.as_str()),
        None => (&[][..], ""),
    };
    let mut current = tree;
    let mut path: Vec<&str> = Vec::new();
    let mut arguments = 0;
    let mut wants_value: Option<&Arg> = None;
    let mut kube_flags: Vec<String> = Vec::new();
    for word in done {
        if let Some(arg) = wants_value.take() {
            remember(arg, word, &mut kube_flags);
            continue;
        }
        if let Some(flag) = word.strip_prefix("--").filter(|f| !f.is_empty()) {
            let (name, inline) = flag
                .split_once('=')
                .map_or((flag, None), |(n, v)| (n, Some(v)));
            let arg = current.get_arguments().find(|a| a.get_long() == Some(name));
            match (arg, inline) {
                (Some(a), Some(value)) => remember(a, value, &mut kube_flags),
                (Some(a), None) if takes_value(a) => wants_value = Some(a),
                _ => {}
            }
        } else if let Some(short) = word.strip_prefix('-').and_then(|s| s.chars().next()) {
            let arg = current
                .get_arguments()
                .find(|a| a.get_short() == Some(short));
            if let Some(a) = arg.filter(|a| takes_value(a) && word.len() == 2) {
                wants_value = Some(a);
            }
        } else if let Some(sub) = current.find_subcommand(word) {
            current = sub;
            path.push(sub.get_name());
        } else {
            arguments += 1;
        }
    }
    let keep = |c: &String| c.starts_with(partial);
    if let Some(arg) = wants_value {
        let values = values_of(arg, &kube_flags);
        let directive = if values.is_empty() && !has_fixed_values(arg) {
            FILES
        } else {
            NO_FILES
        };
        return (values.into_iter().filter(keep).collect(), directive);
    }
    if partial.starts_with('-') {
        let flags = current
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .filter(keep)
            .collect();
        return (flags, NO_FILES);
    }
    if let ([verb, command], 0) = (path.as_slice(), arguments) {
        let named = NAMED
            .iter()
            .any(|(v, commands)| v == verb && commands.contains(command));
        if named {
            let names = names_of(verb, &kube_flags);
            return (names.into_iter().filter(keep).collect(), NO_FILES);
        }
    }
    let subs: Vec<String> = current
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name().starts_with(partial))
        .map(|s| {
            let about = s.get_about().map(|a| a.to_string()).unwrap_or_default();
            format!("{}\t{}", s.get_name(), about.replace(['\t', '\n'], " "))
        })
        .collect();
    let directive = if current.has_subcommands() {
        NO_FILES
    } else {
        FILES
    };
    (subs, directive)
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_action().takes_values()
}

fn has_fixed_values(arg: &Arg) -> bool {
    !arg.get_possible_values().is_empty()
}

/// Keeps --context, --kubeconfig and the Azure flags for the look-ups that follow.
fn remember(arg: &Arg, value: &str, flags: &mut Vec<String>) {
    if let Some(long) = arg
        .get_long()
        .filter(|l| ["context", "kubeconfig"].contains(l) || AZURE_FLAGS.contains(l))
    {
        flags.push(format!("--{long}={value}"));
    }
}

/// The computes (`attach`) or services (`deploy`) the plugin lists, without their `kind/`.
fn names_of(verb: &str, flags: &[String]) -> Vec<String> {
    let Some(plugin) = crate::plugin(verb) else {
        return vec![];
    };
    let mut args: Vec<String> = ["list", "-o", "name", "--request-timeout=1s"]
        .map(String::from)
        .to_vec();
    args.extend(flags.iter().cloned());
    look_up(plugin.as_os_str(), &args)
        .lines()
        .filter_map(|l| l.split_once('/').map(|(_, name)| name.to_string()))
        .collect()
}

/// A flag's values: its fixed ones, or namespaces and contexts from kubectl.
fn values_of(arg: &Arg, kube_flags: &[String]) -> Vec<String> {
    let fixed: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !fixed.is_empty() {
        return fixed;
    }
    let mut kubectl: Vec<String> = match arg.get_long() {
        Some("namespace") => vec![
            "get".into(),
            "namespaces".into(),
            "-o".into(),
            "name".into(),
        ],
        Some("context") => vec![
            "config".into(),
            "get-contexts".into(),
            "-o".into(),
            "name".into(),
        ],
        _ => return vec![],
    };
    kubectl.extend(
        kube_flags
            .iter()
            .filter(|f| f.starts_with("--context=") || f.starts_with("--kubeconfig="))
            .cloned(),
    );
    kubectl.push("--request-timeout=1s".into());
    look_up("kubectl".as_ref(), &kubectl)
        .lines()
        .map(|l| l.trim_start_matches("namespace/").to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// A program's standard output, or nothing if it fails or takes longer than [`LOOK_UP`].
fn look_up(program: &std::ffi::OsStr, args: &[String]) -> String {
    let Ok(mut child) = Process::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return String::new();
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(None) if started.elapsed() < LOOK_UP => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return String::new();
            }
        }
    }
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut text);
    }
    text
}

/// The Cobra answer as printed.
pub(crate) fn answer(candidates: &[String], directive: u8) -> String {
    let mut text: String = candidates.iter().map(|c| format!("{c}\n")).collect();
    text.push_str(&format!(":{directive}\n"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(line: &[&str]) -> (Vec<String>, u8) {
        let words: Vec<String> = line.iter().map(|w| w.to_string()).collect();
        candidates(&crate::tree::tree(), &words)
    }

    fn names(found: &[String]) -> Vec<&str> {
        found
            .iter()
            .map(|c| c.split('\t').next().unwrap())
            .collect()
    }

    #[test]
    fn verbs_commands_flags_and_fixed_values() {
        let (verbs, d) = complete(&[""]);
        assert_eq!(
            names(&verbs),
            [
                "attach",
                "certs",
                "deploy",
                "fe",
                "scale",
                "version",
                "completion"
            ]
        );
        assert_eq!(d, NO_FILES);
        assert_eq!(names(&complete(&["fe", "cl"]).0), ["cleanup"]);
        assert!(
            complete(&["fe", "cleanup", "--dry"])
                .0
                .contains(&"--dry-run".to_string())
        );
        let (purposes, _) = complete(&["attach", "aks", "x", "--cluster-purpose", ""]);
        assert_eq!(purposes, ["FastProd", "DevTest"]);
        // Each verb's own formats: az's on attach, kubectl's on fe.
        let (outputs, _) = complete(&["attach", "list", "-o", "j"]);
        assert_eq!(outputs, ["json", "jsonc"]);
        let (outputs, _) = complete(&["fe", "status", "-o", "j"]);
        assert_eq!(outputs, ["json", "jsonpath"]);
        // A file argument leaves file names to the shell.
        assert_eq!(complete(&["certs", "inspect", "--cert", ""]).1, FILES);
    }

    #[test]
    fn the_answer_ends_with_the_directive() {
        assert_eq!(answer(&["a\tx".into()], NO_FILES), "a\tx\n:4\n");
    }
}
