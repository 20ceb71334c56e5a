//! Azure errors: configuration, credentials, and ARM answers shown as `code: message`, with the
//! exit code and the hint each deserves (the roles the docs name, the internal load balancer for a
//! public-IP policy, compute names not being reusable, supported Kubernetes versions).

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::ExitCode;

/// An ARM error answer, decoded from `{"error": {"code", "message", "details": […]}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmFailure {
    /// HTTP method.
    pub method: String,
    /// The URL (no secrets in ARM URLs).
    pub url: String,
    /// HTTP status.
    pub status: u16,
    /// ARM error code.
    pub code: String,
    /// ARM error message.
    pub message: String,
    /// Nested details, `code: message` each.
    pub details: Vec<String>,
    /// `x-ms-request-id` / `x-ms-correlation-request-id`, for support.
    pub request_id: Option<String>,
}

/// Azure access errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An az configuration file cannot be read.
    #[error("cannot read az's configuration `{}`: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `--cloud` or `[cloud] name` names no known cloud.
    #[error("unknown cloud `{name}`")]
    UnknownCloud {
        /// The name.
        name: String,
    },
    /// `--subscription` names no subscription az knows.
    #[error("unknown subscription `{name}`")]
    UnknownSubscription {
        /// The name given.
        name: String,
    },
    /// A setting is needed and nothing gives it.
    #[error("no {what} given")]
    Missing {
        /// `subscription`, `resource group`, `workspace`.
        what: &'static str,
        /// How to give it.
        how: &'static str,
    },
    /// No credential produced a token.
    #[error("cannot get an Azure token with the {kind} credential: {reason}")]
    Credential {
        /// Which credential.
        kind: &'static str,
        /// Its reason (never a secret).
        reason: String,
    },
    /// A bearer token would go over plain http to another machine.
    #[error("refusing to send an Azure token over plain http to `{url}`")]
    Insecure {
        /// The endpoint.
        url: String,
    },
    /// ARM answered with an error.
    #[error("{} {} failed", failure.0.method, failure.0.url)]
    Arm {
        /// The answer.
        #[source]
        failure: Box<ArmFailureError>,
    },
    /// The request did not complete.
    #[error("{method} {url} failed")]
    Transport {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// reqwest's reason.
        #[source]
        source: reqwest::Error,
    },
    /// The answer was larger than the most read (32 MiB).
    #[error("{method} {url}: the answer is larger than {limit} bytes, the most read")]
    TooLarge {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// A long-running operation ended without success.
    #[error("{what} ended {status}")]
    OperationFailed {
        /// What it was.
        what: String,
        /// `Failed` or `Canceled`.
        status: String,
        /// `code: message` of its error, when it has one.
        #[source]
        error: Option<Box<ArmFailureError>>,
    },
    /// The credential gave no token within `--request-timeout` (`az` waiting for a login, say).
    #[error("no token from the {kind} credential within --request-timeout ({}s)", after.as_secs_f64())]
    TokenTimeout {
        /// Which credential.
        kind: &'static str,
        /// The limit.
        after: Duration,
    },
    /// One request got no complete answer within `--request-timeout` (its retries included).
    #[error("{method} {url}: no complete answer within --request-timeout ({}s)", after.as_secs_f64())]
    RequestTimeout {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// The limit.
        after: Duration,
    },
    /// A long-running operation did not finish in time.
    #[error("timed out after {}s waiting for {what}", after.as_secs())]
    Timeout {
        /// What it was.
        what: String,
        /// The limit.
        after: Duration,
        /// Where to check on it later.
        operation: Option<String>,
    },
    /// ARM answered something that cannot be read.
    #[error("unexpected answer from {url}: {reason}")]
    BadResponse {
        /// URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// [`ArmFailure`] as an error: displays `code: message` and the details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct ArmFailureError(pub ArmFailure);

fn render(f: &ArmFailure) -> String {
    let mut text = match (f.code.as_str(), f.message.as_str()) {
        ("", "") => format!("HTTP {}", f.status),
        ("", message) => format!("{message} (HTTP {})", f.status),
        (code, "") => format!("{code} (HTTP {})", f.status),
        (code, message) => format!("{code}: {message}"),
    };
    // Operation errors often repeat the message as their only detail; say it once.
    for detail in f
        .details
        .iter()
        .filter(|d| !d.ends_with(&f.message) || f.message.is_empty())
    {
        text.push_str(&format!("; {detail}"));
    }
    if let Some(id) = &f.request_id {
        text.push_str(&format!(" [request {id}]"));
    }
    text
}

impl Error {
    /// The ARM failure behind this error, if any.
    pub fn failure(&self) -> Option<&ArmFailure> {
        match self {
            Self::Arm { failure } => Some(&failure.0),
            Self::OperationFailed { error: Some(e), .. } => Some(&e.0),
            _ => None,
        }
    }

    /// The HTTP status ARM answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Arm { failure } => Some(failure.0.status),
            _ => None,
        }
    }

    /// The exit code.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Config { .. }
            | Self::UnknownCloud { .. }
            | Self::UnknownSubscription { .. }
            | Self::Missing { .. }
            | Self::Insecure { .. } => ExitCode::USAGE,
            Self::Credential { .. } => ExitCode::AUTH,
            Self::Arm { failure } => match failure.0.status {
                401 | 403 => ExitCode::AUTH,
                404 => ExitCode::NOT_FOUND,
                408 | 504 => ExitCode::TIMEOUT,
                _ => ExitCode::FAILURE,
            },
            Self::Transport { source, .. } if source.is_timeout() => ExitCode::TIMEOUT,
            Self::Timeout { .. } | Self::RequestTimeout { .. } | Self::TokenTimeout { .. } => {
                ExitCode::TIMEOUT
            }
            _ => ExitCode::FAILURE,
        }
    }

    /// A suggestion for the user.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Config { .. } => Some("fix or move the file; `az config` rewrites it".into()),
            Self::UnknownCloud { .. } => Some("`az cloud list -o table` shows the clouds az knows; register one with `az cloud register`".into()),
            Self::UnknownSubscription { .. } => Some("`az account list -o table` shows your subscriptions".into()),
            Self::Missing { how, .. } => Some((*how).into()),
            Self::Credential { kind, .. } => Some(match *kind {
                "Azure CLI" => "sign in with `az login` (and `az account set -s <subscription>`)".into(),
                "service principal" => "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET".into(),
                "workload identity" => "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE".into(),
                _ => "check that this machine or pod has a managed identity".into(),
            }),
            Self::Insecure { .. } => Some("use https (plain http is accepted only for a loopback test server)".into()),
            Self::Arm { failure } => arm_hint(&failure.0),
            Self::OperationFailed { error, .. } => error.as_ref().and_then(|e| arm_hint(&e.0)),
            Self::Transport { .. } => Some("check the network path to Azure Resource Manager, then retry".into()),
            Self::TokenTimeout { .. } => Some("run `az account get-access-token` by hand to see what it waits for (a login?), or raise --request-timeout".into()),
            Self::RequestTimeout { .. } => Some("raise --request-timeout, or check the network path to Azure Resource Manager".into()),
            Self::TooLarge { .. } => Some("is --cloud's Resource Manager endpoint the right one? ARM answers are a few MiB at most".into()),
            Self::Timeout { operation, .. } => Some(match operation {
                Some(url) => format!("it may still finish: check later with `curl -H \"Authorization: Bearer $(az account get-access-token --query accessToken -o tsv)\" '{url}'`, or raise --timeout"),
                None => "raise --timeout".into(),
            }),
            Self::BadResponse { .. } => None,
        }
    }
}

