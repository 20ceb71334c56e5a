//! `kubectl aml <TAB>`: kubectl's own bash completion (with bash-completion) on real input lines,
//! answered by `kubectl_complete-aml[-VERB]` (the umbrella under kubectl's plugin-completion names);
//! `kubectl aml completion SHELL` scripts; a slow API server never holds the shell past a second.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::text;

const BASH_COMPLETION: &str = "/usr/share/bash-completion/bash_completion";

/// A bin directory as `make install` leaves it, completion names included.
fn installed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let umbrella = dir.path().join("kubectl-aml");
    std::fs::copy(env!("CARGO_BIN_EXE_aml-umbrella-dup"), &umbrella).unwrap();
    for verb in ["", "-attach", "-certs", "-deploy", "-fe", "-scale"] {
        symlink(
            "kubectl-aml",
            dir.path().join(format!("kubectl_complete-aml{verb}")),
        )
        .unwrap();
    }
    dir
}

/// What bash offers for `line` (completing its last word) through kubectl's completion script.
fn complete(dir: &Path, kubeconfig: Option<&Path>, line: &str) -> Vec<String> {
    complete_with(dir, kubeconfig, &[], line)
}

/// [`complete`] with more of the environment set (`PATH` entries go before the others).
fn complete_with(
    dir: &Path,
    kubeconfig: Option<&Path>,
    env: &[(&str, String)],
    line: &str,
) -> Vec<String> {
    assert!(
        Path::new(BASH_COMPLETION).exists(),
        "the completion tests need bash-completion (README prerequisites; `apt-get install bash-completion`)"
    );
    let script = r#"
        source /usr/share/bash-completion/bash_completion
        source <(kubectl completion bash)
        compopt() { :; }
        COMP_LINE="$1"
        read -ra COMP_WORDS <<<"$1"
        [[ "$1" == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        COMP_POINT=${#COMP_LINE}
        __start_kubectl kubectl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let mut path = format!("{}:", dir.display());
    for (_, more) in env.iter().filter(|(name, _)| *name == "PATH") {
        path.push_str(&format!("{more}:"));
    }
    path.push_str(&std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new("bash");
    command.args(["-c", script, "bash", line]).env("PATH", path);
    for (name, value) in env.iter().filter(|(name, _)| *name != "PATH") {
        command.env(name, value);
    }
    if let Some(kubeconfig) = kubeconfig {
        command.env("KUBECONFIG", kubeconfig);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{line}: {}", text(&out.stderr));
    let mut words: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect();
    words.dedup();
    words.retain(|w| !w.is_empty());
    words
}

#[test]
fn kubectl_completes_verbs_commands_flags_and_values() {
    let dir = installed();
    let verbs = complete(dir.path(), None, "kubectl aml ");
    for verb in [
        "attach",
        "certs",
        "deploy",
        "fe",
        "scale",
        "version",
        "completion",
    ] {
        assert!(verbs.contains(&verb.to_string()), "{verb}: {verbs:?}");
    }
    assert_eq!(complete(dir.path(), None, "kubectl aml fe cl"), ["cleanup"]);
    assert_eq!(
        complete(dir.path(), None, "kubectl aml attach re"),
        ["reattach"]
    );
    assert_eq!(
        complete(
            dir.path(),
            None,
            "kubectl aml attach aks x --cluster-purpose "
        ),
        ["FastProd", "DevTest"]
    );
    let flags = complete(dir.path(), None, "kubectl aml scale plan --r");
    assert!(
        flags.contains(&"--rps".to_string()) && flags.contains(&"--request-time".to_string()),
        "{flags:?}"
    );
}

#[test]
fn namespaces_come_from_the_cluster_and_a_slow_one_gives_none_within_a_second() {
    let ctx = aml_tests::TestContext::new();
    ctx.kube.seed([serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "models"}})]);
    let dir = installed();
    let found = complete(
        dir.path(),
        Some(&ctx.kubeconfig),
        "kubectl aml fe status -n mo",
    );
    assert_eq!(found, ["models"]);
    ctx.kube.hang_next("GET", "/api/v1/namespaces", 10);
    let started = Instant::now();
    let none = complete(
        dir.path(),
        Some(&ctx.kubeconfig),
        "kubectl aml fe status -n mo",
    );
    assert!(none.is_empty(), "{none:?}");
    // kubectl's own start-up and the bash script included; our look-up gives up at 0.9 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// `attach show <TAB>` offers the workspace's computes and `deploy keys <TAB>` its services, from
/// the plugins' own `list -o name` with the -g/-w typed on the line; a new compute's name is not
/// completed from the existing ones.
#[tokio::test]
async fn compute_and_service_names_come_from_the_workspace() {
    let ctx = crate::deploy::ctx();
    ctx.arm().add_kubernetes_compute("k8s-2", "other");
    assert_eq!(crate::deploy::create(&ctx, &[]).await.code, 0);
    let dir = installed();
    for (verb, binary) in [
        ("attach", env!("CARGO_BIN_EXE_aml-attach-dup")),
        ("deploy", env!("CARGO_BIN_EXE_aml-deploy-dup")),
    ] {
        symlink(binary, dir.path().join(format!("kubectl-aml-{verb}"))).unwrap();
    }
    let Some((_, azure)) = &ctx.arm else {
        unreachable!("the deploy context has a fake ARM")
    };
    let env = [
        ("PATH", azure.bin_dir.display().to_string()),
        ("AZURE_CONFIG_DIR", azure.config_dir.display().to_string()),
        ("HOME", ctx.dir.path().display().to_string()),
    ];
    let kubeconfig = Some(ctx.kubeconfig.as_path());
    let line = "kubectl aml attach show -g rg1 -w ws1 k";
    assert_eq!(
        complete_with(dir.path(), kubeconfig, &env, line),
        ["k8s", "k8s-2"]
    );
    let line = "kubectl aml deploy keys ";
    assert_eq!(complete_with(dir.path(), kubeconfig, &env, line), ["svc"]);
    let line = "kubectl aml attach k8s k";
    let offered = complete_with(dir.path(), kubeconfig, &env, line);
    assert!(!offered.contains(&"k8s-2".to_string()), "{offered:?}");
}

/// True when `shell` is installed; otherwise says the test of its script is skipped.
fn have(shell: &str) -> bool {
    let found = Command::new(shell).arg("-c").arg("true").output().is_ok();
    if !found {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("note: no {shell} here: its completion script is not run (CI installs it)");
        }
    }
    found
}

/// The fish and zsh scripts loaded by the shells themselves: fish completes real command lines
/// (`complete -C`); zsh registers the completion function for `kubectl-aml`.
#[test]
fn fish_and_zsh_run_their_scripts() {
    let dir = installed();
    let umbrella = dir.path().join("kubectl-aml");
    if have("fish") {
        let script = format!(
            "source ({} completion fish | psub); complete -C 'kubectl-aml fe cl'; complete -C 'kubectl-aml attach list -o j'",
            umbrella.display()
        );
        let out = Command::new("fish").args(["-c", &script]).output().unwrap();
        let found: Vec<String> = text(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_string())
            .collect();
        assert_eq!(found, ["cleanup", "json", "jsonc"], "{}", text(&out.stderr));
    }
    if have("zsh") {
        let script = format!(
            "autoload -U compinit; compinit -u -d {}/zcompdump; source <({} completion zsh); print -r -- ${{_comps[kubectl-aml]}}",
            dir.path().display(),
            umbrella.display()
        );
        let out = Command::new("zsh").args(["-c", &script]).output().unwrap();
        assert_eq!(
            text(&out.stdout).trim(),
            "_kubectl-aml",
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn completion_scripts_for_each_shell_and_a_clear_error_for_another() {
    let dir = installed();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef kubectl-aml"),
        ("fish", "complete -c kubectl-aml"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = Command::new(dir.path().join("kubectl-aml"))
            .args(["completion", shell])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(
            text(&out.stdout).contains(marker),
            "{shell}: {}",
            text(&out.stdout)
        );
    }
    // The bash script, sourced, completes `kubectl-aml fe cl` as bash would.
    let script = text(
        &Command::new(dir.path().join("kubectl-aml"))
            .args(["completion", "bash"])
            .output()
            .unwrap()
            .stdout,
    );
    let run = r#"
        source /dev/stdin
        COMP_WORDS=(kubectl-aml fe cl); COMP_CWORD=2; COMP_LINE="kubectl-aml fe cl"; COMP_POINT=${#COMP_LINE}
        _kubectl__aml kubectl-aml cl fe
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let mut bash = Command::new("bash")
        .args(["-c", run])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut bash.stdin.take().unwrap(), script.as_bytes()).unwrap();
    let offered = bash.wait_with_output().unwrap();
    assert_eq!(text(&offered.stdout).trim(), "cleanup");
    let other = Command::new(dir.path().join("kubectl-aml"))
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(2));
    assert!(
        text(&other.stderr).starts_with("error: no completion for shell `tcsh`"),
        "{}",
        text(&other.stderr)
    );
}
