//! The two PEM parts of a TLS pair, taken from a Secret (base64 values) or from files, checked for
//! presence, size and emptiness before anything decodes them.

use std::fmt;
use std::path::Path;

use base64::Engine;
use kube::api::DynamicObject;
use serde_json::Value;

use super::{Error, MAX_SIZE};
use crate::files::FileError;

/// The data keys of a TLS secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretKeys {
    /// The certificate chain's key.
    pub cert: &'static str,
    /// The private key's key.
    pub key: &'static str,
}

/// The two layouts: azureml-fe's own, then `kubernetes.io/tls` (cert-manager and friends).
pub const CERT_KEYS: [SecretKeys; 2] = [
    SecretKeys {
        cert: "cert.pem",
        key: "key.pem",
    },
    SecretKeys {
        cert: "tls.crt",
        key: "tls.key",
    },
];

/// One PEM part and where it came from. Its bytes never reach `Debug` output: keys are secret.
#[derive(Clone)]
pub struct Part {
    /// Where it came from, for messages: "`key.pem` in secret `default/azuremlfessl`".
    pub what: String,
    /// The PEM text.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Part({}, {} bytes)", self.what, self.bytes.len())
    }
}

/// A certificate chain and its private key, still PEM.
#[derive(Debug, Clone)]
pub struct Material {
    /// The chain, leaf first.
    pub cert: Part,
    /// The private key.
    pub key: Part,
}

fn checked(what: String, bytes: Vec<u8>) -> Result<Part, Error> {
    if bytes.len() > MAX_SIZE {
        return Err(Error::TooLarge {
            what,
            size: bytes.len() as u64,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Empty { what });
    }
    Ok(Part { what, bytes })
}

impl Material {
    /// Whether `secret` already holds this pair: the same certificate chain and the same key,
    /// compared by its public half (so SEC1 and PKCS#8 spellings of one key match).
    pub fn held_by(&self, secret: &DynamicObject) -> bool {
        let Ok((current, _)) = Self::from_secret(secret) else {
            return false;
        };
        let chain = |m: &Self| super::parse_chain(&m.cert).ok();
        let public = |m: &Self| {
            super::parse_key(&m.key)
                .ok()
                .and_then(|k| super::public_key_der(&k).ok())
        };
        chain(&current).is_some_and(|c| chain(self) == Some(c))
            && public(&current).is_some_and(|k| public(self) == Some(k))
    }

    /// The pair in a Secret: `cert.pem`/`key.pem`, or `tls.crt`/`tls.key` for `kubernetes.io/tls`
    /// secrets (or when only those are present).
    pub fn from_secret(secret: &DynamicObject) -> Result<(Self, SecretKeys), Error> {
        let (keys, cert, key) = Self::parts_from_secret(secret);
        Ok((
            Self {
                cert: cert?,
                key: key?,
            },
            keys,
        ))
    }

    /// Like [`Self::from_secret`], each part on its own: a broken key does not hide the certificate.
    pub fn parts_from_secret(
        secret: &DynamicObject,
    ) -> (SecretKeys, Result<Part, Error>, Result<Part, Error>) {
        let name = format!(
            "{}/{}",
            secret.metadata.namespace.as_deref().unwrap_or_default(),
            secret.metadata.name.as_deref().unwrap_or_default()
        );
        let data = secret
            .data
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let tls_type = secret.data.get("type").and_then(Value::as_str) == Some("kubernetes.io/tls");
        let keys = if tls_type
            || (!data.contains_key(CERT_KEYS[0].cert) && data.contains_key(CERT_KEYS[1].cert))
        {
            CERT_KEYS[1]
        } else {
            CERT_KEYS[0]
        };
        let part = |key: &str| -> Result<Part, Error> {
            let what = format!("`{key}` in secret `{name}`");
            let Some(value) = data.get(key) else {
                let mut present: Vec<&str> = data.keys().map(String::as_str).collect();
                present.sort();
                let present = if present.is_empty() {
                    "no keys".into()
                } else {
                    present.join(", ")
                };
                return Err(Error::MissingKey {
                    secret: name.clone(),
                    key: key.into(),
                    present,
                });
            };
            let encoded = value.as_str().unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| Error::InvalidBase64 { what: what.clone() })?;
            checked(what, bytes)
        };
        (keys, part(keys.cert), part(keys.key))
    }

    /// The pair in two files.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, Error> {
        Ok(Self {
            cert: read_part(cert)?,
            key: read_part(key)?,
        })
    }
}

