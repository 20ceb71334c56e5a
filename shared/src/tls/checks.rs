//! The checks `certs verify` runs and `certs rotate` requires: both parts decode, the key type is
//! one azureml-fe can use, the key matches the leaf, the chain is in order with valid signatures,
//! the leaf is valid now and for long enough, and (if asked) it covers a host name.

use jiff::Timestamp;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use x509_parser::certificate::X509Certificate;

use super::chain::chain_checks;

use super::summary::{key_info, key_matches, parse};
use super::{Error, name_matches, summarize};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// It holds.
    Pass,
    /// It does not.
    Fail,
    /// It could not run (an earlier check failed).
    Skipped,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable id: `certificate`, `private-key`, `key-type`, `key-match`, `chain-order`,
    /// `chain-signatures`, `valid-now`, `min-days`, `cname`.
    pub name: &'static str,
    /// The outcome.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
}

/// What to check against.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The leaf must stay valid at least this many more days.
    pub min_days: i64,
    /// A host name the leaf must cover.
    pub cname: Option<String>,
    /// The time to check at.
    pub now: Timestamp,
}

pub(super) fn check(name: &'static str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name,
        status: if ok {
            CheckStatus::Pass
        } else {
            CheckStatus::Fail
        },
        detail: detail.into(),
    }
}

pub(super) fn skipped(name: &'static str, why: &str) -> Check {
    Check {
        name,
        status: CheckStatus::Skipped,
        detail: why.into(),
    }
}

