//! HTTPS: a certificate resolver whose pair is swapped when the `azuremlfessl` Secret changes, so
//! new handshakes get the new certificate at once and established connections keep theirs. A pair
//! that does not decode or does not match is refused and the old one kept.

use std::sync::{Arc, RwLock};

use kube::api::DynamicObject;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::tls::{self, Material};

/// The certificate served now, if any yet.
#[derive(Debug, Default)]
pub struct CertStore {
    current: RwLock<Option<Loaded>>,
}

#[derive(Debug, Clone)]
struct Loaded {
    key: Arc<CertifiedKey>,
    fingerprint: String,
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref().map(|l| l.key.clone())
    }
}

/// Why a new pair was refused.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A part is missing or does not decode.
    #[error(transparent)]
    Material(#[from] tls::Error),
    /// The key cannot sign or does not belong to the certificate.
    #[error("the private key {0}")]
    Key(String),
}

impl CertStore {
    /// Whether a certificate is loaded.
    pub fn loaded(&self) -> bool {
        self.fingerprint().is_some()
    }

    /// The SHA-256 fingerprint of the leaf served now.
    pub fn fingerprint(&self) -> Option<String> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref().map(|l| l.fingerprint.clone())
    }

    /// Serves the pair in `secret` from now on; an error leaves the current pair in place.
    /// Returns the new leaf's fingerprint.
    pub fn load_secret(&self, secret: &DynamicObject) -> Result<String, CertError> {
        let (material, _) = Material::from_secret(secret)?;
        self.load(&material)
    }

    /// Serves this pair from now on; an error leaves the current pair in place.
    pub fn load(&self, material: &Material) -> Result<String, CertError> {
        let chain = tls::parse_chain(&material.cert)?;
        let key = tls::parse_key(&material.key)?;
        let signer = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|_| {
            CertError::Key("is not an RSA, ECDSA P-256/P-384 or Ed25519 key".into())
        })?;
        let certified = CertifiedKey::new(chain, signer);
        certified
            .keys_match()
            .map_err(|_| CertError::Key("does not belong to the certificate".into()))?;
        let fingerprint = tls::fingerprint(
            certified
                .end_entity_cert()
                .map_err(|_| CertError::Key("has no certificate to go with it".into()))?,
        );
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Loaded {
            key: Arc::new(certified),
            fingerprint: fingerprint.clone(),
        });
        Ok(fingerprint)
    }
}

/// TLS 1.2 and 1.3 with the store's certificate, HTTP/1.1 by ALPN.
pub fn server_config(store: Arc<CertStore>) -> Arc<ServerConfig> {
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("ring supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(store);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::Part;

    fn part(name: &str) -> Part {
        crate::tls::fixture(name)
    }

    fn pair(cert: &str, key: &str) -> Material {
        Material {
            cert: part(cert),
            key: part(key),
        }
    }

    #[test]
    fn a_good_pair_is_served_and_a_bad_one_keeps_the_old() {
        let store = CertStore::default();
        assert!(!store.loaded());
        let first = store.load(&pair("rsa.crt", "rsa.key")).unwrap();
        assert_eq!(store.fingerprint().as_deref(), Some(first.as_str()));

        let mismatch = store.load(&pair("rsa.crt", "other.key")).unwrap_err();
        assert!(
            mismatch.to_string().contains("does not belong"),
            "{mismatch}"
        );
        let broken = store.load(&pair("rsa.key", "rsa.key")).unwrap_err();
        assert!(matches!(broken, CertError::Material(_)), "{broken}");
        assert_eq!(store.fingerprint().as_deref(), Some(first.as_str()));

        let second = store.load(&pair("ec.crt", "ec.key")).unwrap();
        assert_ne!(first, second);
        assert_eq!(store.fingerprint(), Some(second));
        let _ = server_config(Arc::new(store));
    }
}
