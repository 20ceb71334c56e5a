//! The HTTP face of the fake: parses the request, records it, checks the bearer token, applies
//! injected faults and latency, routes to discovery or to the object verbs.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::Value;

use super::discovery::{self, Flavour};
use super::faults::{Action, Faults, Recorded};
use super::route::{Route, route};
use super::status::{self, ApiError};
use super::store::Store;
use super::{collection, verbs, watch};

/// Response body type: whole JSON documents or a watch stream.
pub type Body = BoxBody<Bytes, Infallible>;

/// State shared by every connection.
pub struct Shared {
    /// Objects.
    pub store: Mutex<Store>,
    /// Injected faults and latency.
    pub faults: Mutex<Faults>,
    /// Every request seen.
    pub journal: Mutex<Vec<Recorded>>,
    /// Required bearer token, if any.
    pub token: Option<String>,
    /// Kubernetes minor version reported by `/version` (the kubectl dispatcher picks its client by it).
    pub minor: u32,
    /// `host:port` for `serverAddressByClientCIDRs`.
    pub address: Mutex<String>,
}

/// One request, read whole.
pub struct Call {
    /// Method.
    pub method: Method,
    /// Path without query.
    pub path: String,
    pub(super) raw_query: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

/// Percent-decodes a query component (`+` is a space, as Go's `url.ParseQuery` reads it).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Call {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// A header as text; empty when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `dryRun=All`.
    pub fn dry_run(&self) -> bool {
        self.param("dryRun") == Some("All")
    }

    /// The field manager: `fieldManager`, else the User-Agent's product name, as the server does.
    pub fn manager(&self) -> String {
        match self.param("fieldManager") {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => self
                .header("user-agent")
                .split('/')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string(),
        }
    }

    /// The body as JSON (`null` when empty).
    pub fn json(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| status::bad_request(format!("the request body is not valid JSON: {e}")))
    }
}

fn respond_json(code: u16, value: &Value, content_type: &str) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("JSON");
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .header("cache-control", "no-cache, private")
        .body(Full::new(Bytes::from(body)).boxed())
        .expect("response")
}

/// A JSON answer.
pub fn json(code: u16, value: &Value) -> Response<Body> {
    respond_json(code, value, "application/json")
}

/// A Status error answer.
pub fn error(e: ApiError) -> Response<Body> {
    json(e.code, &e.body)
}

/// Serves one request.
pub async fn handle(
    shared: Arc<Shared>,
    request: hyper::Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let query = raw_query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let call = Call {
        method: parts.method,
        path: parts.uri.path().to_string(),
        raw_query,
        query,
        headers: parts.headers,
        body,
    };
    let index = record(&shared, &call);
    let response = respond(&shared, &call).await;
    if let Some(entry) = shared.journal.lock().expect("journal").get_mut(index) {
        entry.status = response.status().as_u16();
        entry.answered = Some(std::time::Instant::now());
    }
    Ok(response)
}

fn record(shared: &Shared, call: &Call) -> usize {
    let body = if call.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&call.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&call.body).into_owned()))
    };
    let auth = call.header("authorization");
    let entry = Recorded {
        method: call.method.to_string(),
        path: call.path.clone(),
        query: call.raw_query.clone(),
        user_agent: call.header("user-agent").to_string(),
        content_type: call.header("content-type").to_string(),
        accept: call.header("accept").to_string(),
        auth_scheme: auth.split_whitespace().next().map(str::to_string),
        body,
        status: 0,
        received: std::time::Instant::now(),
        answered: None,
    };
    let mut journal = shared.journal.lock().expect("journal");
    journal.push(entry);
    journal.len() - 1
}