/// Runs every check; a decoding failure becomes a failed check, and what depends on it is skipped.
pub fn verify(
    chain: Result<Vec<CertificateDer<'_>>, Error>,
    key: Result<PrivateKeyDer<'_>, Error>,
    options: &VerifyOptions,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let chain = match chain {
        Ok(chain) => {
            checks.push(check(
                "certificate",
                true,
                crate::cli::plural(chain.len() as u64, "certificate"),
            ));
            Some(chain)
        }
        Err(e) => {
            checks.push(check("certificate", false, e.to_string()));
            None
        }
    };
    let key = match key {
        Ok(key) => {
            let encoding = match &key {
                PrivateKeyDer::Pkcs1(_) => "PKCS#1",
                PrivateKeyDer::Sec1(_) => "SEC1",
                _ => "PKCS#8",
            };
            checks.push(check(
                "private-key",
                true,
                format!("{encoding} private key"),
            ));
            Some(key)
        }
        Err(e) => {
            checks.push(check("private-key", false, e.to_string()));
            None
        }
    };
    let parsed: Option<Vec<X509Certificate<'_>>> = chain.as_ref().and_then(|c| {
        c.iter()
            .enumerate()
            .map(|(i, der)| parse(der, i))
            .collect::<Result<_, _>>()
            .ok()
    });
    let Some(certs) = parsed else {
        let why = "the certificate does not decode";
        for name in [
            "key-type",
            "key-match",
            "chain-order",
            "chain-signatures",
            "valid-now",
            "min-days",
        ] {
            checks.push(skipped(name, why));
        }
        if options.cname.is_some() {
            checks.push(skipped("cname", why));
        }
        return checks;
    };
    let leaf = &certs[0];
    let info = key_info(leaf);
    let supported = "azureml-fe needs RSA 2048–4096, ECDSA P-256/P-384 or Ed25519";
    checks.push(check(
        "key-type",
        info.supported(),
        if info.supported() {
            info.describe()
        } else {
            format!("{}: {supported}", info.describe())
        },
    ));
    checks.push(match &key {
        None => skipped("key-match", "the private key does not decode"),
        Some(key) => match key_matches(leaf, key) {
            Ok(true) => check(
                "key-match",
                true,
                "the private key belongs to the leaf certificate",
            ),
            Ok(false) => check(
                "key-match",
                false,
                "the private key does not belong to the leaf certificate",
            ),
            Err(reason) => check("key-match", false, reason),
        },
    });
    checks.extend(chain_checks(&certs));
    let summary = summarize(chain.as_deref().unwrap_or_default(), None, options.now);
    match summary {
        Ok(s) => {
            let now = options.now.as_second();
            let validity = leaf.validity();
            let started = validity.not_before.timestamp() <= now;
            let running = now <= validity.not_after.timestamp();
            let detail = match (started, running) {
                (false, _) => format!("not valid before {}", s.not_before),
                (_, false) => format!("expired on {}", s.not_after),
                _ => format!("valid from {} to {}", s.not_before, s.not_after),
            };
            checks.push(check("valid-now", started && running, detail));
            let enough = s.days_left >= options.min_days;
            checks.push(check(
                "min-days",
                enough,
                format!(
                    "{} left, at least {} wanted",
                    crate::cli::plural(s.days_left.max(0) as u64, "day"),
                    options.min_days
                ),
            ));
            if let Some(host) = &options.cname {
                let covered = s.dns_names.iter().any(|n| name_matches(n, host));
                let names = if s.dns_names.is_empty() {
                    "no DNS names".to_string()
                } else {
                    s.dns_names.join(", ")
                };
                let detail = format!(
                    "`{host}` {} the certificate's DNS names ({names})",
                    if covered {
                        "is covered by"
                    } else {
                        "is not covered by"
                    }
                );
                checks.push(check("cname", covered, detail));
            }
        }
        Err(e) => checks.push(check("valid-now", false, e.to_string())),
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{fixture, parse_chain, parse_key};

    fn run(
        cert: &str,
        key: &str,
        cname: Option<&str>,
        now: &str,
    ) -> Vec<(&'static str, CheckStatus)> {
        let options = VerifyOptions {
            min_days: 30,
            cname: cname.map(str::to_string),
            now: now.parse().unwrap(),
        };
        verify(
            parse_chain(&fixture(cert)),
            parse_key(&fixture(key)),
            &options,
        )
        .into_iter()
        .map(|c| (c.name, c.status))
        .collect()
    }

    fn failed(checks: &[(&'static str, CheckStatus)]) -> Vec<&'static str> {
        checks
            .iter()
            .filter(|(_, s)| *s == CheckStatus::Fail)
            .map(|(n, _)| *n)
            .collect()
    }

    // After the fixtures were made (2026-11-23), long before they expire.
    const NOW: &str = "2027-06-01T00:00:00Z";

    #[test]
    fn good_pairs_pass_every_check() {
        for (cert, key) in [
            ("rsa.crt", "rsa.key"),
            ("rsa-chain.crt", "rsa-pkcs1.key"),
            ("ec.crt", "ec.key"),
            ("ec.crt", "ec-pkcs8.key"),
            ("ec384.crt", "ec384.key"),
            ("ed25519.crt", "ed25519.key"),
            ("selfsigned.crt", "selfsigned.key"),
        ] {
            let checks = run(cert, key, None, NOW);
            assert_eq!(
                failed(&checks),
                Vec::<&str>::new(),
                "{cert} + {key}: {checks:?}"
            );
            assert_eq!(checks.len(), 8);
        }
    }

    #[test]
    fn each_problem_fails_its_own_check() {
        assert_eq!(
            failed(&run("rsa.crt", "other.key", None, NOW)),
            ["key-match"]
        );
        assert_eq!(
            failed(&run("expired.crt", "expired.key", None, NOW)),
            ["valid-now", "min-days"]
        );
        assert_eq!(
            failed(&run("rsa.crt", "rsa.key", None, "2126-10-01T00:00:00Z")),
            ["min-days"]
        );
        assert_eq!(
            failed(&run("rsa.crt", "rsa.key", None, "2019-01-01T00:00:00Z")),
            ["valid-now"]
        );
        assert_eq!(
            failed(&run("rsa1024.crt", "rsa1024.key", None, NOW)),
            ["key-type", "key-match"]
        );
        let reversed = run("rsa-chain-reversed.crt", "rsa.key", None, NOW);
        assert!(failed(&reversed).contains(&"chain-order"), "{reversed:?}");
        assert!(reversed.contains(&("chain-signatures", CheckStatus::Skipped)));
        assert_eq!(
            failed(&run("rsa-chain-gap.crt", "rsa.key", None, NOW)),
            ["chain-order"]
        );
    }

    #[test]
    fn undecodable_parts_fail_and_skip_what_depends_on_them() {
        let checks = run("rsa.key", "rsa.key", Some("fe.example.com"), NOW);
        assert_eq!(failed(&checks), ["certificate"]);
        assert_eq!(
            checks
                .iter()
                .filter(|(_, s)| *s == CheckStatus::Skipped)
                .count(),
            7
        );
        let checks = run("rsa.crt", "rsa-encrypted.key", None, NOW);
        assert_eq!(failed(&checks), ["private-key"]);
        assert!(checks.contains(&("key-match", CheckStatus::Skipped)));
    }

    #[test]
    fn cname_follows_rfc_6125_against_the_san() {
        assert_eq!(
            failed(&run("rsa.crt", "rsa.key", Some("x.apps.example.com"), NOW)),
            Vec::<&str>::new()
        );
        assert_eq!(
            failed(&run("rsa.crt", "rsa.key", Some("apps.example.com"), NOW)),
            ["cname"]
        );
        assert_eq!(
            failed(&run("rsa.crt", "rsa.key", Some("FE.example.com"), NOW)),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn the_summary_names_key_types_and_the_cname_to_use() {
        let summary = |f: &str| {
            summarize(
                &parse_chain(&fixture(f)).unwrap(),
                None,
                NOW.parse().unwrap(),
            )
            .unwrap()
        };
        let rsa = summary("rsa-chain.crt");
        assert_eq!(
            (rsa.key.describe(), rsa.chain_length),
            ("RSA 2048".to_string(), 2)
        );
        assert_eq!(rsa.dns_names, ["fe.example.com", "*.apps.example.com"]);
        assert_eq!(rsa.primary_name().as_deref(), Some("fe.example.com"));
        assert_eq!(summary("ec.crt").key.describe(), "ECDSA P-256");
        assert_eq!(summary("ec384.crt").key.describe(), "ECDSA P-384");
        assert_eq!(summary("ed25519.crt").key.describe(), "Ed25519");
        let expired = summary("expired.crt");
        assert_eq!(
            (expired.not_after.as_str(), expired.days_left < 0),
            ("2021-01-01T00:00:00Z", true)
        );
    }
}
