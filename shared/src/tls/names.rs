//! Host name matching against a certificate's DNS names, per RFC 6125 §6.4: case-insensitive, a
//! trailing dot ignored, and a wildcard only as the whole left-most label, standing for exactly one
//! label (`*.example.com` matches `a.example.com`, not `example.com` nor `a.b.example.com`).

/// Whether `host` is covered by the certificate name `pattern`.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let normal = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let (pattern, host) = (normal(pattern), normal(host));
    if pattern.is_empty() || host.is_empty() || host.contains('*') {
        return false;
    }
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return pattern == host;
    };
    // A wildcard needs at least two labels after it (no `*.com`), and no other `*` anywhere.
    if suffix.contains('*') || suffix.split('.').count() < 2 {
        return false;
    }
    match host.split_once('.') {
        Some((first, rest)) => !first.is_empty() && rest == suffix,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_rfc_6125() {
        let cases = [
            ("fe.example.com", "fe.example.com", true),
            ("fe.example.com", "FE.Example.COM.", true),
            ("fe.example.com", "other.example.com", false),
            ("*.apps.example.com", "x.apps.example.com", true),
            ("*.apps.example.com", "X.APPS.example.com", true),
            ("*.apps.example.com", "apps.example.com", false),
            ("*.apps.example.com", "a.b.apps.example.com", false),
            ("*.apps.example.com", ".apps.example.com", false),
            ("*.com", "example.com", false),
            ("f*.example.com", "fe.example.com", false),
            ("*.*.example.com", "a.b.example.com", false),
            ("fe.example.com", "*.example.com", false),
            ("", "fe.example.com", false),
        ];
        for (pattern, host, want) in cases {
            assert_eq!(name_matches(pattern, host), want, "{pattern} vs {host}");
        }
    }
}
