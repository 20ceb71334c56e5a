//! What a certificate chain is, in the terms an operator checks: names, issuer, validity, key type
//! and size, SHA-256 fingerprint (as `openssl x509 -fingerprint -sha256` prints it), chain length,
//! and whether a private key belongs to the leaf.

use jiff::Timestamp;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
    OID_SIG_ED25519,
};

use super::Error;

/// The leaf's public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// `RSA`, `ECDSA`, `Ed25519`, or the algorithm's OID.
    pub algorithm: String,
    /// Key size in bits.
    pub bits: u32,
    /// The curve, for ECDSA: `P-256`, `P-384` or an OID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve: Option<String>,
}

impl KeyInfo {
    /// `RSA 2048`, `ECDSA P-256`, `Ed25519`.
    pub fn describe(&self) -> String {
        match (&self.curve, self.algorithm.as_str()) {
            (Some(curve), _) => format!("{} {curve}", self.algorithm),
            (None, "Ed25519") => "Ed25519".into(),
            (None, _) => format!("{} {}", self.algorithm, self.bits),
        }
    }

    /// Whether azureml-fe can serve with it: RSA 2048–4096, ECDSA P-256/P-384, Ed25519.
    pub fn supported(&self) -> bool {
        match (self.algorithm.as_str(), self.curve.as_deref()) {
            ("RSA", _) => (2048..=4096).contains(&self.bits),
            ("ECDSA", Some("P-256" | "P-384")) => true,
            ("Ed25519", _) => true,
            _ => false,
        }
    }
}

/// A certificate chain summarised.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertSummary {
    /// The leaf's subject.
    pub subject: String,
    /// DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
    /// IP addresses of the subjectAltName extension.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    /// The leaf's issuer.
    pub issuer: String,
    /// The leaf's serial number, hex.
    pub serial: String,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// Whole days until `not_after` (negative once expired).
    pub days_left: i64,
    /// The leaf's key.
    pub key: KeyInfo,
    /// SHA-256 of the leaf's DER, `AB:CD:…`.
    pub fingerprint_sha256: String,
    /// Certificates in the chain, leaf included.
    pub chain_length: usize,
    /// Whether the private key belongs to the leaf; `None` without a key or with an unusable one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_matches: Option<bool>,
}

impl CertSummary {
    /// The name to give as `--ssl-cname`: the first DNS name without a wildcard, else the first
    /// DNS name, else the subject's CN.
    pub fn primary_name(&self) -> Option<String> {
        let plain = self.dns_names.iter().find(|n| !n.starts_with("*."));
        plain.or(self.dns_names.first()).cloned().or_else(|| {
            self.subject
                .split(", ")
                .find_map(|part| part.strip_prefix("CN="))
                .map(str::to_string)
        })
    }
}

/// SHA-256 of DER bytes, upper-case hex pairs joined by `:` (openssl's format).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses one certificate of a chain already checked by `parse_chain`.
pub(super) fn parse<'a>(
    der: &'a CertificateDer<'_>,
    index: usize,
) -> Result<X509Certificate<'a>, Error> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| Error::BadCertificate {
            what: "the chain".into(),
            index: index + 1,
            reason: e.to_string(),
        })
}

/// The public key of a certificate, described.
pub(super) fn key_info(cert: &X509Certificate<'_>) -> KeyInfo {
    let spki = cert.public_key();
    let oid = &spki.algorithm.algorithm;
    let bits = spki.parsed().map(|k| k.key_size() as u32).unwrap_or(0);
    if *oid == OID_PKCS1_RSAENCRYPTION {
        KeyInfo {
            algorithm: "RSA".into(),
            bits,
            curve: None,
        }
    } else if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        let (name, bits) = match curve {
            Some(c) if c == OID_EC_P256 => ("P-256".to_string(), 256),
            Some(c) if c == OID_NIST_EC_P384 => ("P-384".to_string(), 384),
            Some(c) => (c.to_id_string(), bits),
            None => ("unknown curve".to_string(), bits),
        };
        KeyInfo {
            algorithm: "ECDSA".into(),
            bits,
            curve: Some(name),
        }
    } else if *oid == OID_SIG_ED25519 {
        KeyInfo {
            algorithm: "Ed25519".into(),
            bits: 256,
            curve: None,
        }
    } else {
        KeyInfo {
            algorithm: oid.to_id_string(),
            bits,
            curve: None,
        }
    }
}

/// The private key's public half as SubjectPublicKeyInfo DER (what a certificate for it carries);
/// an error when the key cannot be used at all.
pub fn public_key_der(key: &PrivateKeyDer<'_>) -> Result<Vec<u8>, String> {
    let signer = rustls::crypto::ring::sign::any_supported_type(key)
        .map_err(|_| "not an RSA (2048–8192 bits), ECDSA P-256/P-384 or Ed25519 key".to_string())?;
    let spki = signer
        .public_key()
        .ok_or("the key's public half cannot be derived")?;
    Ok(spki.as_ref().to_vec())
}

/// Whether the private key belongs to the certificate (SubjectPublicKeyInfo equality, as rustls'
/// `keys_match`).
pub(super) fn key_matches(
    cert: &X509Certificate<'_>,
    key: &PrivateKeyDer<'_>,
) -> Result<bool, String> {
    Ok(public_key_der(key)? == cert.public_key().raw)
}

/// Summarises a chain (leaf first) and, if given, checks the key against the leaf.
pub fn summarize(
    chain: &[CertificateDer<'_>],
    key: Option<&PrivateKeyDer<'_>>,
    now: Timestamp,
) -> Result<CertSummary, Error> {
    let der = chain.first().ok_or_else(|| Error::BadCertificate {
        what: "the chain".into(),
        index: 1,
        reason: "empty chain".into(),
    })?;
    let leaf = parse(der, 0)?;
    let (mut dns_names, mut ip_addresses) = (Vec::new(), Vec::new());
    if let Ok(Some(san)) = leaf.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => dns_names.push(dns.to_string()),
                GeneralName::IPAddress(bytes) => ip_addresses.push(ip_text(bytes)),
                _ => {}
            }
        }
    }
    let validity = leaf.validity();
    let not_after = validity.not_after.timestamp();
    let time = |seconds: i64| {
        Timestamp::from_second(seconds)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| seconds.to_string())
    };
    Ok(CertSummary {
        subject: leaf.subject().to_string(),
        dns_names,
        ip_addresses,
        issuer: leaf.issuer().to_string(),
        serial: leaf.raw_serial_as_string(),
        not_before: time(validity.not_before.timestamp()),
        not_after: time(not_after),
        days_left: (not_after - now.as_second()).div_euclid(86_400),
        key: key_info(&leaf),
        fingerprint_sha256: fingerprint(der),
        chain_length: chain.len(),
        // A key that cannot be used at all (RSA 1024, say) neither matches nor mismatches: unknown.
        key_matches: key.and_then(|k| key_matches(&leaf, k).ok()),
    })
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).expect("16 bytes")).to_string(),
        _ => format!("{bytes:02X?}"),
    }
}
