//! The sandbox's scoring runtime: the real Azure ML inference server (`azmlinfsrv` from the PyPI
//! package [`PACKAGE`]) in a venv made once per cache directory and reused, serving
//! [`SCORE_PY`]; when Python, venv or pip is missing or fails, the built-in scoring server
//! (`ModelServer`, the same routes) — said once, with the reason.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The inference server release the sandbox installs (pinned: a re-run reuses the venv).
pub const PACKAGE: &str = "azureml-inference-server-http==1.5.1";
/// The sandbox's entry script (`init()`/`run()`), behaviour set by the pod's environment.
pub const SCORE_PY: &str = include_str!("score.py");

/// Most time for `python3 -m venv`.
const VENV_DEADLINE: Duration = Duration::from_secs(120);
/// Most time for `pip install` (a first install downloads ~40 packages).
const PIP_DEADLINE: Duration = Duration::from_secs(600);

/// What runs a model replica.
#[derive(Debug, Clone)]
pub enum Runtime {
    /// `azmlinfsrv --entry_script <dir>/score.py`.
    Inference {
        /// The `azmlinfsrv` program in the venv.
        azmlinfsrv: PathBuf,
        /// The directory holding `score.py`.
        scripts: PathBuf,
    },
    /// The built-in scoring server, because the real one could not be prepared.
    BuiltIn {
        /// Why not the real one.
        why: String,
    },
}

impl Runtime {
    /// Prepares the runtime in `cache` (created if missing): reuses a venv already made there for
    /// [`PACKAGE`], else makes one. Concurrent callers wait for each other (a lock file).
    pub fn prepare(cache: &Path) -> Runtime {
        Self::prepare_with(cache, "python3")
    }

    /// [`Runtime::prepare`] with another Python program.
    pub fn prepare_with(cache: &Path, python: &str) -> Runtime {
        match prepare(cache, python) {
            Ok(runtime) => runtime,
            Err(why) => Runtime::BuiltIn { why },
        }
    }

    /// One line saying what serves the replicas.
    pub fn describe(&self) -> String {
        match self {
            Runtime::Inference { azmlinfsrv, .. } => {
                format!(
                    "model replicas: the Azure ML inference server ({PACKAGE}, {})",
                    azmlinfsrv.display()
                )
            }
            Runtime::BuiltIn { why } => {
                format!(
                    "model replicas: the built-in scoring server, not the Azure ML inference server: {why}"
                )
            }
        }
    }
}

fn prepare(cache: &Path, python: &str) -> Result<Runtime, String> {
    std::fs::create_dir_all(cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let lock = File::create(cache.join(".lock"))
        .map_err(|e| format!("cannot lock {}: {e}", cache.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", cache.display()))?;
    let venv = cache.join("venv");
    let azmlinfsrv = venv.join("bin/azmlinfsrv");
    let marker = venv.join(".kubectl-aml-installed");
    let scripts = cache.join("scripts");
    std::fs::create_dir_all(&scripts).map_err(|e| e.to_string())?;
    std::fs::write(scripts.join("score.py"), SCORE_PY).map_err(|e| e.to_string())?;
    let installed = std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == PACKAGE);
    if !(installed && azmlinfsrv.exists()) {
        let _ = std::fs::remove_dir_all(&venv);
        let log = cache.join("install.log");
        run(
            Command::new(python).args(["-m", "venv"]).arg(&venv),
            VENV_DEADLINE,
            "python3 -m venv",
            &log,
        )?;
        run(
            Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PACKAGE,
            ]),
            PIP_DEADLINE,
            "pip install",
            &log,
        )?;
        if !azmlinfsrv.exists() {
            return Err(format!(
                "pip installed {PACKAGE} but there is no {}",
                azmlinfsrv.display()
            ));
        }
        std::fs::write(&marker, PACKAGE).map_err(|e| e.to_string())?;
    }
    Ok(Runtime::Inference {
        azmlinfsrv,
        scripts,
    })
}

/// Runs `command` to its end within `deadline`, its output in `log`; an error names `what` and the
/// last line it printed.
fn run(command: &mut Command, deadline: Duration, what: &str, log: &Path) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot write {}: {e}", log.display());
    let out = File::create(log).map_err(cannot)?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(cannot)?)
        .stderr(out)
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait().map_err(|e| format!("{what}: {e}"))? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let last = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                return Err(format!("{what} failed ({status}): {last}"));
            }
            None if started.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} took more than {deadline:?}"));
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_python_the_built_in_server_stands_in_and_says_why() {
        let dir = std::env::temp_dir().join(format!("aml-sandbox-nopython-{}", std::process::id()));
        let runtime = Runtime::prepare_with(&dir, "no-such-python-for-this-test");
        let Runtime::BuiltIn { why } = &runtime else {
            panic!("{runtime:?}")
        };
        assert!(why.starts_with("python3 -m venv: "), "{why}");
        assert!(runtime.describe().contains("built-in scoring server"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
