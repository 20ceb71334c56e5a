//! Errors from Kubernetes access, with the exit code and hint each one deserves.

use std::fmt;
use std::time::Duration;

use kube::core::Status;

use crate::cli::ExitCode;

/// What a failed call was about: used in messages and in `kubectl auth can-i` hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Kind as users read it, lower case: `secret`, `deployment`.
    pub kind: String,
    /// Resource as kubectl names it: `secrets`, `deployments.apps`.
    pub resource: String,
    /// Namespace, when the call is namespaced.
    pub namespace: Option<String>,
    /// Object name, when the call is about one object.
    pub name: Option<String>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.namespace, &self.name) {
            (Some(ns), Some(name)) => write!(f, "{} `{ns}/{name}`", self.kind),
            (None, Some(name)) => write!(f, "{} `{name}`", self.kind),
            (Some(ns), None) => write!(f, "{} in namespace `{ns}`", self.resource),
            (None, None) => write!(f, "{} in all namespaces", self.resource),
        }
    }
}

/// The API server's `Status` answer, displayed the way a user wants to read it.
#[derive(Debug)]
pub struct ServerStatus(pub Box<Status>);

impl fmt::Display for ServerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        let message = if s.message.is_empty() {
            "no message"
        } else {
            &s.message
        };
        match s.reason.as_str() {
            "" => write!(f, "{message} ({})", s.code),
            reason => write!(f, "{message} ({reason}, {})", s.code),
        }
    }
}

impl std::error::Error for ServerStatus {}

/// Kubernetes access errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No kubeconfig was found and the process is not running inside a cluster.
    #[error("no kubeconfig found (looked at {looked_at}) and not running inside a cluster")]
    NoConfig {
        /// Where we looked, for the message.
        looked_at: String,
    },
    /// A kubeconfig could not be read, parsed, or does not have the selected context.
    #[error("cannot use the kubeconfig from {from}")]
    Kubeconfig {
        /// The file(s) or flag it came from.
        from: String,
        /// kube's reason.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The in-cluster configuration could not be loaded.
    #[error("cannot use the in-cluster configuration")]
    InCluster(#[source] kube::config::InClusterError),
    /// The client could not be built from the configuration (TLS material, auth plugin).
    #[error("failed to set up the Kubernetes client for `{server}`")]
    Client {
        /// The API server URL.
        server: String,
        /// kube's reason.
        #[source]
        source: kube::Error,
    },
    /// The API server answered with an error.
    #[error("failed to {verb} {target}")]
    Api {
        /// What we tried: `get`, `delete`, `list`.
        verb: &'static str,
        /// What we tried it on.
        target: Target,
        /// The server's answer.
        #[source]
        status: ServerStatus,
    },
    /// The request did not complete: connection, TLS, auth plugin or decoding.
    #[error("failed to {verb} {target}")]
    Transport {
        /// What we tried.
        verb: &'static str,
        /// What we tried it on.
        target: Target,
        /// kube's reason.
        #[source]
        source: kube::Error,
    },
    /// A wait ended because the condition can no longer hold.
    #[error("gave up waiting for {what}: {reason}")]
    Failed {
        /// What we waited for.
        what: String,
        /// Why it will not happen.
        reason: String,
    },
    /// A wait ran out of time.
    #[error("timed out after {}s waiting for {what}", after.as_secs_f64())]
    Timeout {
        /// What we waited for.
        what: String,
        /// How long we waited.
        after: Duration,
    },
}

impl Error {
    /// Wraps a kube error from `verb` on `target`, keeping the server's Status when there is one.
    pub fn from_kube(verb: &'static str, target: Target, source: kube::Error) -> Self {
        match source {
            kube::Error::Api(status) => Self::Api {
                verb,
                target,
                status: ServerStatus(status),
            },
            source => Self::Transport {
                verb,
                target,
                source,
            },
        }
    }

    /// The server's HTTP status code, if the server answered.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(status.0.code),
            _ => None,
        }
    }

    /// The exit code this error maps to.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::NoConfig { .. } | Self::Kubeconfig { .. } | Self::InCluster(_) => ExitCode::USAGE,
            Self::Client { source, .. } if is_auth(source) => ExitCode::AUTH,
            Self::Client { .. } => ExitCode::FAILURE,
            Self::Api { status, .. } => match status.0.code {
                401 | 403 => ExitCode::AUTH,
                404 => ExitCode::NOT_FOUND,
                504 => ExitCode::TIMEOUT,
                _ if status.0.reason == "Timeout" => ExitCode::TIMEOUT,
                _ => ExitCode::FAILURE,
            },
            Self::Transport { source, .. } if is_auth(source) => ExitCode::AUTH,
            Self::Transport { source, .. } if is_timeout(source) => ExitCode::TIMEOUT,
            Self::Transport { .. } => ExitCode::FAILURE,
            Self::Timeout { .. } => ExitCode::TIMEOUT,
            Self::Failed { .. } => ExitCode::FAILURE,
        }
    }

    /// A suggestion for the user, if there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NoConfig { .. } => Some(
                "pass --kubeconfig, set KUBECONFIG, or fetch one with \
                 `az aks get-credentials -g <group> -n <cluster>`"
                    .into(),
            ),
            Self::Kubeconfig { .. } => Some(
                "check --kubeconfig/KUBECONFIG and --context (`kubectl config get-contexts`)".into(),
            ),
            Self::InCluster(_) => Some("pass --kubeconfig or set KUBECONFIG".into()),
            Self::Client { .. } => None,
            Self::Api { verb, target, status } => match status.0.code {
                401 => Some(
                    "the cluster rejected your credentials: refresh them (for AKS: \
                     `az aks get-credentials`) and check `kubectl auth whoami`"
                        .into(),
                ),
                403 => Some(format!("check your permissions: `{}`", can_i(verb, target))),
                404 => Some(format!(
                    "check the names, the namespace and --context (`kubectl get {}`)",
                    target.resource
                )),
                409 => Some(
                    "someone else changed it at the same time: run the same command again".into(),
                ),
                429 => Some(
                    "the API server is limiting requests: wait a moment, then run the same command again"
                        .into(),
                ),
                500..=599 => Some(
                    "the API server failed: run the same command again; if it persists,                      `kubectl get --raw /readyz?verbose` shows why"
                        .into(),
                ),
                _ => None,
            },
            Self::Transport { source, .. } if is_timeout(source) => {
                Some("the API server did not answer in time: retry, or raise --request-timeout".into())
            }
            Self::Transport { source, .. } if is_auth(source) => Some(
                "your kubeconfig's credential plugin failed: run it by hand to see why (for AKS: kubelogin)"
                    .into(),
            ),
            Self::Transport { source, .. } if is_untrusted_certificate(source) =>
            {
                Some(
                    "the API server's certificate does not verify against the CA your kubeconfig \
                     trusts (its cluster's certificate-authority-data): refresh the kubeconfig (for \
                     AKS: `az aks get-credentials`) or check `--context`"
                        .into(),
                )
            }
            Self::Transport { .. } => {
                Some("check that the API server in your kubeconfig is reachable (`kubectl cluster-info`)".into())
            }
            Self::Timeout { .. } => Some("raise --timeout, or check why it is slow with kubectl".into()),
            Self::Failed { .. } => Some("look at the object with `kubectl describe`".into()),
        }
    }
}