async fn respond(shared: &Arc<Shared>, call: &Call) -> Response<Body> {
    let latency = shared.faults.lock().expect("faults").latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(token) = &shared.token {
        let sent = call
            .header("authorization")
            .strip_prefix("Bearer ")
            .map(str::trim);
        if sent != Some(token.as_str()) {
            return error(status::unauthorized());
        }
    }
    if let Some(response) = super::proxy::pod(shared, call).await {
        return response;
    }
    let route = route(&call.path);
    let action = shared
        .faults
        .lock()
        .expect("faults")
        .take(call.method.as_str(), &call.path);
    match action {
        Some(Action::Hang) => futures::future::pending::<()>().await,
        Some(Action::Reset) => {
            return Response::builder()
                .header(crate::http_server::RESET_HEADER, "1")
                .body(Full::new(Bytes::new()).boxed())
                .expect("response");
        }
        Some(Action::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Action::Status(code)) => {
            let (kind, namespace, name) = match &route {
                Some(Route::Object(object)) => (
                    Some(object.kind),
                    Some(object.namespace.as_str()).filter(|n| !n.is_empty()),
                    object.name.as_str(),
                ),
                Some(Route::Collection { kind, namespace }) => {
                    (Some(*kind), namespace.as_deref(), "")
                }
                _ => (None, None, ""),
            };
            return error(status::injected(
                code,
                kind,
                &verb_of(call, route.as_ref()),
                namespace,
                name,
            ));
        }
        None => {}
    }
    let Some(route) = route else {
        return error(status::no_route());
    };
    dispatch(shared, call, route).await
}

/// The RBAC verb of a request, for Forbidden messages.
fn verb_of(call: &Call, route: Option<&Route>) -> String {
    let collection = matches!(route, Some(Route::Collection { .. }));
    match call.method {
        Method::GET if call.param("watch").is_some_and(|w| w == "true" || w == "1") => "watch",
        Method::GET if collection => "list",
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if collection => "deletecollection",
        Method::DELETE => "delete",
        _ => "access",
    }
    .to_string()
}

async fn dispatch(shared: &Arc<Shared>, call: &Call, route: Route) -> Response<Body> {
    let flavour = Flavour::from_accept(call.header("accept"));
    let discovery = |doc: Value| respond_json(200, &doc, flavour.content_type());
    let reading = call.method == Method::GET;
    match route {
        Route::Version if reading => json(200, &discovery::version(shared.minor)),
        Route::Core if reading => discovery(discovery::core(
            flavour,
            &shared.address.lock().expect("address"),
        )),
        Route::Groups if reading => discovery(discovery::groups_document(flavour)),
        Route::Group(g) if reading => discovery::group(&g)
            .map(|d| json(200, &d))
            .unwrap_or_else(|| error(status::no_route())),
        Route::Resources(g, v) if reading => discovery::resource_list(&g, &v)
            .map(|d| json(200, &d))
            .unwrap_or_else(|| error(status::no_route())),
        Route::OpenApiIndex if reading => json(200, &discovery::openapi_index()),
        Route::OpenApi(path) if reading => discovery::openapi_document(&path)
            .map(|d| json(200, &d))
            .unwrap_or_else(|| error(status::no_route())),
        Route::Collection { kind, namespace }
            if reading && call.param("watch").is_some_and(|w| w == "true" || w == "1") =>
        {
            match watch::start(shared, call, kind, namespace) {
                Ok(body) => Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .header("transfer-encoding", "chunked")
                    .body(body)
                    .expect("response"),
                Err(e) => error(e),
            }
        }
        Route::Collection { kind, namespace } => reply(collection::collection(
            shared,
            call,
            kind,
            namespace.as_deref(),
        )),
        Route::Object(object) => reply(verbs::object(shared, call, &object)),
        _ => error(status::method_not_allowed(call.method.as_str())),
    }
}

fn reply(result: Result<(u16, Value), ApiError>) -> Response<Body> {
    match result {
        Ok((code, value)) => json(code, &value),
        Err(e) => error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_decode_like_go() {
        assert_eq!(decode("metadata.name%3Dx"), "metadata.name=x");
        assert_eq!(decode("tier+in+%28a%2Cb%29"), "tier in (a,b)");
        assert_eq!(decode("100%"), "100%");
    }
}
