//! `kind: Status` errors worded the way the real API server words them (kubectl prints `message`).

use serde_json::{Value, json};

use super::kinds::KindDef;

/// An error answer: HTTP status plus the Status body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// The `kind: Status` body.
    pub body: Value,
}

/// Builds a failure Status.
pub fn failure(
    code: u16,
    reason: &str,
    message: impl Into<String>,
    details: Option<Value>,
) -> ApiError {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message.into(),
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    ApiError { code, body }
}

fn details(kind: &KindDef, name: &str) -> Value {
    json!({"name": name, "group": kind.group, "kind": kind.plural})
}

/// 404 `secrets "x" not found`.
pub fn not_found(kind: &KindDef, name: &str) -> ApiError {
    let message = format!("{} \"{name}\" not found", kind.qualified_plural());
    failure(404, "NotFound", message, Some(details(kind, name)))
}

/// 404 for an object created in a namespace that does not exist.
pub fn namespace_not_found(namespace: &str) -> ApiError {
    let message = format!("namespaces \"{namespace}\" not found");
    failure(
        404,
        "NotFound",
        message,
        Some(json!({"name": namespace, "kind": "namespaces"})),
    )
}

/// 409 `secrets "x" already exists`.
pub fn already_exists(kind: &KindDef, name: &str) -> ApiError {
    let message = format!("{} \"{name}\" already exists", kind.qualified_plural());
    failure(409, "AlreadyExists", message, Some(details(kind, name)))
}

/// 409 for a stale resourceVersion.
pub fn conflict(kind: &KindDef, name: &str) -> ApiError {
    let message = format!(
        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
         please apply your changes to the latest version and try again",
        kind.qualified_plural()
    );
    failure(409, "Conflict", message, Some(details(kind, name)))
}

/// 409 for a failed delete precondition.
pub fn precondition_failed(
    kind: &KindDef,
    name: &str,
    what: &str,
    wanted: &str,
    actual: &str,
) -> ApiError {
    let message = format!(
        "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: {what} in precondition: {wanted}, \
         {what} in object meta: {actual}",
        kind.qualified_plural()
    );
    failure(409, "Conflict", message, Some(details(kind, name)))
}

/// 422 with one field cause.
pub fn invalid(kind: &KindDef, name: &str, field: &str, problem: &str) -> ApiError {
    let message = format!("{} \"{name}\" is invalid: {field}: {problem}", kind.kind);
    let mut d = json!({"name": name, "group": kind.group, "kind": kind.kind});
    d["causes"] = json!([{"reason": "FieldValueInvalid", "message": problem, "field": field}]);
    failure(422, "Invalid", message, Some(d))
}

/// 400 with a message.
pub fn bad_request(message: impl Into<String>) -> ApiError {
    failure(400, "BadRequest", message, None)
}

/// 401 as the real server sends it.
pub fn unauthorized() -> ApiError {
    failure(401, "Unauthorized", "Unauthorized", None)
}

/// 405 for a verb the resource does not support.
pub fn method_not_allowed(method: &str) -> ApiError {
    failure(
        405,
        "MethodNotAllowed",
        format!("the server does not allow this method on the requested resource ({method})"),
        None,
    )
}

/// 404 for a path that names no resource.
pub fn no_route() -> ApiError {
    failure(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

/// 415 for a PATCH content type the server does not know.
pub fn unsupported_media_type(content_type: &str) -> ApiError {
    failure(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
        ),
        None,
    )
}

/// 410 for a watch from a resourceVersion older than the kept history.
pub fn gone(asked: u64, oldest: u64) -> ApiError {
    failure(
        410,
        "Expired",
        format!("too old resource version: {asked} ({oldest})"),
        None,
    )
}

/// An injected error for any status code, with the reason the real server uses for it.
pub fn injected(
    code: u16,
    kind: Option<&KindDef>,
    verb: &str,
    namespace: Option<&str>,
    name: &str,
) -> ApiError {
    let resource = kind
        .map(|k| k.qualified_plural())
        .unwrap_or_else(|| "resource".into());
    let (reason, message) = match code {
        401 => return unauthorized(),
        403 => {
            let group = kind.map(|k| k.group).unwrap_or("");
            let plural = kind.map(|k| k.plural).unwrap_or("resource");
            let scope = namespace
                .map(|ns| format!(" in the namespace \"{ns}\""))
                .unwrap_or_default();
            let subject = if name.is_empty() {
                resource.clone()
            } else {
                format!("{resource} \"{name}\"")
            };
            (
                "Forbidden",
                format!(
                    "{subject} is forbidden: User \"fake-user\" cannot {verb} resource \"{plural}\" \
                     in API group \"{group}\"{scope}"
                ),
            )
        }
        404 => ("NotFound", format!("{resource} \"{name}\" not found")),
        409 => (
            "Conflict",
            format!("Operation cannot be fulfilled on {resource} \"{name}\": injected conflict"),
        ),
        429 => (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later".into(),
        ),
        500 => (
            "InternalError",
            "Internal error occurred: injected fault".into(),
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request".into(),
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted".into(),
        ),
        _ => ("", format!("injected status {code}")),
    };
    let d = kind.map(|k| details(k, name));
    failure(code, reason, message, d)
}
