//! The rules the Azure docs only describe, checked before anything is sent: the compute name, the
//! cluster's size for its purpose, its Kubernetes version, the TLS material. Each failure is a
//! [`Problem`] with its own message and hint; `--skip-checks` turns them into warnings.

use std::path::Path;

use aml_core::cli::Printer;
use aml_core::tls;
use serde_json::Value;

use crate::cli::Purpose;

/// What kind of rule failed, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A flag or file given is wrong (exit 2).
    Input,
    /// Something named does not exist (exit 4).
    Missing,
    /// The cluster or workspace is not in a state that allows it (exit 1).
    State,
}

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub kind: Kind,
    pub message: String,
    pub hint: String,
}

/// Failed checks and warnings gathered before a write.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
}

impl Findings {
    /// Records a failed check.
    pub fn fail(&mut self, kind: Kind, message: impl Into<String>, hint: impl Into<String>) {
        self.problems.push(Problem {
            kind,
            message: message.into(),
            hint: hint.into(),
        });
    }

    /// Records a warning.
    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    /// A look-up that only helps a check (VM sizes, Kubernetes versions) failed: one more warning,
    /// so the rules still report; running out of --timeout still ends the command.
    pub fn lookup_failed(
        &mut self,
        what: &str,
        error: aml_core::Error,
    ) -> Result<(), aml_core::Error> {
        if let aml_core::Error::Arm(e) = &error
            && matches!(**e, aml_core::arm::Error::CommandTimeout { .. })
        {
            return Err(error);
        }
        // The deepest cause is what Azure said (`AuthorizationFailed: …`), not the URL.
        let mut why = error.to_string();
        let mut cause = std::error::Error::source(&error);
        while let Some(c) = cause {
            why = c.to_string();
            cause = c.source();
        }
        let why = aml_core::redact::text(&why).into_owned();
        self.warn(format!("{what} skipped: the look-up failed ({why})"));
        Ok(())
    }

    /// Prints the warnings; refuses when a check failed, unless `skip` (then each is a warning).
    pub fn conclude(self, skip: bool, out: &mut Printer) -> Result<(), aml_core::Error> {
        for warning in &self.warnings {
            out.warn(warning);
        }
        if skip {
            for p in &self.problems {
                out.warn(&format!("check skipped (--skip-checks): {}", p.message));
            }
            return Ok(());
        }
        let Some(first) = self.problems.first() else {
            return Ok(());
        };
        let (message, hint) = if self.problems.len() == 1 {
            (first.message.clone(), first.hint.clone())
        } else {
            for p in &self.problems {
                out.warn(&format!("check failed: {} ({})", p.message, p.hint));
            }
            let message = format!(
                "{} checks failed (listed above); nothing was sent",
                self.problems.len()
            );
            (
                message,
                "fix them, or pass --skip-checks to send anyway".to_string(),
            )
        };
        Err(match first.kind {
            Kind::Input => aml_core::Error::usage(message, hint),
            Kind::Missing => aml_core::Error::not_found(message, hint),
            Kind::State => aml_core::Error::refused(message, hint),
        })
    }
}

/// The docs' rule: letters, digits and hyphens, a letter first, a letter or digit last, 3–24 long.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    let why = if !(3..=24).contains(&chars.len()) {
        format!("is {} characters long; it must be 3 to 24", chars.len())
    } else if !chars[0].is_ascii_alphabetic() {
        "must start with a letter".into()
    } else if !chars[chars.len() - 1].is_ascii_alphanumeric() {
        "must end with a letter or digit".into()
    } else if let Some(c) = chars
        .iter()
        .find(|c| !(c.is_ascii_alphanumeric() || **c == '-'))
    {
        format!("contains `{c}`; only letters, digits and hyphens are allowed")
    } else {
        return None;
    };
    Some(format!("compute name `{name}` {why}"))
}

/// Node and vCPU minimums of a purpose: production 3 nodes and 12 vCPUs, dev-test 1 node.
pub(crate) fn capacity_problem(
    purpose: Purpose,
    nodes: u64,
    vcpus: Option<u64>,
) -> Option<(String, String)> {
    let (min_nodes, min_cpus) = match purpose {
        Purpose::FastProd => (3, 12),
        Purpose::DevTest => (1, 0),
    };
    let cpus = vcpus.map(|c| format!(" and {c} vCPUs")).unwrap_or_default();
    if nodes < min_nodes || vcpus.is_some_and(|c| c < min_cpus) {
        let need = match purpose {
            Purpose::FastProd => {
                "a production (FastProd) cluster needs at least 3 nodes and 12 vCPUs"
            }
            Purpose::DevTest => "a dev-test cluster needs at least 1 node",
        };
        let hint = match purpose {
            Purpose::FastProd => {
                "add nodes (`az aks scale`), or use --cluster-purpose DevTest for a test cluster"
            }
            Purpose::DevTest => "add a node (`az aks scale --node-count 1`)",
        };
        return Some((
            format!("the cluster has {nodes} nodes{cpus}: {need}"),
            hint.into(),
        ));
    }
    None
}