fn arm_hint(f: &ArmFailure) -> Option<String> {
    let all = format!("{} {}", f.message, f.details.join(" ")).to_ascii_lowercase();
    let online = f.url.contains("/onlineEndpoints");
    if online && (f.code == "AuthorizationFailed" || f.status == 403) {
        return Some(
            "deploying needs write access to the workspace's online endpoints, for example the AzureML Data \
             Scientist or Contributor role on the workspace"
                .into(),
        );
    }
    if online && f.status == 409 {
        return Some(
            "another operation on this service is still running: wait for it (`kubectl aml deploy show SERVICE` \
             shows its state), then run the command again"
                .into(),
        );
    }
    if f.code == "AuthorizationFailed" || f.status == 403 {
        return Some(
            "attaching needs Owner or Contributor on the cluster's resource group and the Azure Kubernetes Service \
             Cluster Admin role on the cluster; a Kubernetes compute whose workspace uses a user-assigned identity also \
             needs that identity to have Reader, Kubernetes Extension Contributor and Azure Kubernetes Service Cluster \
             Admin on the cluster"
                .into(),
        );
    }
    if all.contains("load balancers should not have public ip addresses") {
        return Some("a policy forbids public IPs: use an internal load balancer (--load-balancer-type InternalLoadBalancer --load-balancer-subnet SUBNET)".into());
    }
    if f.status == 409 && f.method == "PUT" && f.url.contains("/computes/") {
        return Some("creating a compute is not idempotent: this name exists; detach it first (`kubectl aml attach detach NAME`) or pick another name".into());
    }
    if all.contains("kubernetes version")
        || f.code.to_ascii_lowercase().contains("kubernetesversion")
    {
        return Some("`kubectl aml attach versions --location REGION` lists the versions Azure supports there".into());
    }
    if f.status == 401 {
        return Some("your token was refused: sign in again with `az login`".into());
    }
    if f.status == 404 {
        return Some("check the names and the subscription (--subscription, -g, -w)".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, code: &str, message: &str, method: &str, url: &str) -> Error {
        let f = ArmFailure {
            method: method.into(),
            url: url.into(),
            status,
            code: code.into(),
            message: message.into(),
            details: vec![],
            request_id: None,
        };
        Error::Arm {
            failure: Box::new(ArmFailureError(f)),
        }
    }

    #[test]
    fn known_arm_errors_get_their_hints_and_codes() {
        let e = failure(
            403,
            "AuthorizationFailed",
            "The client does not have authorization",
            "PUT",
            "/x",
        );
        assert_eq!(e.exit_code(), ExitCode::AUTH);
        assert!(
            e.hint()
                .unwrap()
                .contains("Azure Kubernetes Service Cluster Admin")
        );
        let e = failure(
            400,
            "RequestDisallowedByPolicy",
            "Load Balancers should not have public IP addresses",
            "PUT",
            "/x",
        );
        assert!(
            e.hint()
                .unwrap()
                .contains("--load-balancer-type InternalLoadBalancer")
        );
        let e = failure(
            409,
            "Conflict",
            "Compute with name aks1 already exists",
            "PUT",
            "/ws/computes/aks1",
        );
        assert!(e.hint().unwrap().contains("not idempotent"));
        let e = failure(
            400,
            "BadRequest",
            "Kubernetes version 1.20.0 is not supported. Supported versions: 1.28, 1.29",
            "PUT",
            "/x",
        );
        assert!(e.hint().unwrap().contains("attach versions"));
        let e = failure(
            403,
            "AuthorizationFailed",
            "no",
            "PUT",
            "/ws/onlineEndpoints/svc",
        );
        assert!(e.hint().unwrap().contains("AzureML Data Scientist"));
        let e = failure(
            409,
            "Conflict",
            "busy",
            "PUT",
            "/ws/onlineEndpoints/svc/deployments/blue",
        );
        assert!(e.hint().unwrap().contains("wait for it"));
        assert_eq!(
            failure(404, "ResourceNotFound", "", "GET", "/x").exit_code(),
            ExitCode::NOT_FOUND
        );
    }

    #[test]
    fn failures_render_as_code_and_message() {
        let f = ArmFailure {
            method: "PUT".into(),
            url: "u".into(),
            status: 400,
            code: "ValidationError".into(),
            message: "bad body".into(),
            details: vec!["InvalidProperty: properties.computeType".into()],
            request_id: Some("abc".into()),
        };
        assert_eq!(
            ArmFailureError(f.clone()).to_string(),
            "ValidationError: bad body; InvalidProperty: properties.computeType [request abc]"
        );
        let repeated = ArmFailure {
            details: vec!["OperationFailed: bad body".into()],
            request_id: None,
            ..f
        };
        assert_eq!(
            ArmFailureError(repeated).to_string(),
            "ValidationError: bad body"
        );
    }
}
