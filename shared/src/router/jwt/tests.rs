use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use serde_json::json;

use super::*;

const NOW: i64 = 1_800_000_000;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tls")
        .join(name);
    std::fs::read(path).unwrap()
}

fn pkcs8(name: &str) -> Vec<u8> {
    match PrivateKeyDer::from_pem_slice(&fixture(name)).unwrap() {
        PrivateKeyDer::Pkcs8(der) => der.secret_pkcs8_der().to_vec(),
        _ => panic!("{name} is not PKCS#8"),
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token(header: Value, claims: Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{message}.{}", b64(&sign(message.as_bytes())))
}

fn rs256(claims: Value) -> String {
    let pair = RsaKeyPair::from_pkcs8(&pkcs8("rsa.key")).unwrap();
    token(json!({"alg": "RS256", "typ": "JWT"}), claims, |m| {
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            m,
            &mut sig,
        )
        .unwrap();
        sig
    })
}

fn ec_pair() -> EcdsaKeyPair {
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &pkcs8("ec-pkcs8.key"),
        &SystemRandom::new(),
    )
    .unwrap()
}

fn es256(kid: Option<&str>, claims: Value) -> String {
    let pair = ec_pair();
    let header = json!({"alg": "ES256", "kid": kid});
    token(header, claims, |m| {
        pair.sign(&SystemRandom::new(), m)
            .unwrap()
            .as_ref()
            .to_vec()
    })
}

fn secret(pairs: &[(&str, Vec<u8>)]) -> Secret {
    let data: BTreeMap<String, ByteString> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.clone())))
        .collect();
    Secret {
        data: Some(data),
        ..Default::default()
    }
}

fn keys(pairs: &[(&str, Vec<u8>)]) -> TokenKeys {
    let (keys, problems) = TokenKeys::from_secret(&secret(pairs), "Secret `default/token-keys`");
    assert!(problems.is_empty(), "{problems:?}");
    keys
}

fn claims(aud: Value) -> Value {
    json!({"aud": aud, "exp": NOW + 600, "nbf": NOW - 10, "iss": "test"})
}

#[test]
fn rs256_from_a_certificate_and_es256_from_a_jwks_verify() {
    let pem = keys(&[("rsa.crt", fixture("rsa.crt"))]);
    assert_eq!(
        pem.verify(
            rs256(claims(json!("sentiment"))).as_bytes(),
            "sentiment",
            NOW
        ),
        Ok(())
    );

    let public = ec_pair().public_key().as_ref().to_vec();
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
        "x": b64(&public[1..33]), "y": b64(&public[33..])}]});
    let jwks = keys(&[("jwks.json", jwks.to_string().into_bytes())]);
    let token = es256(Some("k1"), claims(json!(["other", "ep1"])));
    assert_eq!(jwks.verify(token.as_bytes(), "ep1", NOW), Ok(()));
    let wrong_kid = es256(Some("k2"), claims(json!("ep1")));
    assert_eq!(
        jwks.verify(wrong_kid.as_bytes(), "ep1", NOW),
        Err(TokenError::Signature)
    );
}

#[test]
fn rsa_keys_from_jwk_components_verify() {
    let pair = RsaKeyPair::from_pkcs8(&pkcs8("rsa.key")).unwrap();
    let components: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
    let jwks = json!({"keys": [{"kty": "RSA", "n": b64(&components.n), "e": b64(&components.e)}]});
    let keys = keys(&[("jwks", jwks.to_string().into_bytes())]);
    assert_eq!(
        keys.verify(rs256(claims(json!("s"))).as_bytes(), "s", NOW),
        Ok(())
    );
}

