//! Reading the files users name (traces, deployment files, certificates): regular files only —
//! a FIFO would block the command and a device like `/dev/zero` never ends — and never more than a
//! limit, which is refused without reading the file whole.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Why a named file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The operating system refused (missing, no permission, …).
    #[error("cannot read `{}`: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's answer.
        source: std::io::Error,
    },
    /// A directory, FIFO, device or socket.
    #[error("`{}` is {kind}, not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is, with its article: "a FIFO (named pipe)".
        kind: &'static str,
    },
    /// Over the limit.
    #[error("`{}` is larger than {limit} bytes, the most accepted here", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
}

impl FileError {
    /// The error with the file named as `what` ("the trace"): "cannot read the trace `t.csv`: …",
    /// "the trace `/dev/zero` is a character device, not a regular file".
    pub fn describe(&self, what: &str) -> String {
        match self {
            Self::Unreadable { path, source } => {
                format!("cannot read {what} `{}`: {source}", path.display())
            }
            Self::NotAFile { path, kind } => {
                format!("{what} `{}` is {kind}, not a regular file", path.display())
            }
            Self::TooLarge { path, limit } => format!(
                "{what} `{}` is larger than {limit} bytes, the most accepted here",
                path.display()
            ),
        }
    }
}

/// What a file type is, unless a regular file.
fn not_regular(kind: std::fs::FileType) -> Option<&'static str> {
    if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    }
}

/// The bytes of the regular file `path` (symbolic links followed), at most `limit` of them.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let unreadable = |source| FileError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let not_a_file = |kind| FileError::NotAFile {
        path: path.to_path_buf(),
        kind,
    };
    // Looked at before opening: opening a FIFO waits for a writer.
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    if let Some(kind) = not_regular(metadata.file_type()) {
        return Err(not_a_file(kind));
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    // And again on what was opened, in case the path changed in between.
    if let Some(kind) = not_regular(file.metadata().map_err(unreadable)?.file_type()) {
        return Err(not_a_file(kind));
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// Creates `dir` and its missing parents, each new one 0700 (they will hold keys and backups);
/// an existing directory is left as it is.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Whether `dir` is a directory, or could be made one: it is missing and its nearest existing
/// ancestor is a directory.
pub fn can_be_dir(dir: &Path) -> bool {
    if dir.exists() {
        return dir.is_dir();
    }
    dir.ancestors()
        .skip(1)
        .find(|a| a.as_os_str().is_empty() || a.exists())
        .is_some_and(|a| a.as_os_str().is_empty() || a.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_directories_are_refused_by_name_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo");
        let cases = [
            (
                Path::new("/dev/zero"),
                "is a character device, not a regular file",
            ),
            (fifo.as_path(), "is a FIFO (named pipe), not a regular file"),
            (dir.path(), "is a directory, not a regular file"),
        ];
        for (path, words) in cases {
            let e = read_bounded(path, 1024).unwrap_err().to_string();
            assert!(e.ends_with(words), "{e}");
        }
        let missing = read_bounded(&dir.path().join("nope"), 1).unwrap_err();
        assert!(
            missing.to_string().starts_with("cannot read `"),
            "{missing}"
        );
    }

    #[test]
    fn a_file_over_the_limit_is_refused_and_one_at_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [b'x'; 10]).unwrap();
        assert_eq!(read_bounded(&path, 10).unwrap().len(), 10);
        let e = read_bounded(&path, 9).unwrap_err().to_string();
        assert!(
            e.ends_with("is larger than 9 bytes, the most accepted here"),
            "{e}"
        );
    }
}
