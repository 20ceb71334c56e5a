//! Typed ARM resource ids: parsed, printed and compared case-insensitively (ARM answers with
//! `resourcegroups` or `ManagedClusters` as it likes). Request URLs are only built from these.

use std::fmt;
use std::str::FromStr;

/// An ARM resource id: `/subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}[/{type}/{name}…]`.
///
/// ```
/// use aml_core::arm::ResourceId;
/// let id: ResourceId = "/subscriptions/s1/resourcegroups/rg1/providers/Microsoft.ContainerService/managedClusters/aks1".parse().unwrap();
/// assert_eq!(id.name(), "aks1");
/// assert_eq!(id.resource_group(), "rg1");
/// assert!(id.is_type("microsoft.containerservice/managedclusters"));
/// assert_eq!(id.to_string(), "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/aks1");
/// ```
#[derive(Debug, Clone, Eq)]
pub struct ResourceId {
    subscription: String,
    resource_group: String,
    namespace: String,
    /// (type, name) pairs, outermost first.
    segments: Vec<(String, String)>,
}

/// Why a string is not a resource id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{id}` is not an ARM resource id: {problem}")]
pub struct IdError {
    /// The text given.
    pub id: String,
    /// What is wrong.
    pub problem: &'static str,
}

impl ResourceId {
    /// An id from its parts: `ResourceId::new("s", "rg", "Microsoft.MachineLearningServices", &[("workspaces", "ws")])`.
    pub fn new(
        subscription: &str,
        resource_group: &str,
        namespace: &str,
        segments: &[(&str, &str)],
    ) -> Self {
        Self {
            subscription: subscription.into(),
            resource_group: resource_group.into(),
            namespace: namespace.into(),
            segments: segments
                .iter()
                .map(|(t, n)| (t.to_string(), n.to_string()))
                .collect(),
        }
    }

    /// A child of this resource: `workspace.child("computes", "aks1")`.
    pub fn child(&self, kind: &str, name: &str) -> Self {
        let mut child = self.clone();
        child.segments.push((kind.into(), name.into()));
        child
    }

    /// The subscription id.
    pub fn subscription(&self) -> &str {
        &self.subscription
    }

    /// The resource group.
    pub fn resource_group(&self) -> &str {
        &self.resource_group
    }

    /// The provider namespace: `Microsoft.ContainerService`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The innermost name.
    pub fn name(&self) -> &str {
        self.segments
            .last()
            .map(|(_, n)| n.as_str())
            .unwrap_or_default()
    }

    /// The full type: `Microsoft.ContainerService/managedClusters`.
    pub fn resource_type(&self) -> String {
        let kinds: Vec<&str> = self.segments.iter().map(|(t, _)| t.as_str()).collect();
        format!("{}/{}", self.namespace, kinds.join("/"))
    }

    /// Whether the full type is `kind`, ignoring case.
    pub fn is_type(&self, kind: &str) -> bool {
        self.resource_type().eq_ignore_ascii_case(kind)
    }

    /// The parent resource (one segment less), if there is one.
    pub fn parent(&self) -> Option<Self> {
        (self.segments.len() > 1).then(|| {
            let mut parent = self.clone();
            parent.segments.pop();
            parent
        })
    }
}

impl FromStr for ResourceId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let error = |problem| IdError {
            id: text.to_string(),
            problem,
        };
        let trimmed = text.trim();
        if !trimmed.starts_with('/') || trimmed.ends_with('/') {
            return Err(error(
                "it must start with `/subscriptions/` and not end with `/`",
            ));
        }
        let parts: Vec<&str> = trimmed[1..].split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(error("it has an empty segment"));
        }
        match parts.as_slice() {
            [s, sub, g, group, p, namespace, rest @ ..]
                if s.eq_ignore_ascii_case("subscriptions")
                    && g.eq_ignore_ascii_case("resourceGroups")
                    && p.eq_ignore_ascii_case("providers") =>
            {
                if rest.is_empty() || rest.len() % 2 != 0 {
                    return Err(error(
                        "it needs type/name pairs after the provider namespace",
                    ));
                }
                let segments = rest
                    .chunks(2)
                    .map(|pair| (pair[0].to_string(), pair[1].to_string()))
                    .collect();
                Ok(Self {
                    subscription: sub.to_string(),
                    resource_group: group.to_string(),
                    namespace: namespace.to_string(),
                    segments,
                })
            }
            [s, ..] if !s.eq_ignore_ascii_case("subscriptions") => {
                Err(error("it must start with `/subscriptions/`"))
            }
            [_, _] | [_, _, _] => Err(error("it has no resource group")),
            [_, _, g, ..] if !g.eq_ignore_ascii_case("resourceGroups") => {
                Err(error("`resourceGroups` must follow the subscription"))
            }
            _ => Err(error(
                "it has no `providers/{namespace}/{type}/{name}` part",
            )),
        }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/{}",
            self.subscription, self.resource_group, self.namespace
        )?;
        for (kind, name) in &self.segments {
            write!(f, "/{kind}/{name}")?;
        }
        Ok(())
    }
}

impl PartialEq for ResourceId {
    fn eq(&self, other: &Self) -> bool {
        self.to_string().eq_ignore_ascii_case(&other.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_case_insensitively() {
        let a: ResourceId = "/subscriptions/S/resourcegroups/RG/providers/microsoft.containerservice/ManagedClusters/aks1".parse().unwrap();
        let b = ResourceId::new(
            "s",
            "rg",
            "Microsoft.ContainerService",
            &[("managedClusters", "AKS1")],
        );
        assert_eq!(a, b);
        let compute = ResourceId::new(
            "s",
            "rg",
            "Microsoft.MachineLearningServices",
            &[("workspaces", "ws")],
        )
        .child("computes", "c1");
        assert_eq!(
            compute.resource_type(),
            "Microsoft.MachineLearningServices/workspaces/computes"
        );
        assert_eq!(compute.parent().unwrap().name(), "ws");
    }

    #[test]
    fn each_malformation_is_named() {
        let cases = [
            (
                "subscriptions/s/resourceGroups/g/providers/N/t/n",
                "it must start with `/subscriptions/` and not end with `/`",
            ),
            (
                "/subscriptions/s/resourceGroups/g/providers/N/t/n/",
                "it must start with `/subscriptions/` and not end with `/`",
            ),
            (
                "/tenants/s/resourceGroups/g/providers/N/t/n",
                "it must start with `/subscriptions/`",
            ),
            ("/subscriptions/s", "it has no resource group"),
            (
                "/subscriptions/s/groups/g/providers/N/t/n",
                "`resourceGroups` must follow the subscription",
            ),
            (
                "/subscriptions/s/resourceGroups/g/providers/N/t",
                "it needs type/name pairs after the provider namespace",
            ),
            (
                "/subscriptions/s/resourceGroups/g",
                "it has no `providers/{namespace}/{type}/{name}` part",
            ),
            (
                "/subscriptions//resourceGroups/g/providers/N/t/n",
                "it has an empty segment",
            ),
        ];
        for (text, problem) in cases {
            assert_eq!(
                text.parse::<ResourceId>().unwrap_err().problem,
                problem,
                "{text}"
            );
        }
    }
}
