//! Kubernetes names as the API server checks them, checked before any request: a namespace is an
//! RFC 1123 label, most object names an RFC 1123 subdomain.

/// An RFC 1123 subdomain: at most 253 of `a-z 0-9 - .`, starting and ending alphanumeric.
pub fn is_dns_subdomain(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && text.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && text.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// An RFC 1123 label: a subdomain of at most 63 characters without dots.
pub fn is_dns_label(text: &str) -> bool {
    text.len() <= 63 && !text.contains('.') && is_dns_subdomain(text)
}

/// `text` when `valid`, else an error naming `what` and the rule.
fn checked(text: &str, valid: bool, what: &str, rule: &str) -> Result<String, String> {
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a valid {what}: {rule}, starting and ending with a letter or digit"
        ))
    }
}

/// clap's parser for `-n/--namespace`.
pub fn namespace(text: &str) -> Result<String, String> {
    let rule = "at most 63 lower-case letters, digits and `-`";
    checked(text, is_dns_label(text), "namespace", rule)
}

/// clap's parser for flags naming a Kubernetes object (a Secret, Deployment, Lease, Service).
pub fn object_name(text: &str) -> Result<String, String> {
    let rule = "at most 253 lower-case letters, digits, `-` and `.`";
    checked(text, is_dns_subdomain(text), "object name", rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains_as_the_api_server_takes_them() {
        for good in ["a", "azureml", "team-a", "0ns", &"a".repeat(63)] {
            assert!(is_dns_label(good), "{good}");
        }
        for bad in [
            "",
            "A",
            "Bad_NS",
            "-a",
            "a-",
            "a.b",
            "ns/x",
            &"a".repeat(64),
            "ns\n",
        ] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
        assert!(is_dns_subdomain("a.b-c.d"));
        assert!(!is_dns_subdomain(".a") && !is_dns_subdomain(&"a".repeat(254)));
        assert_eq!(object_name("azuremlfessl").as_deref(), Ok("azuremlfessl"));
        assert!(
            object_name("Bad_Name")
                .unwrap_err()
                .contains("is not a valid object name")
        );
    }
}
