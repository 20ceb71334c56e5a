//! The crate-level error: wraps each module's error and decides the exit code and hint.

use std::path::PathBuf;

use crate::cli::ExitCode;
use crate::k8s;

/// Result with the crate's [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the core can fail with; each variant knows its exit code and hint.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Flags, inputs or the environment do not allow the operation as asked.
    #[error("{message}")]
    Usage {
        /// What is wrong, naming the flag or input.
        message: String,
        /// What to do instead.
        hint: Option<String>,
    },
    /// A safety check refused to go on (for example, model services still serving).
    #[error("{message}")]
    Refused {
        /// Why the operation was refused.
        message: String,
        /// How to proceed deliberately.
        hint: Option<String>,
    },
    /// The named object does not exist.
    #[error("{message}")]
    NotFound {
        /// What is missing.
        message: String,
        /// Where to look.
        hint: Option<String>,
    },
    /// The operation ran and some of it failed; the report said what.
    #[error("{message}")]
    Failed {
        /// A one-line summary of what failed.
        message: String,
        /// How to finish the job.
        hint: Option<String>,
    },
    /// Like `Failed`, with the exit code every failure in it shares (all refused: 3; all timed
    /// out: 5).
    #[error("{message}")]
    FailedAs {
        /// A one-line summary of what failed.
        message: String,
        /// How to finish the job.
        hint: Option<String>,
        /// The shared exit code.
        code: ExitCode,
    },
    /// Kubernetes access failed (boxed: it carries the server's Status).
    #[error(transparent)]
    K8s(Box<k8s::Error>),
    /// Azure access failed (boxed: it can carry an ARM error body).
    #[error(transparent)]
    Arm(Box<crate::arm::Error>),
    /// Another error, with a better hint from the caller that knows what was being done.
    #[error("{source}")]
    Hinted {
        /// The error itself; it keeps its text and exit code.
        source: Box<Error>,
        /// What to do now.
        hint: String,
    },
    /// TLS material is missing or broken.
    #[error(transparent)]
    Tls(#[from] crate::tls::Error),
    /// A local file could not be read or written.
    #[error("failed to {action} `{}`", path.display())]
    File {
        /// What was being done: "write backup", "read".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::arm::Error> for Error {
    fn from(e: crate::arm::Error) -> Self {
        Self::Arm(Box::new(e))
    }
}

impl From<k8s::Error> for Error {
    fn from(e: k8s::Error) -> Self {
        Self::K8s(Box::new(e))
    }
}

impl Error {
    /// A usage error with a hint.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A refusal by a safety check, with the way to proceed deliberately.
    pub fn refused(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Refused {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A missing object, with where to look.
    pub fn not_found(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A partial or complete failure that has already been reported in detail.
    pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Failed {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// Some of the work failed, every failure for the reason `code` stands for.
    pub fn failed_as(code: ExitCode, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::FailedAs {
            message: message.into(),
            hint: Some(hint.into()),
            code,
        }
    }

    /// This error with `hint` in place of its own (the text and exit code stay).
    pub fn hinted(self, hint: impl Into<String>) -> Self {
        Self::Hinted {
            source: Box::new(self),
            hint: hint.into(),
        }
    }

    /// The exit code this error maps to.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage { .. } => ExitCode::USAGE,
            Self::NotFound { .. } => ExitCode::NOT_FOUND,
            Self::Refused { .. } | Self::Failed { .. } | Self::File { .. } => ExitCode::FAILURE,
            Self::FailedAs { code, .. } => *code,
            Self::K8s(e) => e.exit_code(),
            Self::Tls(e) => e.exit_code(),
            Self::Arm(e) => e.exit_code(),
            Self::Hinted { source, .. } => source.exit_code(),
        }
    }

    /// A suggestion for the user, if there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Usage { hint, .. }
            | Self::NotFound { hint, .. }
            | Self::Refused { hint, .. }
            | Self::Failed { hint, .. }
            | Self::FailedAs { hint, .. } => hint.clone(),
            Self::K8s(e) => e.hint(),
            Self::Tls(e) => e.hint(),
            Self::Arm(e) => e.hint(),
            Self::Hinted { hint, .. } => Some(hint.clone()),
            Self::File { source, .. } => match source.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    Some("check the directory's permissions or choose another one".into())
                }
                std::io::ErrorKind::AlreadyExists => {
                    Some("move the existing file away or choose another directory".into())
                }
                _ => None,
            },
        }
    }
}
