//! Hints for ARM failures: the roles the docs name, the internal load balancer for a public-IP
//! policy, compute names not being reusable, supported Kubernetes versions, throttling, and how to
//! look at an operation by hand.

use super::error::ArmFailure;

/// How to look at an operation by hand.
pub(super) fn check_later(url: &str) -> String {
    format!(
        "check it with `curl -H \"Authorization: Bearer $(az account get-access-token --query accessToken -o tsv)\" '{url}'`"
    )
}

pub(super) fn arm_hint(f: &ArmFailure) -> Option<String> {
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
    if f.status == 409 {
        return Some("the resource is busy or in another state (another operation on it may be running): wait a minute, then run the same command again".into());
    }
    if f.status == 401 {
        return Some("your token was refused: sign in again with `az login`".into());
    }
    if f.status == 404 {
        return Some("check the names and the subscription (--subscription, -g, -w)".into());
    }
    // Reached only once the retries are spent: say so, and that a re-run is safe.
    if f.status == 429 {
        return Some("Azure Resource Manager throttled every try: wait a few minutes, then run the same command again".into());
    }
    if (500..600).contains(&f.status) {
        return Some(format!(
            "Azure Resource Manager kept failing (HTTP {}) through the retries: run the same command again later",
            f.status
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::error::{ArmFailure, ArmFailureError, Error};
    use crate::cli::ExitCode;

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
        let e = failure(429, "TooManyRequests", "slow down", "GET", "/x");
        assert!(e.hint().unwrap().contains("throttled every try"));
        let e = failure(503, "ServiceUnavailable", "", "GET", "/x");
        assert!(e.hint().unwrap().contains("HTTP 503"));
    }
}
