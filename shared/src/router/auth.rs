//! Key authentication: `Authorization: Bearer <primaryKey|secondaryKey>`, the keys read from the
//! service's keys Secret. Presented and stored keys are compared as SHA-256 digests in constant time,
//! against both keys every time, so neither the length nor which key matched leaks through timing.

use http::HeaderMap;
use k8s_openapi::api::core::v1::Secret;
use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

/// Data key of the primary key in a keys Secret.
pub const PRIMARY_KEY: &str = "primaryKey";
/// Data key of the secondary key.
pub const SECONDARY_KEY: &str = "secondaryKey";

/// A service's two keys, kept only as digests. `Debug` shows nothing of them.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    primary: [u8; 32],
    secondary: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

impl Keys {
    /// The keys of a keys Secret, or why it cannot be used (`what` names it: "Secret `ws1/s-keys`").
    pub fn from_secret(secret: &Secret, what: &str) -> Result<Self, String> {
        let data = secret.data.as_ref();
        let key = |name: &str| -> Result<[u8; 32], String> {
            let value = data
                .and_then(|d| d.get(name))
                .ok_or_else(|| format!("{what} has no `{name}`"))?;
            let trimmed = value.0.trim_ascii();
            if trimmed.is_empty() {
                return Err(format!("`{name}` in {what} is empty"));
            }
            Ok(sha256(trimmed))
        };
        Ok(Self {
            primary: key(PRIMARY_KEY)?,
            secondary: key(SECONDARY_KEY)?,
        })
    }

    /// Keys from their values (tests, benchmarks).
    pub fn new(primary: &str, secondary: &str) -> Self {
        Self {
            primary: sha256(primary.as_bytes()),
            secondary: sha256(secondary.as_bytes()),
        }
    }

    /// Whether `presented` is one of the two keys.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let presented = sha256(presented);
        let primary = presented.ct_eq(&self.primary);
        let secondary = presented.ct_eq(&self.secondary);
        (primary | secondary).into()
    }
}

/// The credential of `Authorization: Bearer <credential>` (scheme case-insensitive), if any.
pub fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(http::header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let credential = rest.trim_ascii();
    (!credential.is_empty()).then_some(credential)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        let data: BTreeMap<String, ByteString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect();
        Secret {
            data: Some(data),
            ..Default::default()
        }
    }

    #[test]
    fn both_keys_are_accepted_and_nothing_else() {
        let keys = Keys::from_secret(
            &secret(&[("primaryKey", "p-123\n"), ("secondaryKey", "s-456")]),
            "Secret `ws/s-keys`",
        )
        .unwrap();
        assert!(keys.accepts(b"p-123"));
        assert!(keys.accepts(b"s-456"));
        assert!(!keys.accepts(b"p-12"));
        assert!(!keys.accepts(b""));
        assert_eq!(format!("{keys:?}"), "Keys([redacted])");
    }

    #[test]
    fn a_secret_without_both_keys_says_what_is_missing() {
        let why = Keys::from_secret(&secret(&[("primaryKey", "p")]), "Secret `ws/k`").unwrap_err();
        assert_eq!(why, "Secret `ws/k` has no `secondaryKey`");
        let why = Keys::from_secret(
            &secret(&[("primaryKey", " \n"), ("secondaryKey", "s")]),
            "Secret `ws/k`",
        )
        .unwrap_err();
        assert_eq!(why, "`primaryKey` in Secret `ws/k` is empty");
    }

    #[test]
    fn bearer_credentials_are_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert("authorization", "bearer abc ".parse().unwrap());
        assert_eq!(bearer(&headers), Some(&b"abc"[..]));
        headers.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
