//! The kinds the fake serves, as data: discovery entries, scope, subresources, and the list merge
//! rules (`patchMergeKey` / `listType`) that strategic merge and server-side apply need.

/// One served resource type.
#[derive(Debug, PartialEq, Eq)]
pub struct KindDef {
    /// API group; empty for core.
    pub group: &'static str,
    /// Version served.
    pub version: &'static str,
    /// Kind name.
    pub kind: &'static str,
    /// Plural resource name (URL segment).
    pub plural: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Subresources served.
    pub subresources: &'static [&'static str],
}

impl KindDef {
    /// Singular resource name, as discovery reports it.
    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The resource as errors name it: `secrets`, `deployments.apps`.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether `metadata.generation` is maintained (kinds with a spec the server tracks).
    pub fn has_generation(&self) -> bool {
        matches!(self.kind, "Deployment" | "HorizontalPodAutoscaler")
    }
}

const fn def(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    subresources: &'static [&'static str],
) -> KindDef {
    KindDef {
        group,
        version,
        kind,
        plural,
        namespaced,
        short_names,
        subresources,
    }
}

const RBAC: &str = "rbac.authorization.k8s.io";

/// Every kind the fake serves.
#[rustfmt::skip]
pub static KINDS: &[KindDef] = &[
    def("", "v1", "Namespace", "namespaces", false, &["ns"], &["status"]),
    def("", "v1", "Node", "nodes", false, &["no"], &["status"]),
    def("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"], &[]),
    def("", "v1", "Service", "services", true, &["svc"], &["status"]),
    def("", "v1", "Secret", "secrets", true, &[], &[]),
    def("", "v1", "ConfigMap", "configmaps", true, &["cm"], &[]),
    def("", "v1", "Pod", "pods", true, &["po"], &["status"]),
    def("", "v1", "Endpoints", "endpoints", true, &["ep"], &[]),
    def("", "v1", "Event", "events", true, &["ev"], &[]),
    def("apps", "v1", "Deployment", "deployments", true, &["deploy"], &["scale", "status"]),
    def(RBAC, "v1", "ClusterRole", "clusterroles", false, &[], &[]),
    def(RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", false, &[], &[]),
    def("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, &["hpa"], &["status"]),
    def("coordination.k8s.io", "v1", "Lease", "leases", true, &[], &[]),
];

/// The kind served at `group/version/plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static KindDef> {
    KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.plural == plural)
}

/// The kinds served in one group-version.
pub fn in_group_version(group: &str, version: &str) -> Vec<&'static KindDef> {
    KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect()
}

/// The kind with this apiVersion and kind name.
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static KindDef> {
    KINDS
        .iter()
        .find(|k| k.api_version() == api_version && k.kind == kind)
}

/// The groups served besides core, each with its one version, in discovery order.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for k in KINDS.iter().filter(|k| !k.group.is_empty()) {
        if !groups.contains(&(k.group, k.version)) {
            groups.push((k.group, k.version));
        }
    }
    groups
}

/// How a list field merges (Kubernetes' `x-kubernetes-list-type` and `patchMergeKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole.
    Atomic,
    /// Items merged by these key fields.
    Map(&'static [&'static str]),
    /// Scalars merged as a set.
    Set,
}

/// The list type of the field `name` whose parent object sits at `parent` (field names only, list
/// items skipped), following the Kubernetes API types of the kinds above.
pub fn list_type(parent: &[String], name: &str) -> ListType {
    let parent_name = parent.last().map(String::as_str).unwrap_or("");
    match name {
        "finalizers" if parent_name == "metadata" => ListType::Set,
        "ownerReferences" if parent_name == "metadata" => ListType::Map(&["uid"]),
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "imagePullSecrets" => ListType::Map(&["name"]),
        "env" | "secrets" => ListType::Map(&["name"]),
        "volumeMounts" => ListType::Map(&["mountPath"]),
        "volumeDevices" => ListType::Map(&["devicePath"]),
        // Container ports merge by containerPort; Service ports by port.
        "ports" if parent_name == "spec" && parent.len() == 1 => ListType::Map(&["port"]),
        "ports" => ListType::Map(&["containerPort"]),
        "conditions" => ListType::Map(&["type"]),
        "tolerations" | "args" | "command" | "rules" | "subjects" => ListType::Atomic,
        _ => ListType::Atomic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_unique_and_groups_are_listed_once() {
        for (i, a) in KINDS.iter().enumerate() {
            for b in &KINDS[i + 1..] {
                assert!(
                    !(a.group == b.group && a.plural == b.plural),
                    "{} twice",
                    a.plural
                );
            }
        }
        let groups = groups();
        assert_eq!(groups.len(), 4, "{groups:?}");
    }

    #[test]
    fn list_types_follow_the_api_types() {
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            list_type(&path(&["spec"]), "ports"),
            ListType::Map(&["port"])
        );
        assert_eq!(
            list_type(&path(&["spec", "template", "spec", "containers"]), "ports"),
            ListType::Map(&["containerPort"])
        );
        assert_eq!(list_type(&path(&["metadata"]), "finalizers"), ListType::Set);
        assert_eq!(
            list_type(&path(&["spec", "template", "spec"]), "containers"),
            ListType::Map(&["name"])
        );
        assert_eq!(list_type(&path(&[]), "rules"), ListType::Atomic);
    }
}
