//! Token authentication: a JWT signed RS256 or ES256, checked against the public keys of the
//! `--token-keys-secret` Secret (a JWKS document, or PEM public keys or certificates), with `exp`
//! required, `nbf` honoured (60 s leeway both) and `aud` naming the service. Signatures are checked
//! with ring directly; the algorithm is pinned by the key's type, so `none`, HMAC and algorithm
//! confusion are refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::api::core::v1::Secret;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use rustls_pki_types::pem::{PemObject, SectionKind};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_SECONDS: i64 = 60;
/// Longest token looked at; real ones are well under 4 KiB.
const MAX_TOKEN: usize = 16 * 1024;

#[derive(Debug, Clone)]
enum Material {
    /// PKCS#1 RSAPublicKey DER (from a PEM key or certificate).
    RsaDer(Vec<u8>),
    /// Modulus and exponent (from a JWK).
    RsaParts { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed P-256 point.
    EcP256(Vec<u8>),
}

#[derive(Debug, Clone)]
struct PublicKey {
    kid: Option<String>,
    material: Material,
}

impl PublicKey {
    fn alg(&self) -> &'static str {
        match self.material {
            Material::RsaDer(_) | Material::RsaParts { .. } => "RS256",
            Material::EcP256(_) => "ES256",
        }
    }

    fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.material {
            Material::RsaDer(der) => {
                UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der)
                    .verify(message, sig)
                    .is_ok()
            }
            Material::RsaParts { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            Material::EcP256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
        }
    }
}

/// The public keys tokens may be signed with, and the tokens they already verified.
#[derive(Debug, Default)]
pub struct TokenKeys {
    keys: Vec<PublicKey>,
    verified: Verified,
}

/// Most tokens remembered as verified; past it the memory starts over.
const MAX_VERIFIED: usize = 4096;

/// Tokens already verified, by a SHA-256 of token and audience, with their expiry. Clients reuse a
/// token for its lifetime, and an RS256 check (~26 µs) costs more than the whole proxy hop. It
/// belongs to one set of keys: new keys start with none, so a removed key stops working at once.
#[derive(Debug, Default)]
struct Verified(Mutex<HashMap<[u8; 32], i64>>);

impl Verified {
    fn key(token: &[u8], audience: &str) -> [u8; 32] {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(token);
        context.update(&[0]);
        context.update(audience.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(context.finish().as_ref());
        key
    }

    fn still_valid(&self, key: &[u8; 32], now: i64) -> bool {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).is_some_and(|exp| exp + LEEWAY_SECONDS > now)
    }

    fn remember(&self, key: [u8; 32], exp: i64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_VERIFIED {
            map.clear();
        }
        map.insert(key, exp);
    }
}

/// Why a token was refused (for the log; the client sees only 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with JSON header and claims.
    #[error("the token is not a JWT")]
    Malformed,
    /// `alg` is not one we accept.
    #[error("the token's algorithm `{0}` is not RS256 or ES256")]
    Algorithm(String),
    /// No key of `--token-keys-secret` verifies the signature.
    #[error("no token key verifies the token's signature")]
    Signature,
    /// `exp` is missing or in the past.
    #[error("the token has expired or has no `exp`")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet (`nbf`)")]
    NotYetValid,
    /// `aud` does not name the service.
    #[error("the token's audience is not `{0}`")]
    Audience(String),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    exp: Option<f64>,
    nbf: Option<f64>,
    #[serde(default)]
    aud: Value,
}