/// Reads one PEM file, refusing files over [`MAX_SIZE`] without reading them whole.
pub fn read_part(path: &Path) -> Result<Part, Error> {
    let unreadable = |source| Error::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let what = format!("file `{}`", path.display());
    let bytes = match crate::files::read_bounded(path, MAX_SIZE as u64) {
        Ok(bytes) => bytes,
        Err(FileError::Unreadable { source, .. }) => return Err(unreadable(source)),
        Err(FileError::NotAFile { path, kind }) => return Err(Error::NotAFile { path, kind }),
        Err(FileError::TooLarge { .. }) => {
            let size = std::fs::metadata(path).map_or(MAX_SIZE as u64 + 1, |m| m.len());
            return Err(Error::TooLarge { what, size });
        }
    };
    checked(what, bytes)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn secret(kind: &str, data: Value) -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"name": "s", "namespace": "ns"}, "data": data}))
        .unwrap()
    }

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn picks_the_keys_by_secret_type() {
        let (m, keys) = Material::from_secret(&secret(
            "Opaque",
            json!({"cert.pem": b64("C"), "key.pem": b64("K")}),
        ))
        .unwrap();
        assert_eq!(
            (keys, m.cert.bytes.as_slice(), m.key.bytes.as_slice()),
            (CERT_KEYS[0], &b"C"[..], &b"K"[..])
        );
        let (_, keys) = Material::from_secret(&secret(
            "kubernetes.io/tls",
            json!({"tls.crt": b64("C"), "tls.key": b64("K")}),
        ))
        .unwrap();
        assert_eq!(keys, CERT_KEYS[1]);
    }

    #[test]
    fn names_what_is_missing_broken_or_empty() {
        let e =
            Material::from_secret(&secret("Opaque", json!({"cert.pem": b64("C")}))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret `ns/s` has no key `key.pem` (it has: cert.pem)"
        );
        let e = Material::from_secret(&secret(
            "Opaque",
            json!({"cert.pem": "%%%", "key.pem": b64("K")}),
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`cert.pem` in secret `ns/s` is not valid base64"
        );
        let e = Material::from_secret(&secret(
            "Opaque",
            json!({"cert.pem": b64("C"), "key.pem": ""}),
        ))
        .unwrap_err();
        assert_eq!(e.to_string(), "`key.pem` in secret `ns/s` is empty");
        let big = "A".repeat(MAX_SIZE + 1);
        let e = Material::from_secret(&secret(
            "Opaque",
            json!({"cert.pem": b64(&big), "key.pem": b64("K")}),
        ))
        .unwrap_err();
        assert!(
            matches!(e, Error::TooLarge { size, .. } if size == MAX_SIZE as u64 + 1),
            "{e}"
        );
    }

    #[test]
    fn devices_are_refused_as_not_files_and_big_files_as_too_large() {
        let e = read_part(Path::new("/dev/zero")).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotAFile {
                    kind: "a character device",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.exit_code(), crate::cli::ExitCode::USAGE);
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.pem");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_SIZE as u64 + 5)
            .unwrap();
        let e = read_part(&big).unwrap_err();
        assert!(
            matches!(e, Error::TooLarge { size, .. } if size == MAX_SIZE as u64 + 5),
            "{e}"
        );
    }

    #[test]
    fn part_debug_never_shows_the_bytes() {
        let part = Part {
            what: "key".into(),
            bytes: b"-----BEGIN PRIVATE KEY-----SECRET".to_vec(),
        };
        assert_eq!(format!("{part:?}"), "Part(key, 33 bytes)");
    }
}
