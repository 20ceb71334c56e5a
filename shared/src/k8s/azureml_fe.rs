//! The azureml-fe resource set: the eight objects the Azure docs delete by hand before a re-attach.

use super::Kind;

/// One object of the azureml-fe installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FeObject {
    /// Its kind.
    pub kind: Kind,
    /// Its fixed name.
    pub name: &'static str,
}

impl FeObject {
    /// kubectl's `-o name` form: `serviceaccount/azureml-fe`, `deployment.apps/azureml-fe`.
    pub fn kubectl_name(&self) -> String {
        format!("{}/{}", self.kind.name_prefix(), self.name)
    }

    /// True for the TLS secret, which holds the only copy of a custom certificate.
    pub fn is_tls_secret(&self) -> bool {
        *self == AZUREML_FE[6]
    }
}

/// The azureml-fe objects, in the order the docs list them. The namespaced ones live in the
/// namespace Azure ML installed azureml-fe into (`-n`); the ClusterRole and its binding are
/// cluster-scoped.
pub const AZUREML_FE: [FeObject; 8] = [
    FeObject {
        kind: Kind::SERVICE_ACCOUNT,
        name: "azureml-fe",
    },
    FeObject {
        kind: Kind::CLUSTER_ROLE,
        name: "azureml-fe-role",
    },
    FeObject {
        kind: Kind::CLUSTER_ROLE_BINDING,
        name: "azureml-fe-binding",
    },
    FeObject {
        kind: Kind::SERVICE,
        name: "azureml-fe",
    },
    FeObject {
        kind: Kind::SERVICE,
        name: "azureml-fe-int-http",
    },
    FeObject {
        kind: Kind::DEPLOYMENT,
        name: "azureml-fe",
    },
    FeObject {
        kind: Kind::SECRET,
        name: "azuremlfessl",
    },
    FeObject {
        kind: Kind::CONFIG_MAP,
        name: "azuremlfeconfig",
    },
];

/// The label Azure ML puts on the Deployments of model services.
pub const MODEL_SERVICE_LABEL: &str = "isazuremlapp=true";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_is_the_docs_eight_objects() {
        let names: Vec<String> = AZUREML_FE.iter().map(FeObject::kubectl_name).collect();
        assert_eq!(
            names,
            [
                "serviceaccount/azureml-fe",
                "clusterrole.rbac.authorization.k8s.io/azureml-fe-role",
                "clusterrolebinding.rbac.authorization.k8s.io/azureml-fe-binding",
                "service/azureml-fe",
                "service/azureml-fe-int-http",
                "deployment.apps/azureml-fe",
                "secret/azuremlfessl",
                "configmap/azuremlfeconfig",
            ]
        );
        assert_eq!(AZUREML_FE.iter().filter(|o| o.is_tls_secret()).count(), 1);
    }
}
