//! PEM decoding with precise diagnostics: which blocks a part holds, whether a key is encrypted,
//! and certificates that parse as X.509.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{Error, Part};

const CERTIFICATE: &str = "CERTIFICATE";
const KEY_LABELS: [&str; 3] = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

/// The labels of the `-----BEGIN <label>-----` lines, in order.
fn labels(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("-----BEGIN ")?
                .strip_suffix("-----")
                .map(str::to_string)
        })
        .collect()
}

fn found(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| format!("`{l}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The certificate chain in a part, leaf first; every block must be a certificate that parses.
pub fn parse_chain(part: &Part) -> Result<Vec<CertificateDer<'static>>, Error> {
    let labels = labels(&part.bytes);
    if labels.is_empty() {
        return Err(Error::NotPem {
            what: part.what.clone(),
        });
    }
    if labels.iter().any(|l| l != CERTIFICATE) {
        return Err(Error::WrongBlock {
            what: part.what.clone(),
            found: found(&labels),
            expected: "only `CERTIFICATE` blocks",
        });
    }
    let chain = CertificateDer::pem_slice_iter(&part.bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::BadPem {
            what: part.what.clone(),
            reason: e.to_string(),
        })?;
    for (i, der) in chain.iter().enumerate() {
        if let Err(e) = x509_parser::parse_x509_certificate(der) {
            return Err(Error::BadCertificate {
                what: part.what.clone(),
                index: i + 1,
                reason: e.to_string(),
            });
        }
    }
    Ok(chain)
}

/// The one private key in a part: PKCS#1, SEC1 or PKCS#8, not encrypted.
pub fn parse_key(part: &Part) -> Result<PrivateKeyDer<'static>, Error> {
    let labels = labels(&part.bytes);
    if labels.is_empty() {
        return Err(Error::NotPem {
            what: part.what.clone(),
        });
    }
    let text = String::from_utf8_lossy(&part.bytes);
    // PKCS#8 encryption has its own label; legacy OpenSSL encryption a Proc-Type header.
    if labels.iter().any(|l| l == "ENCRYPTED PRIVATE KEY")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(Error::EncryptedKey {
            what: part.what.clone(),
        });
    }
    // `openssl ecparam -genkey` writes the curve's parameters before the key: harmless.
    let relevant: Vec<String> = labels
        .into_iter()
        .filter(|l| l != "EC PARAMETERS")
        .collect();
    let keys = relevant
        .iter()
        .filter(|l| KEY_LABELS.contains(&l.as_str()))
        .count();
    if keys != 1 || relevant.len() != 1 {
        let expected = "one private key (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`)";
        return Err(Error::WrongBlock {
            what: part.what.clone(),
            found: found(&relevant),
            expected,
        });
    }
    PrivateKeyDer::from_pem_slice(&part.bytes).map_err(|e| Error::BadPem {
        what: part.what.clone(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::fixture;

    #[test]
    fn chains_and_every_key_encoding_decode() {
        assert_eq!(parse_chain(&fixture("rsa-chain.crt")).unwrap().len(), 2);
        let kinds: Vec<&str> = [
            "rsa.key",
            "rsa-pkcs1.key",
            "ec.key",
            "ec-pkcs8.key",
            "ec384.key",
            "ed25519.key",
        ]
        .iter()
        .map(|f| match parse_key(&fixture(f)).unwrap() {
            PrivateKeyDer::Pkcs1(_) => "pkcs1",
            PrivateKeyDer::Sec1(_) => "sec1",
            PrivateKeyDer::Pkcs8(_) => "pkcs8",
            _ => "other",
        })
        .collect();
        assert_eq!(kinds, ["pkcs8", "pkcs1", "sec1", "pkcs8", "sec1", "pkcs8"]);
    }

    #[test]
    fn encrypted_keys_are_named_as_such() {
        for f in ["rsa-encrypted.key", "rsa-encrypted-legacy.key"] {
            let e = parse_key(&fixture(f)).unwrap_err();
            assert!(matches!(e, Error::EncryptedKey { .. }), "{f}: {e}");
        }
    }

    #[test]
    fn swapped_or_foreign_blocks_are_wrong_blocks() {
        let e = parse_key(&fixture("rsa.crt")).unwrap_err();
        assert!(e.to_string().ends_with("holds `CERTIFICATE`, expected one private key (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`)"), "{e}");
        let e = parse_chain(&fixture("rsa.key")).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("holds `PRIVATE KEY`, expected only `CERTIFICATE` blocks"),
            "{e}"
        );
        let not_pem = Part {
            what: "x".into(),
            bytes: b"hello".to_vec(),
        };
        assert!(matches!(parse_chain(&not_pem), Err(Error::NotPem { .. })));
        let broken = Part {
            what: "x".into(),
            bytes: b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n".to_vec(),
        };
        assert!(
            matches!(parse_chain(&broken), Err(Error::BadPem { .. })),
            "{:?}",
            parse_chain(&broken)
        );
        let garbage = Part {
            what: "x".into(),
            bytes: b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        };
        assert!(matches!(
            parse_chain(&garbage),
            Err(Error::BadCertificate { index: 1, .. })
        ));
    }
}
