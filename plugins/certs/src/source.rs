//! Where a pair comes from: the TLS secret in the cluster, or files; each part kept on its own so
//! a broken key does not hide the certificate.

use aml_core::k8s::{self, Kind, Kube};
use aml_core::tls::{self, Part};
use aml_core::{Context, Error};
use kube::api::DynamicObject;

use crate::cli::Source;

/// A pair as read, before decoding.
pub(crate) struct Loaded {
    /// "secret `default/azuremlfessl`" or "file `cert.pem`".
    pub label: String,
    pub cert: Result<Part, tls::Error>,
    /// `None`: no key was given (inspect of a lone certificate file).
    pub key: Option<Result<Part, tls::Error>>,
}

/// Reads the named TLS secret; a missing one is exit code 4 with a hint.
pub(crate) async fn read_secret(kube: &Kube, name: &str) -> anyhow::Result<DynamicObject> {
    let namespace = &kube.namespace;
    match k8s::get_opt(kube, Kind::SECRET, namespace, name).await? {
        Some(secret) => Ok(secret),
        None => Err(Error::not_found(
            format!("secret `{namespace}/{name}` not found"),
            format!("check the namespace (-n) and the name (--secret): `kubectl get secrets -n {namespace}`"),
        )
        .into()),
    }
}

pub(crate) async fn load(ctx: &Context, source: &Source) -> anyhow::Result<Loaded> {
    match source {
        Source::Files { cert, key } => Ok(Loaded {
            label: format!("file `{}`", cert.display()),
            cert: tls::read_part(cert),
            key: key.as_deref().map(tls::read_part),
        }),
        Source::Secret(name) => {
            let kube = ctx.kube().await?;
            let object = read_secret(kube, name).await?;
            let (keys, cert, key) = tls::Material::parts_from_secret(&object);
            let label = format!(
                "secret `{}/{name}` ({}, {})",
                kube.namespace, keys.cert, keys.key
            );
            Ok(Loaded {
                label,
                cert,
                key: Some(key),
            })
        }
    }
}
