//! `kubectl aml fe install` flags, and every check that needs no cluster: the image reference, the
//! load balancer options, the TLS pair (checked as `certs verify` checks it). A bad one is a usage
//! error before anything is read from or sent to the cluster.

use std::path::PathBuf;
use std::time::Duration;

use aml_core::Error;
use aml_core::cli::{DryRun, parse_duration};
use aml_core::k8s::install::{LoadBalancer, Purpose as InstallPurpose};
use aml_core::tls::{self, CheckStatus, Material, VerifyOptions};
use clap::ValueEnum;

use crate::serve::Purpose;

/// `--load-balancer-type` (the v1 SDK's values, as `attach` takes them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum LoadBalancerType {
    /// A public IP address
    #[default]
    #[value(name = "PublicIp")]
    PublicIp,
    /// An AKS internal load balancer (in --load-balancer-subnet if given)
    #[value(name = "InternalLoadBalancer")]
    InternalLoadBalancer,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InstallArgs {
    /// The router's container image [default: the kubectl-aml image of this version]
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,

    /// The cluster's purpose: fast-prod runs 3 routers spread over nodes that scale themselves;
    /// dev-test runs 1 that does not
    #[arg(long, value_enum, value_name = "PURPOSE", default_value = "fast-prod")]
    cluster_purpose: Purpose,

    /// How long lower demand must last before the router's autoscaler removes model replicas
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    scale_down_window: Duration,

    /// Where the scoring Service's address comes from
    #[arg(long, value_enum, value_name = "TYPE", default_value_t)]
    load_balancer_type: LoadBalancerType,

    /// The subnet of the internal load balancer
    #[arg(long, value_name = "SUBNET")]
    load_balancer_subnet: Option<String>,

    /// Certificate chain (PEM, leaf first) for the azuremlfessl Secret; an existing Secret is
    /// kept (and backed up before it is replaced) unless this is given
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,

    /// Private key (PEM) of --cert
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,

    /// Take over an azureml-fe that kubectl-aml did not install (its TLS Secret is backed up first)
    #[arg(long)]
    force: bool,

    /// Directory for backups of the TLS Secret [default: the current directory]
    #[arg(long, value_name = "DIR", default_value = ".")]
    backup_dir: PathBuf,

    /// Wait until the router's Deployment is available (its rollout is complete)
    #[arg(long, value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    wait: bool,

    /// How long --wait waits (e.g. 90s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    timeout: Duration,

    /// `client` prints the manifests (-o yaml|json) and sends nothing; `server` asks the server
    /// to check the apply (dryRun=All)
    #[arg(long, value_enum, value_name = "MODE", default_value_t, num_args = 0..=1,
          default_missing_value = "client", require_equals = true)]
    dry_run: DryRun,

    /// With --dry-run=client, print the TLS Secret's private key too (left out otherwise)
    // Named like every other verb's; the singular stays as an alias for scripts written before.
    #[arg(long = "show-secrets", alias = "show-secret")]
    show_secret: bool,

    /// Take over with --force without asking
    #[arg(short = 'y', long)]
    yes: bool,
}

/// What `fe install` will do, resolved and checked without the cluster.
#[derive(Debug, Clone)]
pub(crate) struct InstallPlan {
    pub image: String,
    pub purpose: InstallPurpose,
    pub scale_down_window: Duration,
    pub load_balancer: LoadBalancer,
    /// The new TLS pair, PEM, already verified.
    pub tls: Option<(String, String)>,
    pub force: bool,
    pub backup_dir: PathBuf,
    pub wait: bool,
    pub timeout: Duration,
    pub dry_run: DryRun,
    pub show_secret: bool,
    pub yes: bool,
}

/// The image this build of kubectl-aml runs as.
pub(crate) fn default_image() -> String {
    format!(
        "ghcr.io/kubectl-aml/kubectl-aml:{}",
        env!("CARGO_PKG_VERSION")
    )
}

