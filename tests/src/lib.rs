//! Test support for kubectl-aml: a fake Kubernetes API server real clients can use, the HTTP/TLS
//! plumbing under it, and [`TestContext`], which runs plugins in-process against the fake.

pub mod azure;
pub mod bench;
pub mod fake_arm;
pub mod fake_kube;
pub mod http_server;
pub mod kubelet;
pub mod model_server;
pub mod proxy_arms;
pub mod proxy_bench;
pub mod router;
pub mod sandbox;
pub mod tls;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use aml_core::Env;
use aml_core::cli::{Command, OutputFormat, Printer, run_with};

pub use azure::AzureSetup;
pub use fake_arm::FakeArm;
pub use fake_kube::FakeKube;

/// Writes a file readable only by its owner (it may hold a token or a key).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// What a plugin run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Exit code.
    pub code: u8,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A fake cluster, a temporary directory and a kubeconfig pointing at the fake.
pub struct TestContext {
    /// The fake API server.
    pub kube: FakeKube,
    /// Scratch space, removed on drop.
    pub dir: tempfile::TempDir,
    /// The kubeconfig (context `fake`, namespace `default`).
    pub kubeconfig: PathBuf,
    /// The fake ARM and the az configuration pointing at it, once [`TestContext::with_arm`] ran.
    pub arm: Option<(FakeArm, AzureSetup)>,
}

impl TestContext {
    /// A fresh fake cluster over plain HTTP.
    pub fn new() -> Self {
        Self::with(FakeKube::start())
    }

    /// A context around an already started fake.
    pub fn with(kube: FakeKube) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        kube.write_kubeconfig(&kubeconfig, None)
            .expect("kubeconfig");
        Self {
            kube,
            dir,
            kubeconfig,
            arm: None,
        }
    }

    /// Adds a fake ARM and an az configuration (custom cloud, defaults `rg1`/`ws1`, stand-in `az`).
    pub fn with_arm(mut self, arm: FakeArm) -> Self {
        let setup = AzureSetup::write(self.dir.path(), &arm).expect("az configuration");
        self.arm = Some((arm, setup));
        self
    }

    /// The fake ARM (panics without [`TestContext::with_arm`]).
    pub fn arm(&self) -> &FakeArm {
        &self.arm.as_ref().expect("with_arm").0
    }

    /// The az configuration (panics without [`TestContext::with_arm`]).
    pub fn azure(&self) -> &AzureSetup {
        &self.arm.as_ref().expect("with_arm").1
    }

    /// The environment a plugin sees: `KUBECONFIG` at the fake, `HOME` in the temp dir, no colour.
    pub fn env(&self) -> Env {
        Env {
            kubeconfig: Some(OsString::from(&self.kubeconfig)),
            home: Some(self.dir.path().to_path_buf()),
            no_color: true,
            azure_config_dir: Some(self.dir.path().join("azure")),
            path: self.arm.as_ref().map(|(_, a)| a.path().into()),
            // Polls without Retry-After come fast; the fake sends Retry-After: 0 anyway.
            poll_interval: Some(std::time::Duration::from_millis(10)),
            // Retries of 429/5xx without Retry-After come fast too (the fault matrix has many).
            retry_backoff: Some(std::time::Duration::from_millis(10)),
            ..Env::default()
        }
    }

    /// Runs a plugin in-process as from a script: stdin is not a terminal.
    pub async fn run<C: Command>(&self, args: &[&str]) -> Outcome {
        self.run_answering::<C>(args, None).await
    }

    /// Runs a plugin in-process as from a terminal, answering its questions with `answers`
    /// (`None` = stdin is not a terminal).
    pub async fn run_answering<C: Command>(&self, args: &[&str], answers: Option<&str>) -> Outcome {
        aml_core::init_crypto();
        let (mut printer, out, err) = Printer::captured(
            OutputFormat::Table,
            answers.unwrap_or(""),
            answers.is_some(),
        );
        let argv = std::iter::once("kubectl-aml").chain(args.iter().copied());
        let code = run_with::<C, _, _>(argv, &self.env(), &mut printer).await;
        Outcome {
            code: code.code(),
            stdout: out.text(),
            stderr: err.text(),
        }
    }

    /// A path inside the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}
