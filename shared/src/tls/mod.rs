//! TLS material of the azureml-fe secret: taken from a Secret or from files, decoded from PEM,
//! summarised (subject, names, validity, key, fingerprint) and checked (key match, chain, expiry,
//! name) — pure functions over bytes, no OpenSSL.

mod chain;
mod checks;
mod material;
mod names;
mod pem;
mod summary;

use std::path::PathBuf;

pub use checks::{Check, CheckStatus, VerifyOptions, verify};
pub use material::{CERT_KEYS, Material, Part, SecretKeys, read_part};
pub use names::name_matches;
pub use pem::{parse_chain, parse_key};
pub use summary::{CertSummary, KeyInfo, fingerprint, public_key_der, summarize};

use crate::cli::ExitCode;

/// The openssl-made fixtures in `tests/fixtures/tls`, for unit tests.
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> Part {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls");
    material::read_part(&dir.join(name)).expect("fixture")
}

/// The largest certificate or key file accepted: real ones are a few KiB.
pub const MAX_SIZE: usize = 1024 * 1024;

/// What can be wrong with TLS material. `what` names the part: "`key.pem` in secret `ns/name`".
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read `{}`", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    /// A directory, FIFO, device or socket where a PEM file was expected.
    #[error("`{}` is {kind}, not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is: "a FIFO (named pipe)".
        kind: &'static str,
    },
    /// The secret lacks one of the two keys.
    #[error("secret `{secret}` has no key `{key}` (it has: {present})")]
    MissingKey {
        /// `namespace/name`.
        secret: String,
        /// The missing key.
        key: String,
        /// The keys it has, comma-separated.
        present: String,
    },
    /// A secret value is not base64.
    #[error("{what} is not valid base64")]
    InvalidBase64 {
        /// The part.
        what: String,
    },
    /// A part is empty.
    #[error("{what} is empty")]
    Empty {
        /// The part.
        what: String,
    },
    /// A part is larger than [`MAX_SIZE`].
    #[error("{what} is {size} bytes, more than the 1 MiB a certificate or key can reasonably be")]
    TooLarge {
        /// The part.
        what: String,
        /// Its size.
        size: u64,
    },
    /// A part has no PEM block at all.
    #[error("{what} is not PEM: no `-----BEGIN …-----` line")]
    NotPem {
        /// The part.
        what: String,
    },
    /// A part has PEM blocks of the wrong kind.
    #[error("{what} holds {found}, expected {expected}")]
    WrongBlock {
        /// The part.
        what: String,
        /// The block labels found.
        found: String,
        /// What belongs there.
        expected: &'static str,
    },
    /// The private key is encrypted with a passphrase.
    #[error("the private key in {what} is encrypted")]
    EncryptedKey {
        /// The part.
        what: String,
    },
    /// A PEM block's body is broken.
    #[error("{what} has a broken PEM block: {reason}")]
    BadPem {
        /// The part.
        what: String,
        /// The parser's reason.
        reason: String,
    },
    /// A certificate does not parse as X.509.
    #[error("certificate {index} in {what} is not a valid X.509 certificate: {reason}")]
    BadCertificate {
        /// The part.
        what: String,
        /// 1-based position in the chain.
        index: usize,
        /// The parser's reason.
        reason: String,
    },
    /// The private key is of a type or size that cannot be used.
    #[error("the private key in {what} is not usable: {reason}")]
    UnsupportedKey {
        /// The part.
        what: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// The exit code: a file the flags name that cannot be read is a usage error, the rest failures.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Unreadable { .. } | Self::NotAFile { .. } => ExitCode::USAGE,
            _ => ExitCode::FAILURE,
        }
    }

    /// A suggestion for the user.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Unreadable { .. } => "check the path and its permissions".into(),
            Self::NotAFile { .. } => "give the path of a PEM file".into(),
            Self::MissingKey { .. } => {
                "azureml-fe secrets hold cert.pem and key.pem; kubernetes.io/tls secrets tls.crt and tls.key".into()
            }
            Self::InvalidBase64 { .. } => "secret values must be base64; was the secret written by hand?".into(),
            Self::Empty { .. } | Self::NotPem { .. } | Self::BadPem { .. } => {
                "give the PEM text: `-----BEGIN CERTIFICATE-----` … or `-----BEGIN PRIVATE KEY-----` …".into()
            }
            Self::TooLarge { .. } => "is this the right file? a certificate chain is a few KiB".into(),
            Self::WrongBlock { .. } => "are the certificate and the key swapped?".into(),
            Self::EncryptedKey { .. } => {
                "decrypt it first (`openssl pkey -in key.pem -out plain.pem`) and keep the result mode 0600".into()
            }
            Self::BadCertificate { .. } => "check the file with `openssl x509 -noout -text -in FILE`".into(),
            Self::UnsupportedKey { .. } => "use RSA 2048–4096, ECDSA P-256 or P-384, or Ed25519".into(),
        })
    }
}