/// vCPUs of a VM size from a `vmSizes` answer.
pub(crate) fn vcpus_of(sizes: &[Value], vm_size: &str) -> Option<u64> {
    sizes
        .iter()
        .find(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(vm_size))
        })
        .and_then(|s| s["vCPUs"].as_u64())
}

/// How a cluster's Kubernetes version stands in a `kubernetesVersions` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VersionStanding {
    Supported,
    Preview,
    Unsupported(Vec<String>),
}

/// Compares `major.minor` of `version` (`1.29.4`) with the versions AKS lists.
pub(crate) fn version_standing(answer: &Value, version: &str) -> VersionStanding {
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let values = answer["values"].as_array().cloned().unwrap_or_default();
    match values
        .iter()
        .find(|v| v["version"].as_str() == Some(minor.as_str()))
    {
        Some(v) if v["isPreview"].as_bool() == Some(true) => VersionStanding::Preview,
        Some(_) => VersionStanding::Supported,
        None => VersionStanding::Unsupported(
            values
                .iter()
                .filter_map(|v| v["version"].as_str().map(str::to_string))
                .collect(),
        ),
    }
}

/// Checks a custom certificate pair the way `kubectl aml certs verify` does: both parse, the key
/// matches, the chain is in order, the leaf is valid now and covers the CNAME.
pub(crate) fn tls_problems(
    cert: &Path,
    key: &Path,
    cname: &str,
) -> Result<(String, String, Vec<String>), aml_core::Error> {
    let material = tls::Material::from_files(cert, key)?;
    let options = tls::VerifyOptions {
        min_days: 0,
        cname: Some(cname.to_string()),
        now: jiff::Timestamp::now(),
    };
    let checks = tls::verify(
        tls::parse_chain(&material.cert),
        tls::parse_key(&material.key),
        &options,
    );
    let failed = checks
        .iter()
        .filter(|c| c.status == tls::CheckStatus::Fail)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    let text = |part: &tls::Part| String::from_utf8_lossy(&part.bytes).into_owned();
    Ok((text(&material.cert), text(&material.key), failed))
}

/// An IPv4 CIDR (`10.0.0.0/16`) as address and prefix length.
pub(crate) fn parse_cidr(text: &str) -> Option<(std::net::Ipv4Addr, u8)> {
    let (addr, bits) = text.split_once('/')?;
    let bits: u8 = bits.parse().ok().filter(|b| *b <= 32)?;
    Some((addr.parse().ok()?, bits))
}

/// Whether `addr` lies in the range.
pub(crate) fn cidr_contains(
    (base, bits): (std::net::Ipv4Addr, u8),
    addr: std::net::Ipv4Addr,
) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(base) & mask == u32::from(addr) & mask
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn compute_names_follow_the_docs() {
        for good in ["aks", "my-aks-1", "A23456789012345678901234"] {
            assert_eq!(name_problem(good), None, "{good}");
        }
        for (bad, why) in [
            ("ab", "3 to 24"),
            ("a2345678901234567890123456", "3 to 24"),
            ("1aks", "start with a letter"),
            ("aks-", "end with a letter or digit"),
            ("my_aks", "contains `_`"),
        ] {
            assert!(name_problem(bad).unwrap().contains(why), "{bad}");
        }
    }

    #[test]
    fn purposes_need_their_nodes_and_vcpus() {
        assert_eq!(capacity_problem(Purpose::FastProd, 3, Some(12)), None);
        assert!(
            capacity_problem(Purpose::FastProd, 2, Some(16))
                .unwrap()
                .0
                .contains("2 nodes")
        );
        assert!(
            capacity_problem(Purpose::FastProd, 3, Some(6))
                .unwrap()
                .0
                .contains("6 vCPUs")
        );
        assert_eq!(capacity_problem(Purpose::FastProd, 3, None), None);
        assert_eq!(capacity_problem(Purpose::DevTest, 1, Some(2)), None);
        assert!(capacity_problem(Purpose::DevTest, 0, Some(0)).is_some());
    }

    #[test]
    fn cidrs_parse_and_contain() {
        let range = parse_cidr("10.0.0.0/16").unwrap();
        assert!(cidr_contains(range, "10.0.0.10".parse().unwrap()));
        assert!(!cidr_contains(range, "10.1.0.10".parse().unwrap()));
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
        assert_eq!(parse_cidr("10.0.0/16"), None);
    }

    #[test]
    fn versions_are_judged_by_minor() {
        let answer = json!({"values": [{"version": "1.29", "isDefault": true}, {"version": "1.31", "isPreview": true}]});
        assert_eq!(
            version_standing(&answer, "1.29.4"),
            VersionStanding::Supported
        );
        assert_eq!(
            version_standing(&answer, "1.31.1"),
            VersionStanding::Preview
        );
        assert_eq!(
            version_standing(&answer, "1.25.6"),
            VersionStanding::Unsupported(vec!["1.29".into(), "1.31".into()])
        );
    }
}
