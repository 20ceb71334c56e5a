//! Request paths to what they name: discovery documents, a collection, or one object and its
//! subresource, following the API server's URL layout.

use super::kinds::{self, KindDef};

/// Where a path leads.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/api`.
    Core,
    /// `/apis`.
    Groups,
    /// `/apis/G`.
    Group(String),
    /// `/api/v1`, `/apis/G/V`.
    Resources(String, String),
    /// `/openapi/v3`.
    OpenApiIndex,
    /// `/openapi/v3/<gv path>`.
    OpenApi(String),
    /// A collection: list, watch, create, delete-collection.
    Collection {
        /// Kind.
        kind: &'static KindDef,
        /// Namespace, `None` for all namespaces or cluster-scoped.
        namespace: Option<String>,
    },
    /// One object, or one of its subresources.
    Object(ObjectRef),
}

/// One object, and maybe one of its subresources, as a request names it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRef {
    /// Kind.
    pub kind: &'static KindDef,
    /// Namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `scale` or `status`.
    pub sub: Option<String>,
}

/// Parses a request path.
pub fn route(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Some(Route::Version),
        ["api"] => return Some(Route::Core),
        ["apis"] => return Some(Route::Groups),
        ["apis", g] => return Some(Route::Group(g.to_string())),
        ["api", v] => return Some(Route::Resources(String::new(), v.to_string())),
        ["apis", g, v] => return Some(Route::Resources(g.to_string(), v.to_string())),
        ["openapi", "v3"] => return Some(Route::OpenApiIndex),
        ["openapi", "v3", rest @ ..] => return Some(Route::OpenApi(rest.join("/"))),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let find = |plural: &str| kinds::find(group, version, plural);
    let namespaced_list =
        rest.len() >= 3 && rest[0] == "namespaces" && find(rest[2]).is_some_and(|k| k.namespaced);
    let object = |kind: &'static KindDef, namespace: &str, name: &str, sub: Option<&&str>| {
        let sub = sub.map(|s| s.to_string());
        if sub
            .as_deref()
            .is_some_and(|s| !kind.subresources.contains(&s))
        {
            return None;
        }
        Some(Route::Object(ObjectRef {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
            sub,
        }))
    };
    if namespaced_list {
        let kind = find(rest[2])?;
        return match rest.len() {
            3 => Some(Route::Collection {
                kind,
                namespace: Some(rest[1].to_string()),
            }),
            4 | 5 => object(kind, rest[1], rest[3], rest.get(4)),
            _ => None,
        };
    }
    let kind = find(rest.first()?)?;
    match rest.len() {
        1 => Some(Route::Collection {
            kind,
            namespace: None,
        }),
        2 | 3 if !kind.namespaced => object(kind, "", rest[1], rest.get(2)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_like_the_api_server() {
        let secrets = kinds::find("", "v1", "secrets").unwrap();
        let namespaces = kinds::find("", "v1", "namespaces").unwrap();
        assert_eq!(
            route("/api/v1/namespaces/default/secrets"),
            Some(Route::Collection {
                kind: secrets,
                namespace: Some("default".into())
            })
        );
        assert_eq!(
            route("/api/v1/secrets"),
            Some(Route::Collection {
                kind: secrets,
                namespace: None
            })
        );
        assert_eq!(
            route("/api/v1/namespaces/azureml"),
            Some(Route::Object(ObjectRef {
                kind: namespaces,
                namespace: "".into(),
                name: "azureml".into(),
                sub: None
            }))
        );
        assert!(
            matches!(route("/apis/apps/v1/namespaces/d/deployments/fe/scale"), Some(Route::Object(ObjectRef { sub: Some(s), .. })) if s == "scale")
        );
        assert_eq!(
            route("/apis/apps/v1/namespaces/d/deployments/fe/bogus"),
            None
        );
        assert_eq!(route("/api/v1/namespaces/d/secrets/x/scale"), None);
        assert_eq!(route("/version/"), Some(Route::Version));
    }
}