/// The `kubectl auth can-i` line that checks the permission a 403 was about.
fn can_i(verb: &str, target: &Target) -> String {
    let verb = match verb {
        "read" => "get",
        v => v,
    };
    match &target.namespace {
        Some(ns) => format!("kubectl auth can-i {verb} {} -n {ns}", target.resource),
        None if target.name.is_some() => format!("kubectl auth can-i {verb} {}", target.resource),
        None => format!(
            "kubectl auth can-i {verb} {} --all-namespaces",
            target.resource
        ),
    }
}

fn is_auth(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Auth(_))
}

/// Whether TLS refused the server's certificate (unknown issuer, wrong name, expired).
fn is_untrusted_certificate(e: &kube::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        // io::Error's source() skips the error it wraps: look at that one too.
        let wrapped = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        for candidate in [Some(c), wrapped].into_iter().flatten() {
            if matches!(
                candidate.downcast_ref::<rustls::Error>(),
                Some(rustls::Error::InvalidCertificate(_))
            ) || candidate.to_string().contains("invalid peer certificate")
            {
                return true;
            }
        }
        cause = c.source();
    }
    false
}

/// True when the error chain says the request timed out (`--request-timeout` or the OS).
fn is_timeout(e: &kube::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        // tower's and hyper-util's timeouts only say so in their text.
        let text = c.to_string().to_ascii_lowercase();
        if text.contains("timed out") || text.contains("deadline has elapsed") || text == "elapsed"
        {
            return true;
        }
        cause = c.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Target {
        Target {
            kind: "secret".into(),
            resource: "secrets".into(),
            namespace: Some("default".into()),
            name: Some("azuremlfessl".into()),
        }
    }

    fn api(code: u16, reason: &str) -> Error {
        let status = Status::failure("nope", reason).with_code(code);
        Error::from_kube("delete", secret(), kube::Error::Api(status.boxed()))
    }

    #[test]
    fn server_answers_map_to_documented_exit_codes() {
        assert_eq!(api(401, "Unauthorized").exit_code(), ExitCode::AUTH);
        assert_eq!(api(403, "Forbidden").exit_code(), ExitCode::AUTH);
        assert_eq!(api(404, "NotFound").exit_code(), ExitCode::NOT_FOUND);
        assert_eq!(api(504, "Timeout").exit_code(), ExitCode::TIMEOUT);
        assert_eq!(api(500, "InternalError").exit_code(), ExitCode::FAILURE);
        assert_eq!(api(409, "Conflict").exit_code(), ExitCode::FAILURE);
    }

    #[test]
    fn forbidden_hint_names_the_can_i_check() {
        assert_eq!(
            api(403, "Forbidden").hint().unwrap(),
            "check your permissions: `kubectl auth can-i delete secrets -n default`"
        );
    }

    #[test]
    fn messages_name_the_object_and_the_server_reason() {
        let e = api(403, "Forbidden");
        assert_eq!(
            e.to_string(),
            "failed to delete secret `default/azuremlfessl`"
        );
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert_eq!(source, "nope (Forbidden, 403)");
    }
}