impl TokenKeys {
    /// The keys in every data value of a Secret: JWKS documents, or PEM `PUBLIC KEY` /
    /// `CERTIFICATE` blocks. Returns the usable keys and a line for each value or key skipped.
    pub fn from_secret(secret: &Secret, what: &str) -> (Self, Vec<String>) {
        let mut keys = Vec::new();
        let mut problems = Vec::new();
        for (name, value) in secret.data.iter().flatten() {
            let bytes = &value.0;
            let found = if bytes.trim_ascii_start().starts_with(b"{") {
                from_jwks(bytes)
            } else {
                from_pem(bytes)
            };
            match found {
                Ok((mut found, skipped)) => {
                    problems.extend(
                        skipped
                            .into_iter()
                            .map(|s| format!("`{name}` in {what}: {s}")),
                    );
                    keys.append(&mut found);
                }
                Err(why) => problems.push(format!("`{name}` in {what}: {why}")),
            }
        }
        if keys.is_empty() && problems.is_empty() {
            problems.push(format!("{what} holds no keys"));
        }
        (
            Self {
                keys,
                verified: Verified::default(),
            },
            problems,
        )
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks a token for `audience` at `now` (Unix seconds).
    pub fn verify(&self, token: &[u8], audience: &str, now: i64) -> Result<(), TokenError> {
        if token.len() > MAX_TOKEN {
            return Err(TokenError::Malformed);
        }
        let key = Verified::key(token, audience);
        if self.verified.still_valid(&key, now) {
            return Ok(());
        }
        let exp = self.check(token, audience, now)?;
        self.verified.remember(key, exp);
        Ok(())
    }

    /// The full check; the token's `exp` when it passes.
    fn check(&self, token: &[u8], audience: &str, now: i64) -> Result<i64, TokenError> {
        if token.len() > MAX_TOKEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split(|b| *b == b'.');
        let (Some(head), Some(body), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |part: &[u8]| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| TokenError::Malformed)
        };
        let header: Header =
            serde_json::from_slice(&decode(head)?).map_err(|_| TokenError::Malformed)?;
        if header.alg != "RS256" && header.alg != "ES256" {
            return Err(TokenError::Algorithm(header.alg));
        }
        let signature = decode(sig)?;
        let message = &token[..head.len() + 1 + body.len()];
        let verified = self
            .keys
            .iter()
            .filter(|k| k.alg() == header.alg)
            .filter(|k| match (&header.kid, &k.kid) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            })
            .any(|k| k.verifies(message, &signature));
        if !verified {
            return Err(TokenError::Signature);
        }
        let claims: Claims =
            serde_json::from_slice(&decode(body)?).map_err(|_| TokenError::Malformed)?;
        let now = now as f64;
        let leeway = LEEWAY_SECONDS as f64;
        let exp = match claims.exp {
            Some(exp) if exp + leeway > now => exp,
            _ => return Err(TokenError::Expired),
        };
        if claims.nbf.is_some_and(|nbf| nbf - leeway > now) {
            return Err(TokenError::NotYetValid);
        }
        let audience_ok = match &claims.aud {
            Value::String(aud) => aud == audience,
            Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !audience_ok {
            return Err(TokenError::Audience(audience.to_string()));
        }
        // Floored: a cached token never outlives its `exp`.
        Ok(exp.floor() as i64)
    }
}

type Found = (Vec<PublicKey>, Vec<String>);

fn from_jwks(bytes: &[u8]) -> Result<Found, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let list = doc["keys"]
        .as_array()
        .ok_or("a JWKS document has a `keys` array")?;
    let (mut keys, mut skipped) = (Vec::new(), Vec::new());
    for (i, jwk) in list.iter().enumerate() {
        match from_jwk(jwk) {
            Ok(key) => keys.push(key),
            Err(why) => skipped.push(format!("key {} skipped: {why}", i + 1)),
        }
    }
    Ok((keys, skipped))
}

fn from_jwk(jwk: &Value) -> Result<PublicKey, String> {
    let field = |name: &str| -> Result<Vec<u8>, String> {
        let text = jwk[name].as_str().ok_or(format!("no `{name}`"))?;
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| format!("`{name}` is not base64url"))
    };
    let kid = jwk["kid"].as_str().map(str::to_string);
    let material = match (jwk["kty"].as_str(), jwk["crv"].as_str()) {
        (Some("RSA"), _) => Material::RsaParts {
            n: field("n")?,
            e: field("e")?,
        },
        (Some("EC"), Some("P-256")) => {
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("`x` and `y` of a P-256 key are 32 bytes".into());
            }
            Material::EcP256([&[4u8][..], &x, &y].concat())
        }
        (kty, crv) => {
            return Err(format!(
                "kty {} crv {} is not RSA or EC P-256",
                kty.unwrap_or("-"),
                crv.unwrap_or("-")
            ));
        }
    };
    Ok(PublicKey { kid, material })
}

fn from_pem(bytes: &[u8]) -> Result<Found, String> {
    let (mut keys, mut skipped) = (Vec::new(), Vec::new());
    let mut blocks = 0;
    for block in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = block.map_err(|e| format!("broken PEM: {e}"))?;
        blocks += 1;
        let spki = match kind {
            SectionKind::PublicKey => der,
            SectionKind::Certificate => match x509_parser::parse_x509_certificate(&der) {
                Ok((_, cert)) => cert.public_key().raw.to_vec(),
                Err(e) => {
                    skipped.push(format!("certificate {blocks} skipped: {e}"));
                    continue;
                }
            },
            other => {
                skipped.push(format!("a {other:?} block is not a public key"));
                continue;
            }
        };
        match from_spki(&spki) {
            Ok(material) => keys.push(PublicKey {
                kid: None,
                material,
            }),
            Err(why) => skipped.push(format!("key {blocks} skipped: {why}")),
        }
    }
    if blocks == 0 {
        return Err("neither a JWKS document nor PEM public keys".into());
    }
    Ok((keys, skipped))
}

fn from_spki(der: &[u8]) -> Result<Material, String> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|e| e.to_string())?;
    let oid = &spki.algorithm.algorithm;
    let key = spki.subject_public_key.data.to_vec();
    if *oid == OID_PKCS1_RSAENCRYPTION {
        return Ok(Material::RsaDer(key));
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok());
    if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY && curve.as_ref() == Some(&OID_EC_P256) {
        return Ok(Material::EcP256(key));
    }
    Err("only RSA and EC P-256 keys sign tokens".into())
}

#[cfg(test)]
mod tests;
