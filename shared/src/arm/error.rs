//! Azure errors: configuration, credentials, and ARM answers shown as `code: message`, with the
//! exit code and the hint each deserves (the roles the docs name, the internal load balancer for a
//! public-IP policy, compute names not being reusable, supported Kubernetes versions).

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::ExitCode;

use super::hints::{arm_hint, check_later};

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
    /// `--timeout`, the whole command's limit, ran out during a request or before its retry.
    #[error("{method} {url}: --timeout ({}s) ran out{}", after.as_secs_f64(), last.as_ref().map(|l| format!(" ({l})")).unwrap_or_default())]
    CommandTimeout {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// The limit.
        after: Duration,
        /// What the last attempt got, when there was one to retry.
        last: Option<String>,
    },
    /// Checking on a long-running operation kept failing; the operation may still be running.
    #[error("{what}: checking on the operation failed")]
    PollFailed {
        /// What it was.
        what: String,
        /// The operation's URL.
        operation: String,
        /// Why the check failed.
        #[source]
        source: Box<Error>,
    },
    /// A long-running operation did not finish within `--timeout`.
    #[error("{what}: not finished within --timeout ({}s)", after.as_secs_f64())]
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
            Self::PollFailed { source, .. } => source.status(),
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
            Self::Timeout { .. }
            | Self::RequestTimeout { .. }
            | Self::TokenTimeout { .. }
            | Self::CommandTimeout { .. } => ExitCode::TIMEOUT,
            Self::PollFailed { source, .. } => source.exit_code(),
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
            Self::CommandTimeout { .. } => Some("raise --timeout (the whole command's limit); --request-timeout bounds each request".into()),
            Self::PollFailed { operation, .. } => Some(format!("the operation may still be running: {}, then run the command again", check_later(operation))),
            Self::Timeout { operation, .. } => Some(match operation {
                Some(url) => format!("it may still finish: {}, or raise --timeout", check_later(url)),
                None => "raise --timeout".into(),
            }),
            Self::BadResponse { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
