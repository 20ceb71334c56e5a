//! `kubectl aml` through the umbrella `kubectl-aml`, installed as kubectl finds plugins (a directory
//! on PATH): the verb list, a verb run as its plugin with the same stdio and exit code, `version`,
//! an unknown verb; and the krew manifest checked against krew's schema fields.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::text;

const VERBS: [(&str, &str); 5] = [
    ("attach", env!("CARGO_BIN_EXE_aml-attach-dup")),
    ("certs", env!("CARGO_BIN_EXE_aml-certs-dup")),
    ("deploy", env!("CARGO_BIN_EXE_aml-deploy-dup")),
    ("fe", env!("CARGO_BIN_EXE_aml-fe-dup")),
    ("scale", env!("CARGO_BIN_EXE_aml-scale-dup")),
];

/// A bin directory as `make install` leaves it: the umbrella and every plugin.
fn installed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    symlink(
        env!("CARGO_BIN_EXE_aml-umbrella-dup"),
        dir.path().join("kubectl-aml"),
    )
    .unwrap();
    for (verb, binary) in VERBS {
        symlink(binary, dir.path().join(format!("kubectl-aml-{verb}"))).unwrap();
    }
    dir
}

fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn aml(dir: &Path, args: &[&str]) -> Output {
    Command::new(dir.join("kubectl-aml"))
        .args(args)
        .env("PATH", path_with(dir))
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn no_verb_lists_the_verbs_with_the_line_each_plugin_starts_its_help_with() {
    let dir = installed();
    let out = aml(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0));
    let listed = text(&out.stdout);
    for (verb, binary) in VERBS {
        let help = text(&Command::new(binary).arg("--help").output().unwrap().stdout);
        let about = help.lines().next().unwrap();
        assert!(
            listed.contains(&format!("  {verb:<11} {about}")),
            "{verb}: `{about}` not in\n{listed}"
        );
    }
}

#[test]
fn a_verb_runs_its_plugin_with_the_same_output_and_exit_code() {
    let dir = installed();
    for (args, code) in [
        (
            &["scale", "plan", "--rps", "10", "--request-time", "100ms"][..],
            0,
        ),
        (
            &["scale", "plan", "--rps", "1e308", "--request-time", "1s"][..],
            2,
        ),
        (&["fe", "--no-such-flag"][..], 2),
    ] {
        let through = aml(dir.path(), args);
        let direct = Command::new(VERBS[4].1).args(&args[1..]).output().unwrap();
        let direct = if args[0] == "fe" {
            Command::new(VERBS[3].1).args(&args[1..]).output().unwrap()
        } else {
            direct
        };
        assert_eq!(
            through.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&through.stderr)
        );
        assert_eq!(through.stdout, direct.stdout, "{args:?}");
        assert_eq!(through.stderr, direct.stderr, "{args:?}");
    }
}

#[test]
fn kubectl_finds_the_umbrella_and_the_verbs() {
    let dir = installed();
    let kubectl = |args: &[&str]| {
        Command::new("kubectl")
            .args(args)
            .env("PATH", path_with(dir.path()))
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let list = kubectl(&["aml"]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    assert!(text(&list.stdout).contains("Usage: kubectl aml <VERB>"));
    let plan = kubectl(&[
        "aml",
        "scale",
        "plan",
        "--rps",
        "10",
        "--request-time",
        "100ms",
    ]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
}

#[test]
fn version_names_every_plugin_and_an_unknown_verb_is_a_usage_error() {
    let dir = installed();
    let out = aml(dir.path(), &["version", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["commit"].is_string());
    for (verb, _) in VERBS {
        assert_eq!(
            v["plugins"][format!("kubectl-aml-{verb}")],
            env!("CARGO_PKG_VERSION"),
            "{v}"
        );
    }
    let table = text(&aml(dir.path(), &["version"]).stdout);
    assert!(
        table.starts_with("kubectl-aml ") && table.lines().count() == 6,
        "{table}"
    );
    let unknown = aml(dir.path(), &["atach"]);
    assert_eq!(unknown.status.code(), Some(2));
    let said = text(&unknown.stderr);
    assert!(
        said.starts_with("error: unknown verb `atach`")
            && said.contains("attach, certs, deploy, fe, scale"),
        "{said}"
    );
    // A plugin that is not installed is named, with how to install it: the umbrella alone in a
    // directory (a copy: through a link it would find the plugins built beside the original).
    let alone = tempfile::tempdir().unwrap();
    let umbrella = alone.path().join("kubectl-aml");
    std::fs::copy(env!("CARGO_BIN_EXE_aml-umbrella-dup"), &umbrella).unwrap();
    let gone = Command::new(&umbrella)
        .arg("certs")
        .env("PATH", alone.path())
        .output()
        .unwrap();
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        text(&gone.stderr).contains("`kubectl-aml-certs` is not installed"),
        "{}",
        text(&gone.stderr)
    );
}

/// The fields krew's `Plugin` (krew.googlecontainertools.github.com/v1alpha2) requires, as
/// `kubectl krew` validates them.
#[test]
fn the_krew_manifest_has_what_krew_requires() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../krew/aml.yaml")).unwrap();
    let m: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(
        m["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(
        m["metadata"]["name"], "aml",
        "the name is what follows `kubectl `"
    );
    let spec = &m["spec"];
    assert_eq!(spec["version"], format!("v{}", env!("CARGO_PKG_VERSION")));
    for field in ["homepage", "shortDescription", "description"] {
        assert!(
            spec[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    assert!(
        spec["shortDescription"].as_str().unwrap().len() <= 50,
        "krew's limit"
    );
    let platforms = spec["platforms"].as_array().unwrap();
    assert!(!platforms.is_empty());
    for p in platforms {
        let labels = &p["selector"]["matchLabels"];
        assert!(
            labels["os"].is_string() && labels["arch"].is_string(),
            "{p}"
        );
        assert!(p["uri"].as_str().unwrap().starts_with("https://"), "{p}");
        let sha = p["sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{p}"
        );
        assert_eq!(
            p["bin"], "kubectl-aml",
            "krew links the umbrella as the plugin"
        );
        let files: Vec<&str> = p["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["from"].as_str().unwrap())
            .collect();
        for binary in [
            "kubectl-aml",
            "kubectl-aml-attach",
            "kubectl-aml-certs",
            "kubectl-aml-deploy",
            "kubectl-aml-fe",
            "kubectl-aml-scale",
        ] {
            assert!(
                files.contains(&binary),
                "{binary} is installed with the umbrella: {files:?}"
            );
        }
    }
}
