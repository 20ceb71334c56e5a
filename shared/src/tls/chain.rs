//! The chain checks: each certificate is issued by the next one (names chain) and its signature
//! verifies with the next one's key; a lone self-signed certificate is checked against itself.

use x509_parser::certificate::X509Certificate;

use super::Check;
use super::checks::{check, skipped};

/// Each certificate must be issued by the next one: names chain and signatures verify. A lone
/// self-signed certificate is checked against itself.
pub(super) fn chain_checks(certs: &[X509Certificate<'_>]) -> [Check; 2] {
    let pairs: Vec<(usize, &X509Certificate<'_>, &X509Certificate<'_>)> = certs
        .windows(2)
        .enumerate()
        .map(|(i, w)| (i, &w[0], &w[1]))
        .collect();
    if let Some((i, cert, next)) = pairs
        .iter()
        .find(|(_, c, n)| c.issuer().as_raw() != n.subject().as_raw())
    {
        let detail = format!(
            "certificate {} is issued by `{}` but certificate {} is `{}`: put the leaf first, then each issuer",
            i + 1,
            cert.issuer(),
            i + 2,
            next.subject()
        );
        return [
            check("chain-order", false, detail),
            skipped("chain-signatures", "the chain is out of order"),
        ];
    }
    let order = if certs.len() == 1 {
        "a single certificate".to_string()
    } else {
        format!("{} certificates, each issued by the next", certs.len())
    };
    let leaf = &certs[0];
    let signatures = if let Some((i, _, _)) = pairs
        .iter()
        .find(|(_, c, n)| c.verify_signature(Some(n.public_key())).is_err())
    {
        check(
            "chain-signatures",
            false,
            format!(
                "the signature on certificate {} does not verify with certificate {}'s key",
                i + 1,
                i + 2
            ),
        )
    } else if certs.len() == 1 && leaf.subject().as_raw() == leaf.issuer().as_raw() {
        let ok = leaf.verify_signature(None).is_ok();
        check(
            "chain-signatures",
            ok,
            if ok {
                "self-signed, signature verifies"
            } else {
                "self-signed, but its signature does not verify"
            },
        )
    } else if certs.len() == 1 {
        check(
            "chain-signatures",
            true,
            "no issuer in the chain to check against (clients must have it)",
        )
    } else {
        check("chain-signatures", true, "every signature verifies")
    };
    [check("chain-order", true, order), signatures]
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::CertificateDer;

    use crate::tls::{CheckStatus, VerifyOptions, fixture, parse_chain, parse_key, verify};

    #[test]
    fn a_tampered_signature_is_caught() {
        let mut chain = parse_chain(&fixture("rsa-chain.crt")).unwrap();
        let mut leaf = chain[0].to_vec();
        *leaf.last_mut().unwrap() ^= 0x01; // the last byte of the signature
        chain[0] = CertificateDer::from(leaf);
        let options = VerifyOptions {
            min_days: 30,
            cname: None,
            now: "2027-06-01T00:00:00Z".parse().unwrap(),
        };
        let checks = verify(Ok(chain), parse_key(&fixture("rsa.key")), &options);
        let signatures = checks
            .iter()
            .find(|c| c.name == "chain-signatures")
            .unwrap();
        assert_eq!(signatures.status, CheckStatus::Fail, "{checks:?}");
        assert_eq!(
            signatures.detail,
            "the signature on certificate 1 does not verify with certificate 2's key"
        );
    }
}