impl InstallArgs {
    /// Checks everything that needs no cluster.
    pub(crate) fn plan(self) -> Result<InstallPlan, Error> {
        let image = self.image.unwrap_or_else(default_image);
        check_image(&image).map_err(|why| {
            Error::usage(
                format!("--image `{image}` is not an image reference: {why}"),
                "use REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. ghcr.io/org/router:1.2.3",
            )
        })?;
        let internal = self.load_balancer_type == LoadBalancerType::InternalLoadBalancer;
        if self.load_balancer_subnet.is_some() && !internal {
            return Err(Error::usage(
                "--load-balancer-subnet applies only to an internal load balancer",
                "add --load-balancer-type InternalLoadBalancer, or drop --load-balancer-subnet",
            ));
        }
        if self.scale_down_window.is_zero() {
            return Err(Error::usage(
                "--scale-down-window must be greater than 0",
                "use a duration like 60s (the docs' default) or 5m",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::usage(
                "--timeout must be greater than 0",
                "use a duration like 90s or 5m",
            ));
        }
        if self.show_secret && self.dry_run != DryRun::Client {
            return Err(Error::usage(
                "--show-secrets applies only to --dry-run=client",
                "add --dry-run=client -o yaml to print the manifests",
            ));
        }
        let tls = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(checked_pair(cert, key)?),
            _ => None,
        };
        Ok(InstallPlan {
            image,
            purpose: match self.cluster_purpose {
                Purpose::FastProd => InstallPurpose::FastProd,
                Purpose::DenseProd => InstallPurpose::DenseProd,
                Purpose::DevTest => InstallPurpose::DevTest,
            },
            scale_down_window: self.scale_down_window,
            load_balancer: if internal {
                LoadBalancer::Internal {
                    subnet: self.load_balancer_subnet,
                }
            } else {
                LoadBalancer::Public
            },
            tls,
            force: self.force,
            backup_dir: self.backup_dir,
            wait: self.wait,
            timeout: self.timeout,
            dry_run: self.dry_run,
            show_secret: self.show_secret,
            yes: self.yes,
        })
    }
}

/// Reads and verifies the pair as `certs verify` does; any failed check is a usage error.
fn checked_pair(cert: &std::path::Path, key: &std::path::Path) -> Result<(String, String), Error> {
    let usage = |e: tls::Error| {
        Error::usage(
            format!("--cert/--key: {e}"),
            "pass a PEM certificate chain and its private key",
        )
    };
    let pair = Material::from_files(cert, key).map_err(usage)?;
    let options = VerifyOptions {
        min_days: 0,
        cname: None,
        now: jiff::Timestamp::now(),
    };
    let checks = tls::verify(
        tls::parse_chain(&pair.cert),
        tls::parse_key(&pair.key),
        &options,
    );
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| format!("{} ({})", c.name, c.detail))
        .collect();
    if !failed.is_empty() {
        return Err(Error::usage(
            format!("--cert/--key fail {}", failed.join("; ")),
            format!(
                "`kubectl aml certs verify --cert {} --key {}` shows every check",
                cert.display(),
                key.display()
            ),
        ));
    }
    let text = |part: tls::Part| String::from_utf8(part.bytes).map_err(|_| "not UTF-8 PEM");
    match (text(pair.cert), text(pair.key)) {
        (Ok(cert), Ok(key)) => Ok((cert, key)),
        _ => Err(Error::usage(
            "--cert/--key are not PEM text",
            "pass PEM files",
        )),
    }
}

/// Checks an image reference against the distribution reference grammar:
/// `[host[:port]/]path[:tag][@algorithm:hex]`, path components lower case.
pub(crate) fn check_image(image: &str) -> Result<(), String> {
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let (algorithm, hex) = digest
            .split_once(':')
            .ok_or("the digest needs an algorithm, e.g. sha256:…")?;
        let hex_ok = hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit());
        if algorithm.is_empty() || !algorithm.chars().all(|c| c.is_ascii_alphanumeric()) || !hex_ok
        {
            return Err(format!("bad digest `{digest}`"));
        }
    }
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(tag) = tag {
        let first_ok = tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        let rest_ok = tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if tag.len() > 128 || !first_ok || !rest_ok {
            return Err(format!("bad tag `{tag}`"));
        }
    }
    if name.is_empty() || name.len() > 255 {
        return Err("the repository name must have 1 to 255 characters".into());
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let host = parts[0];
    if parts.len() > 1 && (host.contains(['.', ':']) || host == "localhost") {
        let (domain, port) = host.split_once(':').unwrap_or((host, "0"));
        let domain_ok = !domain.is_empty()
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !domain_ok || port.parse::<u16>().is_err() {
            return Err(format!("bad registry `{host}`"));
        }
        parts.remove(0);
    }
    for part in parts {
        let ok = !part.is_empty()
            && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !ok {
            return Err(format!(
                "bad path component `{part}` (lower-case letters, digits and . _ - inside)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_follow_the_distribution_grammar() {
        for good in [
            "nginx",
            "library/nginx:1.25",
            "ghcr.io/kubectl-aml/kubectl-aml:0.1.0",
            "localhost:5000/router",
            "myregistry.azurecr.io/ml/azureml-fe:v1.2_rc-3",
            "mcr.microsoft.com/azureml/fe@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            &default_image(),
        ] {
            assert_eq!(check_image(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Nginx",
            "ghcr.io/Org/router",
            "ghcr.io/org/router:",
            "ghcr.io/org/router:-x",
            "ghcr.io//router",
            "registry:99999/router",
            "router@sha256:xyz",
            "router@sha256",
            "my router",
            "-router",
        ] {
            assert!(check_image(bad).is_err(), "{bad} accepted");
        }
    }
}
