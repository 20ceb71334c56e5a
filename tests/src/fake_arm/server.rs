//! The fake ARM's HTTP face: records each request, checks the bearer token, applies injected
//! faults, checks the request against the official spec, then lets `routes.rs` answer.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::state::State;
use super::{Completion, routes, schema, spec};
use crate::fake_kube::server::{Body, decode};

/// One request as the fake saw it (the token is never kept).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// `x-ms-client-request-id`.
    pub request_id: String,
    /// `User-Agent`.
    pub user_agent: String,
    /// Whether `Authorization: Bearer …` was present.
    pub bearer: bool,
    /// Body (`null` when empty).
    pub body: Value,
    /// Status answered.
    pub status: u16,
}

/// An injected answer.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub(crate) method: String,
    pub(crate) path_contains: String,
    pub(crate) remaining: usize,
    pub(crate) reply: Reply,
}

/// How an answer hangs, for deadline tests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Stall {
    /// It does not.
    #[default]
    No,
    /// No status line, ever.
    BeforeHeaders,
    /// Status, headers (with the full `content-length`) and half the body, then nothing.
    MidBody,
    /// The connection is dropped with no answer.
    Reset,
}

/// An answer: status, headers and JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<Value>,
    pub(crate) stall: Stall,
}

impl Reply {
    pub(crate) fn ok(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![],
            body: Some(body),
            stall: Stall::No,
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: None,
            stall: Stall::No,
        }
    }
}

/// An ARM error answer.
pub fn arm_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::ok(
        status,
        json!({"error": {"code": code, "message": message, "details": [],
        "additionalInfo": [{"type": "ComponentName", "info": {"value": "fake-arm"}}]}}),
    )
}

/// A parsed request.
pub struct Call {
    pub(crate) method: http::Method,
    pub(crate) path: String,
    pub(crate) query: std::collections::HashMap<String, String>,
    pub(crate) body: Value,
}

impl Call {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    pub(crate) fn json(&self) -> Value {
        self.body.clone()
    }
}

/// State shared by the server thread and the test.
pub struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) journal: Mutex<Vec<Recorded>>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) completion: Mutex<Completion>,
    /// `(path_contains, code, message)`: the next operation started on a matching path fails.
    pub(crate) next_failure: Mutex<Option<(String, String, String)>>,
    pub(crate) token: String,
    pub(crate) polls: u32,
    pub(crate) retry_after: Option<u64>,
    pub(crate) page_size: usize,
    pub(crate) latency: std::time::Duration,
    pub(crate) url: Mutex<String>,
    /// Signs the tokens endpoints issue.
    pub(crate) signer: super::tokens::Signer,
}

impl Shared {
    /// The failure planned for the next operation on `path`, taken so it happens once.
    pub(crate) fn take_failure(&self, path: &str) -> Option<(String, String)> {
        let mut next = self.next_failure.lock().expect("failure");
        let wanted = next
            .as_ref()
            .is_some_and(|(on, _, _)| path.to_ascii_lowercase().contains(on.as_str()));
        wanted
            .then(|| next.take())
            .flatten()
            .map(|(_, code, message)| (code, message))
    }

    pub(crate) fn base_url(&self) -> String {
        self.url.lock().expect("url").clone()
    }
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: hyper::Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let query: std::collections::HashMap<String, String> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let authorization = header("authorization");
    let parsed: Result<Value, _> = if bytes.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(&bytes)
    };
    let call = Call {
        method: parts.method.clone(),
        path: decode(parts.uri.path()),
        query: query.clone(),
        body: parsed.as_ref().cloned().unwrap_or(Value::Null),
    };
    let reply = if parsed.is_err() {
        arm_error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        )
    } else {
        answer(&shared, &call, &authorization)
    };
    shared.journal.lock().expect("journal").push(Recorded {
        method: call.method.to_string(),
        path: call.path.clone(),
        query: query.into_iter().collect(),
        request_id: header("x-ms-client-request-id"),
        user_agent: header("user-agent"),
        bearer: authorization.starts_with("Bearer "),
        body: call.body.clone(),
        status: reply.status,
    });
    let mut response = Response::builder().status(reply.status);
    response = response.header("x-ms-request-id", "fake-request-0001");
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    let bytes = match &reply.body {
        Some(body) => {
            response = response.header("content-type", "application/json; charset=utf-8");
            Bytes::from(serde_json::to_vec(body).expect("JSON"))
        }
        None => Bytes::new(),
    };
    match reply.stall {
        Stall::No => Ok(response.body(Full::new(bytes).boxed()).expect("response")),
        Stall::BeforeHeaders => std::future::pending().await,
        Stall::Reset => Ok(response
            .header(crate::http_server::RESET_HEADER, "1")
            .body(Full::new(bytes).boxed())
            .expect("response")),
        Stall::MidBody => {
            use futures::StreamExt;
            let half = bytes.slice(..bytes.len() / 2);
            let frames = futures::stream::once(async move {
                Ok::<_, Infallible>(hyper::body::Frame::data(half))
            })
            .chain(futures::stream::pending());
            let body = http_body_util::StreamBody::new(frames);
            response = response.header("content-length", bytes.len().to_string());
            Ok(response.body(BodyExt::boxed(body)).expect("response"))
        }
    }
}

fn answer(shared: &Shared, call: &Call, authorization: &str) -> Reply {
    match authorization.strip_prefix("Bearer ") {
        None => {
            return arm_error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            );
        }
        Some(token) if token != shared.token => {
            return arm_error(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            );
        }
        Some(_) => {}
    }
    {
        let mut faults = shared.faults.lock().expect("faults");
        let path = call.path.to_ascii_lowercase();
        if let Some(fault) = faults.iter_mut().find(|f| {
            f.remaining > 0
                && f.method.eq_ignore_ascii_case(call.method.as_str())
                && match f.path_contains.strip_suffix('$') {
                    // `…$`: the path ends there (one exact resource, not its children).
                    Some(end) => path.ends_with(end),
                    None => path.contains(&f.path_contains),
                }
        }) {
            fault.remaining -= 1;
            return fault.reply.clone();
        }
    }
    let Some(version) = call.param("api-version") else {
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    match spec::specs().find(call.method.as_str(), &call.path, Some(version)) {
        Err(versions) => {
            return arm_error(
                400,
                "NoRegisteredProviderFound",
                &format!(
                    "No registered resource provider found for API version '{version}'. The supported api-versions are '{}'.",
                    versions.join(", ")
                ),
            );
        }
        Ok(Some(operation)) => {
            let body = (!call.body.is_null()).then_some(&call.body);
            let problems = schema::check_request(spec::specs(), &operation, &call.query, body);
            if !problems.is_empty() {
                return arm_error(
                    400,
                    "InvalidRequestContent",
                    &format!(
                        "{} does not satisfy the spec: {}",
                        operation.id,
                        problems.join("; ")
                    ),
                );
            }
        }
        Ok(None) => {}
    }
    routes::route(shared, call)
}
