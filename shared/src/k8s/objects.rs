//! Kind-agnostic object helpers: get-or-none, delete with propagation and preconditions, replace.
//!
//! They work on `DynamicObject` so a resource set can be handled as data, one code path for all kinds.

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams, Preconditions,
};
use kube::core::params::PropagationPolicy;

use super::{Error, Kube, Target};

/// A kind of object, described as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind {
    /// `Deployment`.
    pub kind: &'static str,
    /// `apps`; empty for the core group.
    pub group: &'static str,
    /// `v1`.
    pub version: &'static str,
    /// `deployments`.
    pub plural: &'static str,
    /// False for cluster-scoped kinds.
    pub namespaced: bool,
}

impl Kind {
    /// core/v1 Namespace (cluster-scoped).
    pub const NAMESPACE: Kind = Kind {
        kind: "Namespace",
        group: "",
        version: "v1",
        plural: "namespaces",
        namespaced: false,
    };
    /// core/v1 ServiceAccount.
    pub const SERVICE_ACCOUNT: Kind = Kind::core("ServiceAccount", "serviceaccounts");
    /// core/v1 Service.
    pub const SERVICE: Kind = Kind::core("Service", "services");
    /// core/v1 Secret.
    pub const SECRET: Kind = Kind::core("Secret", "secrets");
    /// core/v1 ConfigMap.
    pub const CONFIG_MAP: Kind = Kind::core("ConfigMap", "configmaps");
    /// apps/v1 Deployment.
    pub const DEPLOYMENT: Kind = Kind {
        kind: "Deployment",
        group: "apps",
        version: "v1",
        plural: "deployments",
        namespaced: true,
    };
    /// coordination.k8s.io/v1 Lease (the router autoscaler's election).
    pub const LEASE: Kind = Kind {
        kind: "Lease",
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        namespaced: true,
    };
    /// rbac.authorization.k8s.io/v1 ClusterRole.
    pub const CLUSTER_ROLE: Kind = Kind::rbac("ClusterRole", "clusterroles");
    /// rbac.authorization.k8s.io/v1 ClusterRoleBinding.
    pub const CLUSTER_ROLE_BINDING: Kind = Kind::rbac("ClusterRoleBinding", "clusterrolebindings");

    const fn core(kind: &'static str, plural: &'static str) -> Self {
        Kind {
            kind,
            group: "",
            version: "v1",
            plural,
            namespaced: true,
        }
    }

    const fn rbac(kind: &'static str, plural: &'static str) -> Self {
        Kind {
            kind,
            group: "rbac.authorization.k8s.io",
            version: "v1",
            plural,
            namespaced: false,
        }
    }

    /// The resource as kubectl names it: `secrets`, `deployments.apps`.
    pub fn resource(&self) -> String {
        self.qualified(self.plural)
    }

    /// kubectl's `-o name` prefix: `secret`, `deployment.apps`.
    pub fn name_prefix(&self) -> String {
        self.qualified(&self.kind.to_ascii_lowercase())
    }

    /// What a call on `name` is about, for messages; `namespace` is ignored for cluster-scoped kinds.
    pub fn target(&self, namespace: &str, name: &str) -> Target {
        Target {
            kind: self.kind.to_ascii_lowercase(),
            resource: self.resource(),
            namespace: self.namespaced.then(|| namespace.to_string()),
            name: Some(name.to_string()),
        }
    }

    /// The kube-rs description of this kind.
    pub fn api_resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group, self.version, self.kind),
            self.plural,
        )
    }

    pub(super) fn api(&self, kube: &Kube, namespace: &str) -> Api<DynamicObject> {
        let resource = self.api_resource();
        if self.namespaced {
            Api::namespaced_with(kube.client.clone(), namespace, &resource)
        } else {
            Api::all_with(kube.client.clone(), &resource)
        }
    }

    fn qualified(&self, name: &str) -> String {
        if self.group.is_empty() {
            name.to_string()
        } else {
            format!("{name}.{}", self.group)
        }
    }
}

/// kubectl's `--cascade` choices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Delete now; dependents are collected afterwards (kubectl's default).
    #[default]
    Background,
    /// Dependents first, then the object.
    Foreground,
    /// Leave dependents behind.
    Orphan,
}

/// What a delete call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// The server accepted the deletion.
    Accepted {
        /// The deleted object's uid, to tell it apart from a replacement with the same name.
        uid: Option<String>,
        /// The object lingers with a `deletionTimestamp` (finalizers, foreground propagation).
        pending: bool,
    },
    /// There was nothing to delete.
    AlreadyAbsent,
}

/// GET that answers `None` for 404.
pub async fn get_opt(
    kube: &Kube,
    kind: Kind,
    namespace: &str,
    name: &str,
) -> Result<Option<DynamicObject>, Error> {
    tracing::debug!(kind = kind.kind, namespace, name, "get");
    kind.api(kube, namespace)
        .get_opt(name)
        .await
        .map_err(|e| Error::from_kube("read", kind.target(namespace, name), e))
}

