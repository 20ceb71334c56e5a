//! The answers the router gives itself (404, 401, 413, 431, 502, 503, 504 …): a one-line text body
//! naming the service, counted and logged; and the request-id headers every answer carries.

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use http::{HeaderMap, Response, StatusCode};
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use std::time::Duration;

use super::Shared;
use super::backend::Backend;
use super::body::ReplyBody;
use super::slots::Refusal;

// Header names as constants: a `&str` name is parsed and classified again at every lookup.

/// `x-request-id`: the request's id, forwarded or made here.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `x-ms-request-id`: on every answer.
pub const MS_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");
/// `x-ms-client-request-id`: the client's correlation id, echoed.
pub const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-client-request-id");
/// `azureml-model-deployment`: the v2 deployment a request asks for.
pub const MODEL_DEPLOYMENT: HeaderName = HeaderName::from_static("azureml-model-deployment");
/// Longest request id accepted (the Azure ML inference server's limit, answered with 431).
pub const MAX_ID_LEN: usize = 100;

/// A router answer: `text` plus a newline, `text/plain`.
pub fn local(status: StatusCode, text: impl Into<String>) -> Response<ReplyBody> {
    let mut text = text.into();
    text.push('\n');
    let mut response = Response::new(ReplyBody::Local(Some(Bytes::from(text))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    match status {
        StatusCode::UNAUTHORIZED => {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // The rest of an oversized body is not read: the connection cannot carry another request.
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        _ => {}
    }
    response
}

/// The request-id header that is longer than allowed, if any.
pub fn overlong_id(headers: &HeaderMap) -> Option<HeaderName> {
    [REQUEST_ID, MS_REQUEST_ID, CLIENT_REQUEST_ID]
        .into_iter()
        .find(|name| headers.get(name).is_some_and(|v| v.len() > MAX_ID_LEN))
}

/// Adds the id headers an answer lacks: `x-request-id` and `x-ms-request-id` (the request's id)
/// and `x-ms-client-request-id` (the client's, echoed).
pub fn stamp(headers: &mut HeaderMap, id: &HeaderValue, client_id: Option<HeaderValue>) {
    for name in [REQUEST_ID, MS_REQUEST_ID] {
        if !headers.contains_key(&name) {
            headers.insert(name, id.clone());
        }
    }
    if let Some(client_id) = client_id
        && !headers.contains_key(&CLIENT_REQUEST_ID)
    {
        headers.insert(CLIENT_REQUEST_ID, client_id);
    }
}

/// Makes request ids: random version-4 UUIDs from a per-process random seed and a counter, so
/// each costs a few nanoseconds instead of a system call.
#[derive(Debug)]
pub struct RequestIds {
    seed: u64,
    counter: AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        let mut seed = [0u8; 8];
        // Uniqueness, not secrecy, is what ids need; a failed RNG still gives distinct ids.
        let _ = SystemRandom::new().fill(&mut seed);
        Self {
            seed: u64::from_le_bytes(seed),
            counter: AtomicU64::new(0),
        }
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl RequestIds {
    /// The next id, as a header value.
    pub fn next(&self) -> HeaderValue {
        let n = self.counter.fetch_add(1, Relaxed);
        let high = splitmix(self.seed ^ n.rotate_left(17));
        let low = splitmix(high ^ n);
        let bytes = (u128::from(high) << 64) | u128::from(low);
        // Version 4, variant 10.
        let bytes = (bytes & !(0xF_u128 << 76)) | (0x4 << 76);
        let bytes = (bytes & !(0x3_u128 << 62)) | (0x2 << 62);
        // 8-4-4-4-12 hex digits, written in place: no formatting machinery per request.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'-'; 36];
        let mut nibble = 0;
        for (at, slot) in text.iter_mut().enumerate() {
            if matches!(at, 8 | 13 | 18 | 23) {
                continue;
            }
            *slot = HEX[((bytes >> (124 - 4 * nibble)) & 0xF) as usize];
            nibble += 1;
        }
        HeaderValue::from_bytes(&text).expect("hex and dashes")
    }
}

// The router's failure answers for one service: counted in the metrics and logged once each.

/// A router answer for `backend`, counted, and logged as a failure.
pub(super) fn refuse(
    backend: &Backend,
    status: StatusCode,
    text: String,
    why: &str,
    id: &HeaderValue,
) -> Response<ReplyBody> {
    backend.metrics.count(status.as_u16());
    tracing::warn!(
        request_id = id.to_str().unwrap_or("-"),
        service = backend.public_name(),
        namespace = %backend.key.namespace,
        status = status.as_u16(),
        "{why}"
    );
    local(status, text)
}

/// 404 for a name no backend serves, counted and logged.
pub(super) fn unrouted(
    shared: &Shared,
    name: &str,
    text: String,
    id: &HeaderValue,
) -> Response<ReplyBody> {
    shared.metrics.count_unrouted(name, 404);
    tracing::warn!(
        request_id = id.to_str().unwrap_or("-"),
        status = 404,
        "{text}"
    );
    local(StatusCode::NOT_FOUND, text)
}

/// 413: the body is over `--max-body-bytes`.
pub(super) fn too_large(
    backend: &Backend,
    name: &str,
    limit: u64,
    id: &HeaderValue,
) -> Response<ReplyBody> {
    let text = format!("Request body for service {name} is larger than {limit} bytes");
    refuse(
        backend,
        StatusCode::PAYLOAD_TOO_LARGE,
        text,
        "413: body over --max-body-bytes",
        id,
    )
}

/// 502: the replica refused or dropped the connection.
pub(super) fn closed(
    backend: &Backend,
    name: &str,
    why: &str,
    id: &HeaderValue,
) -> Response<ReplyBody> {
    let text = format!("Replica closed connection before replying for service {name}");
    refuse(
        backend,
        StatusCode::BAD_GATEWAY,
        text,
        &format!("502: {why}"),
        id,
    )
}

/// 503: no slot within the queue wait (overloaded, or no ready replica).
pub(super) fn refused_slot(
    backend: &Backend,
    name: &str,
    refusal: Refusal,
    wait: Duration,
    id: &HeaderValue,
) -> Response<ReplyBody> {
    let (text, why) = match refusal {
        Refusal::Overloaded => (
            format!("Too many requests for service {name} (overloaded)"),
            format!("503: every replica stayed busy for {} ms", wait.as_millis()),
        ),
        Refusal::NoReplicas => (
            format!("No ready replicas for service {name}"),
            "503: no ready replica".to_string(),
        ),
    };
    refuse(backend, StatusCode::SERVICE_UNAVAILABLE, text, &why, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_version_4_uuids() {
        let ids = RequestIds::default();
        let a = ids.next();
        let b = ids.next();
        assert_ne!(a, b);
        let text = a.to_str().unwrap();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4", "{text}");
        assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"), "{text}");
    }

    #[test]
    fn answers_stamp_ids_without_overwriting_the_replicas() {
        let mut headers = HeaderMap::new();
        headers.insert(MS_REQUEST_ID, HeaderValue::from_static("from-model"));
        let id = HeaderValue::from_static("rid");
        stamp(&mut headers, &id, Some(HeaderValue::from_static("cid")));
        assert_eq!(headers[MS_REQUEST_ID], "from-model");
        assert_eq!(headers[REQUEST_ID], "rid");
        assert_eq!(headers[CLIENT_REQUEST_ID], "cid");
    }

    #[test]
    fn router_answers_are_one_line_with_their_headers() {
        let r = local(StatusCode::UNAUTHORIZED, "Unauthorized for service s");
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer");
        let r = local(StatusCode::PAYLOAD_TOO_LARGE, "too large");
        assert_eq!(r.headers()[CONNECTION], "close");
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_str(&"x".repeat(101)).unwrap());
        assert_eq!(overlong_id(&headers), Some(REQUEST_ID));
        assert_eq!(MODEL_DEPLOYMENT, "azureml-model-deployment");
    }
}
