//! The fake ARM's token issuer: `POST …/onlineEndpoints/{name}/token` answers a real ES256 JWT
//! (audience the endpoint's name, an hour's life) signed by a P-256 key made when the fake starts.
//! Its public half, as a JWKS document, is what the sandbox's extension puts in the token keys
//! Secret the router trusts — so `deploy token` gives a token the router accepts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;

/// Who the tokens say issued them.
pub const ISSUER: &str = "https://fake-arm.local/token";

/// A signing key and its key id.
pub struct Signer {
    key: EcdsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl Signer {
    /// A fresh P-256 key.
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("a P-256 key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("the key just made");
        let point = key.public_key().as_ref();
        // The key id: the first bytes of the public point, enough to tell keys apart.
        let kid = URL_SAFE_NO_PAD.encode(&point[1..10]);
        Self { key, kid, rng }
    }

    /// The public key as a JWKS document (one `EC`/`P-256` key, `alg` ES256).
    pub fn jwks(&self) -> String {
        // An uncompressed point: 0x04, then x and y (32 bytes each).
        let point = self.key.public_key().as_ref();
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]})
        .to_string()
    }

    /// A token for `audience`, issued at `now` (Unix seconds), valid for `lifetime` seconds.
    pub fn sign(&self, audience: &str, now: i64, lifetime: i64) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let claims =
            json!({"iss": ISSUER, "aud": audience, "iat": now, "nbf": now, "exp": now + lifetime});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&self.rng, signed.as_bytes())
            .expect("ECDSA signing");
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aml_core::router::jwt::TokenKeys;
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;

    fn keys(jwks: String) -> TokenKeys {
        let secret = Secret {
            data: Some([("jwks.json".to_string(), ByteString(jwks.into_bytes()))].into()),
            ..Default::default()
        };
        let (keys, problems) = TokenKeys::from_secret(&secret, "test");
        assert!(problems.is_empty(), "{problems:?}");
        keys
    }

    #[test]
    fn the_routers_verifier_accepts_its_tokens_for_their_audience_only() {
        let signer = Signer::new();
        let now = 1_800_000_000;
        let token = signer.sign("sentiment", now, 3600);
        let trusted = keys(signer.jwks());
        assert!(
            trusted
                .verify(token.as_bytes(), "sentiment", now + 10)
                .is_ok()
        );
        assert!(trusted.verify(token.as_bytes(), "other", now + 10).is_err());
        assert!(
            trusted
                .verify(token.as_bytes(), "sentiment", now + 7200)
                .is_err()
        );
        let stranger = keys(Signer::new().jwks());
        assert!(
            stranger
                .verify(token.as_bytes(), "sentiment", now + 10)
                .is_err()
        );
    }
}
