//! What a re-attach sends, worked out from the compute's settings as read before the detach: its
//! steps, and the body that attaches it again (the TLS pair from the exported files).

use std::path::Path;

use aml_core::Error;
use aml_core::arm::ResourceId;
use clap::ValueEnum;
use serde_json::Value;

use crate::body::{self, FrontEnd, Identity, K8sCompute, Tls};
use crate::cli::{LoadBalancer, Purpose};
use crate::journal::Step;

/// How the compute's TLS is given again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsAgain {
    Off,
    /// The same leaf label, taking over the domain it already has.
    Microsoft(String),
    /// The exported pair, with this name.
    Custom {
        cname: String,
    },
}

/// A compute to attach again.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// A legacy `AKS` inference compute: azureml-fe is ours to export and clean up.
    Aks {
        cluster: ResourceId,
        purpose: Purpose,
        load_balancer: LoadBalancer,
        subnet: Option<String>,
        tls: TlsAgain,
    },
    /// A v2 `Kubernetes` compute: the Azure ML extension owns what runs in the cluster.
    Kubernetes(K8sCompute),
}

fn unusable(name: &str, why: String) -> Error {
    Error::failed(
        format!("compute `{name}` cannot be re-attached as read: {why}"),
        format!(
            "`kubectl aml attach show {name} -o json` shows its settings; detach and attach it by hand"
        ),
    )
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl Plan {
    /// The plan for `compute` (a GET's answer).
    pub(crate) fn of(name: &str, compute: &Value) -> Result<Self, Error> {
        let cluster: ResourceId = text(compute, "/properties/resourceId")
            .ok_or_else(|| unusable(name, "it names no cluster (properties.resourceId)".into()))?
            .parse()
            .map_err(|e| unusable(name, format!("its cluster id is not an ARM id ({e})")))?;
        match text(compute, "/properties/computeType") {
            Some("AKS") => {
                let inner = "/properties/properties";
                let purpose =
                    text(compute, &format!("{inner}/clusterPurpose")).unwrap_or("FastProd");
                let purpose = Purpose::from_str(purpose, true).map_err(|_| {
                    unusable(
                        name,
                        format!("cluster purpose `{purpose}` is not FastProd or DevTest"),
                    )
                })?;
                let lb = text(compute, &format!("{inner}/loadBalancerType")).unwrap_or("PublicIp");
                let load_balancer = LoadBalancer::from_str(lb, true)
                    .map_err(|_| unusable(name, format!("load balancer type `{lb}` is unknown")))?;
                let ssl = &format!("{inner}/sslConfiguration");
                let tls = match text(compute, &format!("{ssl}/status")).unwrap_or("Disabled") {
                    s if s.eq_ignore_ascii_case("Disabled") => TlsAgain::Off,
                    s if s.eq_ignore_ascii_case("Auto") => TlsAgain::Microsoft(
                        text(compute, &format!("{ssl}/leafDomainLabel"))
                            .ok_or_else(|| {
                                unusable(name, "TLS is Auto without a leaf domain label".into())
                            })?
                            .to_string(),
                    ),
                    _ => TlsAgain::Custom {
                        cname: text(compute, &format!("{ssl}/cname"))
                            .ok_or_else(|| unusable(name, "TLS is Enabled without a cname".into()))?
                            .to_string(),
                    },
                };
                Ok(Self::Aks {
                    cluster,
                    purpose,
                    load_balancer,
                    subnet: text(compute, &format!("{inner}/loadBalancerSubnet")).map(String::from),
                    tls,
                })
            }
            Some("Kubernetes") => {
                let identity = match text(compute, "/identity/type") {
                    Some(t) if t.starts_with("UserAssigned") => compute
                        .pointer("/identity/userAssignedIdentities")
                        .and_then(Value::as_object)
                        .and_then(|ids| ids.keys().next())
                        .map(|id| Identity::User(id.clone())),
                    Some(t) if t.starts_with("SystemAssigned") => Some(Identity::System),
                    _ => None,
                };
                let tags = compute["tags"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                Ok(Self::Kubernetes(K8sCompute {
                    cluster_id: cluster.to_string(),
                    cluster_location: text(compute, "/properties/computeLocation")
                        .map(String::from),
                    namespace: text(compute, "/properties/properties/namespace")
                        .unwrap_or("default")
                        .to_string(),
                    identity,
                    description: text(compute, "/properties/description").map(String::from),
                    tags,
                }))
            }
            other => Err(unusable(
                name,
                format!(
                    "compute type `{}` is not AKS or Kubernetes",
                    other.unwrap_or("?")
                ),
            )),
        }
    }

    /// The steps, in order: an `AKS` compute's azureml-fe is exported and cleaned up between the
    /// detach and the attach; a custom certificate must be exported (it is given again).
    pub(crate) fn steps(&self) -> Vec<Step> {
        match self {
            Self::Aks { tls, .. } => {
                let mut steps = vec![Step::Read];
                if *tls != TlsAgain::Off {
                    steps.push(Step::Export);
                }
                steps.extend([Step::Detach, Step::Cleanup, Step::Attach]);
                steps
            }
            Self::Kubernetes(_) => vec![Step::Read, Step::Detach, Step::Attach],
        }
    }

    /// The cluster.
    pub(crate) fn cluster(&self) -> String {
        match self {
            Self::Aks { cluster, .. } => cluster.to_string(),
            Self::Kubernetes(k) => k.cluster_id.clone(),
        }
    }

    /// The body of the attach; the custom pair is read from `state` (`None`: a dry run before the
    /// export, which shows where the pair will come from).
    pub(crate) fn body(&self, location: &str, state: Option<&Path>) -> Result<Value, Error> {
        match self {
            Self::Kubernetes(k) => Ok(body::k8s_attach(location, k)),
            Self::Aks {
                cluster,
                purpose,
                load_balancer,
                subnet,
                tls,
            } => {
                let tls = match tls {
                    TlsAgain::Off => Tls::Off,
                    TlsAgain::Microsoft(label) => Tls::Microsoft {
                        label: label.clone(),
                        overwrite: true,
                    },
                    TlsAgain::Custom { cname } => {
                        let (cert, key) = match state {
                            Some(dir) => (
                                read_pem(&dir.join("cert.pem"))?,
                                read_pem(&dir.join("key.pem"))?,
                            ),
                            None => (
                                "<cert.pem of certs export>".into(),
                                "<key.pem of certs export>".into(),
                            ),
                        };
                        Tls::Custom {
                            cert,
                            key,
                            cname: cname.clone(),
                        }
                    }
                };
                let fe = FrontEnd {
                    purpose: *purpose,
                    load_balancer: *load_balancer,
                    subnet: subnet.clone(),
                    tls,
                };
                Ok(body::aks_attach(location, &cluster.to_string(), &fe))
            }
        }
    }
}

fn read_pem(path: &Path) -> Result<String, Error> {
    let bytes = aml_core::files::read_bounded(path, 1 << 20).map_err(|e| {
        Error::failed(
            e.describe("the exported pair"),
            "run the same command again from the start with a new --state-dir while the secret still exists, or attach by hand with the pair",
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        Error::failed(
            format!("`{}` is not PEM text", path.display()),
            "attach by hand with the pair (`kubectl aml attach aks … --ssl-cert-pem-file … --ssl-key-pem-file …`)",
        )
    })
}