#[test]
fn expiry_not_before_audience_and_tampering_are_refused() {
    let keys = keys(&[("rsa.crt", fixture("rsa.crt"))]);
    let check = |claims: Value| keys.verify(rs256(claims).as_bytes(), "s", NOW);
    assert_eq!(
        check(json!({"aud": "s", "exp": NOW - 61})),
        Err(TokenError::Expired)
    );
    assert_eq!(
        check(json!({"aud": "s", "exp": NOW - 59})),
        Ok(()),
        "60 s leeway"
    );
    assert_eq!(
        check(json!({"aud": "s"})),
        Err(TokenError::Expired),
        "exp is required"
    );
    assert_eq!(
        check(json!({"aud": "s", "exp": NOW + 600, "nbf": NOW + 61})),
        Err(TokenError::NotYetValid)
    );
    assert_eq!(
        check(json!({"aud": "other", "exp": NOW + 600})),
        Err(TokenError::Audience("s".into()))
    );
    let good = rs256(claims(json!("s")));
    let (head, _) = good.rsplit_once('.').unwrap();
    let forged_claims = b64(claims(json!("admin")).to_string().as_bytes());
    let (header, _) = head.split_once('.').unwrap();
    let tampered = format!(
        "{header}.{forged_claims}.{}",
        good.rsplit_once('.').unwrap().1
    );
    assert_eq!(
        keys.verify(tampered.as_bytes(), "admin", NOW),
        Err(TokenError::Signature)
    );
}

#[test]
fn none_hmac_and_algorithm_confusion_are_refused() {
    let keys = keys(&[("rsa.crt", fixture("rsa.crt"))]);
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims(json!("s")).to_string().as_bytes())
    );
    assert_eq!(
        keys.verify(unsigned.as_bytes(), "s", NOW),
        Err(TokenError::Algorithm("none".into()))
    );
    let hmac = token(json!({"alg": "HS256"}), claims(json!("s")), |_| vec![0; 32]);
    assert_eq!(
        keys.verify(hmac.as_bytes(), "s", NOW),
        Err(TokenError::Algorithm("HS256".into()))
    );
    // An ES256 token is never checked against an RSA key.
    let es = es256(None, claims(json!("s")));
    assert_eq!(
        keys.verify(es.as_bytes(), "s", NOW),
        Err(TokenError::Signature)
    );
    for junk in ["", "a.b", "a.b.c.d", "!!.??.##"] {
        assert_eq!(
            keys.verify(junk.as_bytes(), "s", NOW),
            Err(TokenError::Malformed),
            "{junk}"
        );
    }
}

#[test]
fn unusable_values_and_keys_are_reported_and_skipped() {
    let (keys, problems) = TokenKeys::from_secret(
        &secret(&[
            ("ed.crt", fixture("ed25519.crt")),
            ("notes", b"hello".to_vec()),
            ("ok.crt", fixture("ec.crt")),
        ]),
        "Secret `default/tk`",
    );
    assert_eq!(keys.len(), 1);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("`ed.crt` in Secret `default/tk`: key 1 skipped"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("neither a JWKS document nor PEM"),
        "{problems:?}"
    );
    let (empty, problems) = TokenKeys::from_secret(&Secret::default(), "Secret `default/tk`");
    assert!(empty.is_empty());
    assert_eq!(problems, ["Secret `default/tk` holds no keys"]);
}

#[test]
fn a_verified_token_is_remembered_until_it_expires_and_only_by_its_keys() {
    let keys = keys(&[("rsa.crt", fixture("rsa.crt"))]);
    let token = rs256(json!({"aud": "s", "exp": NOW + 100}));
    assert_eq!(keys.verify(token.as_bytes(), "s", NOW), Ok(()));
    assert_eq!(
        keys.verify(token.as_bytes(), "s", NOW + 150),
        Ok(()),
        "within the leeway"
    );
    assert_eq!(
        keys.verify(token.as_bytes(), "s", NOW + 161),
        Err(TokenError::Expired)
    );
    assert_eq!(
        keys.verify(token.as_bytes(), "other", NOW),
        Err(TokenError::Audience("other".into())),
        "remembered for its audience only"
    );
    // Other keys (a changed Secret) remember nothing: the token is checked against them.
    let other = self::keys(&[("ec.crt", fixture("ec.crt"))]);
    assert_eq!(
        other.verify(token.as_bytes(), "s", NOW),
        Err(TokenError::Signature)
    );
}
