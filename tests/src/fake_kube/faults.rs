//! Fault and latency injection, and the request journal tests assert on.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// What an injected fault does to a matching request.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer this HTTP status with the Status body the real server would send.
    Status(u16),
    /// Never answer (the client's timeout must save it).
    Hang,
    /// Drop the connection with no answer.
    Reset,
    /// Answer normally after this extra delay.
    Delay(Duration),
}

/// A rule: the next `remaining` requests matching method and path get `action`.
#[derive(Debug, Clone)]
struct Rule {
    method: Option<String>,
    path: String,
    remaining: usize,
    action: Action,
}

impl Rule {
    fn matches(&self, method: &str, path: &str) -> bool {
        let path_ok = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        };
        path_ok
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// The active rules and the latency added to every request.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Rule>,
    /// Added before every answer.
    pub latency: Duration,
}

impl Faults {
    /// Adds a rule; `method` `None` matches any method, a `path` ending in `*` is a prefix.
    pub fn add(&mut self, method: Option<&str>, path: &str, times: usize, action: Action) {
        self.rules.push(Rule {
            method: method.map(str::to_string),
            path: path.to_string(),
            remaining: times,
            action,
        });
    }

    /// The action for this request, consuming one use of the first matching rule.
    pub fn take(&mut self, method: &str, path: &str) -> Option<Action> {
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.remaining > 0 && r.matches(method, path))?;
        rule.remaining -= 1;
        Some(rule.action.clone())
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }
}

/// One request as the fake saw it. The Authorization header is recorded by scheme only.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// `User-Agent`.
    pub user_agent: String,
    /// `Content-Type`.
    pub content_type: String,
    /// `Accept`.
    pub accept: String,
    /// `Bearer` when a bearer token was sent (never the token).
    pub auth_scheme: Option<String>,
    /// Body as JSON (or as a string when it was not JSON); `null` when empty.
    pub body: Value,
    /// Status answered; 0 while pending or when the request hung.
    pub status: u16,
    /// When the request arrived.
    #[serde(skip)]
    pub received: std::time::Instant,
    /// When it was answered (`None` while pending or hung).
    #[serde(skip)]
    pub answered: Option<std::time::Instant>,
}

impl Recorded {
    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| super::server::decode(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_method_and_path_and_run_out() {
        let mut f = Faults::default();
        f.add(
            Some("DELETE"),
            "/api/v1/namespaces/default/secrets/*",
            2,
            Action::Status(500),
        );
        assert_eq!(f.take("GET", "/api/v1/namespaces/default/secrets/x"), None);
        assert_eq!(
            f.take("delete", "/api/v1/namespaces/default/secrets/x"),
            Some(Action::Status(500))
        );
        assert_eq!(
            f.take("DELETE", "/api/v1/namespaces/default/secrets/y"),
            Some(Action::Status(500))
        );
        assert_eq!(
            f.take("DELETE", "/api/v1/namespaces/default/secrets/z"),
            None
        );
    }
}
