//! Discovery as kubectl reads it: `/version`, `/api`, `/apis` (aggregated v2 or v2beta1 or legacy,
//! chosen by `Accept`), `/api/v1` and `/apis/G/V` resource lists, and the OpenAPI v3 documents that
//! `kubectl apply` needs. Facts: `../shared/facts/kubectl-against-a-fake.md`.

use serde_json::{Value, json};

use super::kinds::{KindDef, groups, in_group_version};

/// Which discovery document a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `apidiscovery.k8s.io/v2` (kubectl ≥ 1.30).
    V2,
    /// `apidiscovery.k8s.io/v2beta1` (kubectl 1.26–1.29).
    V2Beta1,
    /// `APIVersions` / `APIGroupList` (old clients and the Python client).
    Legacy,
}

impl Flavour {
    /// Chooses by the `Accept` header, preferring v2 like the real server.
    pub fn from_accept(accept: &str) -> Self {
        let wants = |v: &str| {
            accept.split(',').any(|part| {
                part.contains("g=apidiscovery.k8s.io")
                    && part.contains(&format!("v={v};"))
                    && part.contains("as=APIGroupDiscoveryList")
            })
        };
        if wants("v2") {
            Self::V2
        } else if wants("v2beta1") {
            Self::V2Beta1
        } else {
            Self::Legacy
        }
    }

    /// The response content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::V2 => "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            Self::V2Beta1 => {
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            }
            Self::Legacy => "application/json",
        }
    }
}

/// `/version` for Kubernetes 1.`minor`.
pub fn version(minor: u32) -> Value {
    json!({
        "major": "1", "minor": minor.to_string(), "gitVersion": format!("v1.{minor}.0-fake"),
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-11-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"
    })
}

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn subresource_kind(kind: &KindDef, sub: &str) -> (&'static str, &'static str, &'static str) {
    match sub {
        "scale" => ("autoscaling", "v1", "Scale"),
        _ => (kind.group, kind.version, kind.kind),
    }
}

fn aggregated_resource(kind: &KindDef) -> Value {
    let subresources: Vec<Value> = kind
        .subresources
        .iter()
        .map(|sub| {
            let (g, v, k) = subresource_kind(kind, sub);
            json!({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k}, "verbs": ["get", "patch", "update"]})
        })
        .collect();
    let mut r = json!({
        "resource": kind.plural,
        "responseKind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
        "scope": if kind.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": kind.singular(),
        "verbs": VERBS,
    });
    if !kind.short_names.is_empty() {
        r["shortNames"] = json!(kind.short_names);
    }
    if !subresources.is_empty() {
        r["subresources"] = json!(subresources);
    }
    r
}

fn aggregated_group(name: &str, version: &str) -> Value {
    let resources: Vec<Value> = in_group_version(name, version)
        .into_iter()
        .map(aggregated_resource)
        .collect();
    json!({"metadata": {"name": name}, "versions": [{"version": version, "resources": resources, "freshness": "Current"}]})
}

fn aggregated_list(items: Vec<Value>, flavour: Flavour) -> Value {
    let api_version = if flavour == Flavour::V2 {
        "apidiscovery.k8s.io/v2"
    } else {
        "apidiscovery.k8s.io/v2beta1"
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items})
}

/// `/api`.
pub fn core(flavour: Flavour, server_address: &str) -> Value {
    match flavour {
        Flavour::Legacy => json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
        }),
        _ => aggregated_list(vec![aggregated_group("", "v1")], flavour),
    }
}

fn legacy_group(name: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{name}/{version}"), "version": version});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `/apis`.
pub fn groups_document(flavour: Flavour) -> Value {
    match flavour {
        Flavour::Legacy => {
            let list: Vec<Value> = groups()
                .into_iter()
                .map(|(g, v)| legacy_group(g, v))
                .collect();
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list})
        }
        _ => aggregated_list(
            groups()
                .into_iter()
                .map(|(g, v)| aggregated_group(g, v))
                .collect(),
            flavour,
        ),
    }
}

/// `/apis/G`.
pub fn group(name: &str) -> Option<Value> {
    groups()
        .into_iter()
        .find(|(g, _)| *g == name)
        .map(|(g, v)| legacy_group(g, v))
}

/// `/api/v1` or `/apis/G/V`: the legacy resource list, subresources as `plural/sub` entries.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let kinds = in_group_version(group, version);
    if kinds.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for kind in kinds {
        let mut r = json!({"name": kind.plural, "singularName": kind.singular(), "namespaced": kind.namespaced, "kind": kind.kind, "verbs": VERBS});
        if !kind.short_names.is_empty() {
            r["shortNames"] = json!(kind.short_names);
        }
        resources.push(r);
        for sub in kind.subresources {
            let (g, v, k) = subresource_kind(kind, sub);
            let mut s = json!({"name": format!("{}/{sub}", kind.plural), "singularName": "", "namespaced": kind.namespaced, "kind": k, "verbs": ["get", "patch", "update"]});
            if *sub == "scale" {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

/// The OpenAPI v3 path of a group-version: `api/v1`, `apis/apps/v1`.
fn openapi_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per group-version.
pub fn openapi_index() -> Value {
    let mut paths = serde_json::Map::new();
    let mut gvs = vec![("", "v1")];
    gvs.extend(groups());
    for (g, v) in gvs {
        let path = openapi_path(g, v);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash=FAKE{}", path.len())}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` etc.: a PATCH operation per kind carrying its GVK and `fieldValidation`,
/// which is what kubectl reads to decide that the server validates fields.
pub fn openapi_document(path: &str) -> Option<Value> {
    let (group, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return None,
    };
    let kinds = in_group_version(group, version);
    if kinds.is_empty() {
        return None;
    }
    let mut paths = serde_json::Map::new();
    for kind in kinds {
        let prefix = format!("/{}", openapi_path(group, version));
        let url = if kind.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", kind.plural)
        } else {
            format!("{prefix}/{}/{{name}}", kind.plural)
        };
        let gvk = json!({"group": kind.group, "version": kind.version, "kind": kind.kind});
        let parameters = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
            {"name": "force", "in": "query", "schema": {"type": "boolean"}}
        ]);
        paths.insert(
            url,
            json!({
                "get": {"x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk},
                "patch": {"x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk, "parameters": parameters},
            }),
        );
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": paths, "components": {"schemas": {}}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL_132: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    const KUBECTL_129: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    #[test]
    fn accept_header_chooses_the_flavour_kubectl_understands() {
        assert_eq!(Flavour::from_accept(KUBECTL_132), Flavour::V2);
        assert_eq!(Flavour::from_accept(KUBECTL_129), Flavour::V2Beta1);
        assert_eq!(
            Flavour::from_accept("application/json, */*"),
            Flavour::Legacy
        );
    }

    #[test]
    fn aggregated_discovery_lists_scale_as_a_subresource() {
        let doc = groups_document(Flavour::V2);
        assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
        let apps = doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["metadata"]["name"] == "apps")
            .unwrap();
        let deploy = &apps["versions"][0]["resources"][0];
        assert_eq!(deploy["resource"], "deployments");
        assert_eq!(deploy["subresources"][0]["responseKind"]["kind"], "Scale");
        assert_eq!(
            groups_document(Flavour::V2Beta1)["apiVersion"],
            "apidiscovery.k8s.io/v2beta1"
        );
    }
}
