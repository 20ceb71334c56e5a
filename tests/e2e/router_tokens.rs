//! JWTs signed by the openssl CLI, an independent signer, for the router's token auth tests.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// A TLS fixture's path.
pub fn fixture(name: &str) -> String {
    format!("{}/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run openssl (a prerequisite of the tests)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?} failed");
    out.stdout
}

/// A DER ECDSA signature (SEQUENCE of r and s) as JOSE's fixed 64 bytes.
fn der_to_jose(der: &[u8]) -> Vec<u8> {
    let mut at = 2;
    if der[1] & 0x80 != 0 {
        at += usize::from(der[1] & 0x7f);
    }
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[at], 0x02, "an INTEGER");
        let len = usize::from(der[at + 1]);
        let int = &der[at + 2..at + 2 + len];
        let int = &int[int.len().saturating_sub(32)..];
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend_from_slice(int);
        at += 2 + len;
    }
    out
}

/// A token with these claims, signed by `key` (a fixture) with RS256 or ES256.
pub fn sign(alg: &str, key: &str, kid: Option<&str>, claims: Value) -> String {
    let header = json!({"alg": alg, "typ": "JWT", "kid": kid});
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let der = openssl(
        &["dgst", "-sha256", "-sign", &fixture(key)],
        message.as_bytes(),
    );
    let signature = if alg == "ES256" {
        der_to_jose(&der)
    } else {
        der
    };
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Claims for `aud`, valid from a minute ago for `expires_in` seconds (negative: expired).
pub fn claims(aud: &str, expires_in: i64) -> Value {
    let now = jiff::Timestamp::now().as_second();
    json!({"aud": aud, "iss": "kubectl-aml tests", "nbf": now - 60, "exp": now + expires_in})
}

/// A JWKS document with the EC P-256 public key of `key`, under `kid`.
pub fn ec_jwks(key: &str, kid: &str) -> String {
    let spki = openssl(
        &["ec", "-in", &fixture(key), "-pubout", "-outform", "DER"],
        b"",
    );
    let point = &spki[spki.len() - 64..];
    json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[..32]), "y": URL_SAFE_NO_PAD.encode(&point[32..])}]})
    .to_string()
}

/// A Secret whose values are these texts.
pub fn secret(namespace: &str, name: &str, values: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> = values
        .iter()
        .map(|(k, v)| (k.to_string(), json!(STANDARD.encode(v))))
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": data})
}
