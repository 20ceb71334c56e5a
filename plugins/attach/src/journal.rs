//! The journal of a `reattach`: the compute's settings as read before the detach and each step
//! finished, in `--state-dir` (0700), so running the command again continues where it stopped.

use std::io::Write;
use std::path::{Path, PathBuf};

use aml_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The steps of a re-attach, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Step {
    /// The compute's settings read and recorded.
    Read,
    /// The TLS secret's pair exported into the state directory.
    Export,
    /// The compute detached.
    Detach,
    /// The azureml-fe objects deleted (the TLS secret backed up first).
    Cleanup,
    /// The compute attached again with the recorded settings.
    Attach,
}

impl Step {
    /// The step's name in messages.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Read => "read the compute's settings",
            Self::Export => "export the TLS pair (certs export)",
            Self::Detach => "detach the compute",
            Self::Cleanup => "delete the azureml-fe objects (fe cleanup)",
            Self::Attach => "attach it again with the same settings",
        }
    }
}

/// What the journal file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    /// The workspace's ARM id.
    pub workspace: String,
    /// The compute's name.
    pub compute: String,
    /// The compute as read before the detach (ARM withholds its certificate and key).
    pub settings: Value,
    /// The steps finished, in order.
    pub done: Vec<Step>,
}

/// A journal on disk.
pub(crate) struct Journal {
    path: PathBuf,
    /// What it holds.
    pub record: Record,
}

/// The journal's file name in the state directory.
const FILE: &str = "reattach.json";

fn file_error(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::File {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (0700) when missing; an existing one must be a directory.
pub(crate) fn state_dir(dir: &Path) -> Result<(), Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::usage(
            format!("--state-dir `{}` is not a directory", dir.display()),
            "pass a directory (it is created when missing)",
        ));
    }
    aml_core::files::private_dir(dir).map_err(|e| file_error("create", dir, e))
}

impl Journal {
    /// The journal in `dir`, if one was started there.
    pub(crate) fn open(dir: &Path) -> Result<Option<Self>, Error> {
        let path = dir.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        // A journal is a few KiB; the bound keeps a wrong --state-dir from reading a huge file.
        let bytes = aml_core::files::read_bounded(&path, 1 << 20)
            .map_err(|e| Error::usage(e.describe("the journal"), "pass another --state-dir"))?;
        let record: Record = serde_json::from_slice(&bytes).map_err(|e| {
            Error::usage(
                format!("journal `{}` cannot be read: {e}", path.display()),
                "it is not a reattach journal: pass another --state-dir, or remove the file to start over",
            )
        })?;
        Ok(Some(Self { path, record }))
    }

    /// A new journal in `dir` for `record` (nothing written until [`Journal::finished`]).
    pub(crate) fn new(dir: &Path, record: Record) -> Self {
        Self {
            path: dir.join(FILE),
            record,
        }
    }

    /// Whether `step` is finished.
    pub(crate) fn is_done(&self, step: Step) -> bool {
        self.record.done.contains(&step)
    }

    /// Records `step` as finished: written to a temporary file (0600), then renamed over the
    /// journal, so an interruption leaves the old journal or the new one, never half of one.
    pub(crate) fn finished(&mut self, step: Step) -> Result<(), Error> {
        if !self.is_done(step) {
            self.record.done.push(step);
        }
        let text = serde_json::to_vec_pretty(&self.record).expect("a journal serializes");
        let temporary = self.path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&temporary)
            .map_err(|e| file_error("write", &temporary, e))?;
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(|e| file_error("write", &temporary, e))?;
        std::fs::rename(&temporary, &self.path).map_err(|e| file_error("write", &self.path, e))
    }

    /// The journal's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
