//! A certificate summary as a FIELD/VALUE table, shared by `export` and `inspect`.

use aml_core::cli::{Table, plural};
use aml_core::tls::CertSummary;

/// The summary of the pair read from `source`.
pub(crate) fn table(source: &str, s: &CertSummary) -> Table {
    let mut t = Table::new(["FIELD", "VALUE"]);
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(", ")
        }
    };
    t.row(["source", source]);
    t.row(["subject", &s.subject]);
    t.row(["dns names".to_string(), list(&s.dns_names)]);
    if !s.ip_addresses.is_empty() {
        t.row(["ip addresses".to_string(), list(&s.ip_addresses)]);
    }
    t.row(["issuer", &s.issuer]);
    t.row(["not before", &s.not_before]);
    t.row(["not after", &s.not_after]);
    let days = match s.days_left {
        d if d < 0 => format!("expired {} ago", plural(d.unsigned_abs(), "day")),
        d => d.to_string(),
    };
    t.row(["days left".to_string(), days]);
    t.row(["key".to_string(), s.key.describe()]);
    t.row([
        "fingerprint".to_string(),
        format!("SHA256 {}", s.fingerprint_sha256),
    ]);
    t.row([
        "chain".to_string(),
        plural(s.chain_length as u64, "certificate"),
    ]);
    if let Some(matches) = s.key_matches {
        t.row(["key matches", if matches { "yes" } else { "no" }]);
    }
    t
}

/// Warnings worth printing about a summary: expired, expiring, key mismatch.
pub(crate) fn warnings(s: &CertSummary) -> Vec<String> {
    let mut warnings = Vec::new();
    if s.days_left < 0 {
        warnings.push(format!("the certificate expired on {}", s.not_after));
    } else if s.days_left < 30 {
        warnings.push(format!(
            "the certificate expires in {} ({})",
            plural(s.days_left as u64, "day"),
            s.not_after
        ));
    }
    if s.key_matches == Some(false) {
        warnings.push("the private key does not belong to the certificate".into());
    }
    warnings
}
