//! What goes to ARM and what comes back: a request (printable for `--dry-run`), a successful
//! answer with its `Retry-After`, and the per-request id ARM support asks for.

use std::time::Duration;

use http::{HeaderMap, Method};
use serde_json::Value;

use super::error::ArmFailure;

/// A request to send (or, with `--dry-run`, to print).
#[derive(Debug, Clone, PartialEq)]
pub struct ArmRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL with `api-version`.
    pub url: String,
    /// JSON body.
    pub body: Option<Value>,
    /// A PUT that creates a resource that is not there (a compute): after an answer lost on the
    /// way back, a resource found there is this create landed, not sent again (ARM refuses a
    /// second create of a compute). Any other PUT is retried as it is: an update's resource is
    /// there before and after.
    pub creates: bool,
}

impl ArmRequest {
    /// GET.
    pub fn get(url: String) -> Self {
        Self {
            method: Method::GET,
            url,
            body: None,
            creates: false,
        }
    }

    /// PUT with a body.
    pub fn put(url: String, body: Value) -> Self {
        Self {
            method: Method::PUT,
            url,
            body: Some(body),
            creates: false,
        }
    }

    /// PUT that creates a resource known to be absent (see [`ArmRequest::creates`]).
    pub fn create(url: String, body: Value) -> Self {
        Self {
            creates: true,
            ..Self::put(url, body)
        }
    }

    /// PATCH with a body.
    pub fn patch(url: String, body: Value) -> Self {
        Self {
            method: Method::PATCH,
            url,
            body: Some(body),
            creates: false,
        }
    }

    /// DELETE.
    pub fn delete(url: String) -> Self {
        Self {
            method: Method::DELETE,
            url,
            body: None,
            creates: false,
        }
    }

    /// POST, with or without a body.
    pub fn post(url: String, body: Option<Value>) -> Self {
        Self {
            method: Method::POST,
            url,
            body,
            creates: false,
        }
    }

    /// The request as `--dry-run` prints it: method, URL, then the body as JSON.
    pub fn describe(&self) -> String {
        match &self.body {
            Some(body) => format!(
                "{} {}\n{}",
                self.method,
                self.url,
                serde_json::to_string_pretty(body).unwrap_or_default()
            ),
            None => format!("{} {}", self.method, self.url),
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct ArmResponse {
    /// HTTP status (below 400).
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// JSON body (`null` when empty).
    pub body: Value,
}

impl ArmResponse {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Retry-After`, in whole seconds as ARM sends it.
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }
}

pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A random UUID v4, for `x-ms-client-request-id`.
pub(super) fn request_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Reads an ARM error body (`{"error": {…}}`, or the older `{"error": {"error": {…}}}`).
pub(super) fn failure_from(
    body: &Value,
    status: u16,
    method: &str,
    url: &str,
    request_id: Option<String>,
) -> ArmFailure {
    let mut error = &body["error"];
    if error.get("error").is_some() {
        error = &error["error"];
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let details = error["details"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| match (text(&d["code"]), text(&d["message"])) {
            (code, message) if code.is_empty() => message,
            (code, message) => format!("{code}: {message}"),
        })
        .collect();
    let message = match (&error["message"], body) {
        (Value::String(m), _) => m.clone(),
        (_, Value::String(raw)) => raw.chars().take(300).collect(),
        _ => String::new(),
    };
    ArmFailure {
        method: method.into(),
        url: url.into(),
        status,
        code: text(&error["code"]),
        message,
        details,
        request_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_old_and_new_are_read() {
        let body = serde_json::json!({"error": {"code": "ValidationError", "message": "bad", "details": [{"code": "X", "message": "y"}]}});
        let f = failure_from(&body, 400, "PUT", "u", None);
        assert_eq!(
            (f.code.as_str(), f.message.as_str(), f.details.as_slice()),
            ("ValidationError", "bad", &["X: y".to_string()][..])
        );
        let old = serde_json::json!({"error": {"error": {"code": "Old", "message": "nested"}}});
        assert_eq!(failure_from(&old, 400, "GET", "u", None).code, "Old");
    }
}