/// How a DELETE is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// What happens to dependents.
    pub propagation: Propagation,
    /// `dryRun=All`: the server checks and persists nothing.
    pub dry_run: bool,
    /// Delete only if the object is still at this resourceVersion (else 409 Conflict).
    pub resource_version: Option<String>,
}

/// DELETE with the given options; 404 answers [`Deletion::AlreadyAbsent`].
pub async fn delete(
    kube: &Kube,
    kind: Kind,
    namespace: &str,
    name: &str,
    options: &DeleteOptions,
) -> Result<Deletion, Error> {
    tracing::debug!(kind = kind.kind, namespace, name, ?options, "delete");
    let params = DeleteParams {
        dry_run: options.dry_run,
        propagation_policy: Some(match options.propagation {
            Propagation::Background => PropagationPolicy::Background,
            Propagation::Foreground => PropagationPolicy::Foreground,
            Propagation::Orphan => PropagationPolicy::Orphan,
        }),
        preconditions: options.resource_version.clone().map(|rv| Preconditions {
            resource_version: Some(rv),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    match kind.api(kube, namespace).delete(name, &params).await {
        // The API server only sets deletionTimestamp when deletion cannot finish at once
        // (finalizers, foreground propagation, graceful pod deletion); without it the object is gone.
        Ok(answer) => {
            let object = answer.left();
            let pending = object
                .as_ref()
                .is_some_and(|o| o.metadata.deletion_timestamp.is_some());
            Ok(Deletion::Accepted {
                uid: object.and_then(|o| o.metadata.uid),
                pending,
            })
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Deletion::AlreadyAbsent),
        Err(e) => Err(Error::from_kube("delete", kind.target(namespace, name), e)),
    }
}

/// PUT: replaces the object as given; its `metadata.resourceVersion` is the precondition (409 if
/// it changed). With `dry_run` the server checks and persists nothing.
pub async fn replace(
    kube: &Kube,
    kind: Kind,
    namespace: &str,
    object: &DynamicObject,
    dry_run: bool,
) -> Result<DynamicObject, Error> {
    let name = object.metadata.name.clone().unwrap_or_default();
    tracing::debug!(kind = kind.kind, namespace, name, dry_run, "replace");
    let params = PostParams {
        dry_run,
        ..PostParams::default()
    };
    kind.api(kube, namespace)
        .replace(&name, &params, object)
        .await
        .map_err(|e| Error::from_kube("update", kind.target(namespace, &name), e))
}

/// Server-side apply of `object` (its kind's, named in its metadata) as [`install::FIELD_MANAGER`];
/// creates it if missing. Conflicts with other managers are refused (409) unless `force` takes
/// their fields over.
///
/// [`install::FIELD_MANAGER`]: super::install::FIELD_MANAGER
pub async fn apply(
    kube: &Kube,
    kind: Kind,
    namespace: &str,
    object: &serde_json::Value,
    dry_run: bool,
    force: bool,
) -> Result<DynamicObject, Error> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    tracing::debug!(kind = kind.kind, namespace, name, dry_run, force, "apply");
    let mut params = kube::api::PatchParams::apply(super::install::FIELD_MANAGER);
    params.dry_run = dry_run;
    params.force = force;
    kind.api(kube, namespace)
        .patch(name, &params, &kube::api::Patch::Apply(object))
        .await
        .map_err(|e| Error::from_kube("apply", kind.target(namespace, name), e))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::Resource;
    use k8s_openapi::api::{apps::v1::Deployment, core::v1::Secret, rbac::v1::ClusterRole};

    use super::*;

    fn same<K: Resource>(kind: Kind) {
        assert_eq!(
            (kind.kind, kind.group, kind.version, kind.plural),
            (K::KIND, K::GROUP, K::VERSION, K::URL_PATH_SEGMENT)
        );
    }

    #[test]
    fn kinds_agree_with_k8s_openapi() {
        same::<Secret>(Kind::SECRET);
        same::<Deployment>(Kind::DEPLOYMENT);
        same::<ClusterRole>(Kind::CLUSTER_ROLE);
    }

    #[test]
    fn names_follow_kubectl() {
        assert_eq!(Kind::DEPLOYMENT.resource(), "deployments.apps");
        assert_eq!(Kind::DEPLOYMENT.name_prefix(), "deployment.apps");
        assert_eq!(Kind::SECRET.name_prefix(), "secret");
        assert_eq!(
            Kind::CLUSTER_ROLE.name_prefix(),
            "clusterrole.rbac.authorization.k8s.io"
        );
        assert_eq!(Kind::CLUSTER_ROLE.target("default", "r").namespace, None);
    }
}
