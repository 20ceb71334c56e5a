//! One HTTP core for Resource Manager: bearer token, `x-ms-client-request-id`, a `kubectl-aml/<v>`
//! user agent, retries with back-off on 429 and 5xx honouring `Retry-After`, a GET before retrying a
//! create that may already have landed, and ARM error bodies turned into typed errors.

use std::time::Duration;

use http::HeaderMap;
use serde_json::Value;

use super::error::ArmFailureError;
use super::request::{ArmRequest, ArmResponse, failure_from, request_id, retry_after};
use super::{Deadline, Error, Tokens};

/// The most of one answer read: ARM's pages are a few MiB at most.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// One exchange: the status, headers and body text.
struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

/// Why an exchange gave no answer.
enum Failed {
    /// Connecting, sending or reading failed (a timeout included).
    Transport(reqwest::Error),
    /// The body passed [`MAX_ANSWER_BYTES`].
    TooLarge,
    /// `--timeout` ran out first.
    OutOfTime,
}

/// Client tuning; tests shorten the delays.
#[derive(Debug, Clone)]
pub struct ArmOptions {
    /// Retries after the first attempt, for 429, 5xx and dropped connections.
    pub retries: u32,
    /// The first back-off delay (doubled per retry) when the server gives no `Retry-After`.
    pub backoff: Duration,
    /// The longest wait between attempts or polls, whatever `Retry-After` says.
    pub max_delay: Duration,
    /// Poll interval for long-running operations without `Retry-After`.
    pub poll_interval: Duration,
    /// Limit for each request.
    pub request_timeout: Duration,
    /// Limit for the whole command (`--timeout`): requests, back-off and polls end by it.
    pub deadline: Option<Deadline>,
}

impl Default for ArmOptions {
    fn default() -> Self {
        Self {
            retries: 3,
            backoff: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(100),
            deadline: None,
        }
    }
}

/// Resource Manager, reached with one credential.
#[derive(Debug)]
pub struct ArmClient {
    http: reqwest::Client,
    endpoint: String,
    tokens: Tokens,
    options: ArmOptions,
}

/// Whether a URL may carry a bearer token: https anywhere, plain http only to this machine.
fn allowed(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    match parsed.scheme() {
        "https" => true,
        "http" => match parsed.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        },
        _ => false,
    }
}

fn too_large(request: &ArmRequest) -> Error {
    Error::TooLarge {
        method: request.method.to_string(),
        url: request.url.clone(),
        limit: MAX_ANSWER_BYTES,
    }
}

impl ArmClient {
    /// A client for the Resource Manager at `endpoint` (no trailing slash).
    pub fn new(endpoint: &str, tokens: Tokens, options: ArmOptions) -> Result<Self, Error> {
        if !allowed(endpoint) {
            return Err(Error::Insecure {
                url: endpoint.into(),
            });
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("kubectl-aml/", env!("CARGO_PKG_VERSION")))
            .timeout(options.request_timeout)
            .build()
            .map_err(|source| Error::Transport {
                method: "build".into(),
                url: endpoint.into(),
                source,
            })?;
        Ok(Self {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            tokens,
            options,
        })
    }

    /// A failed exchange: a timeout names `--request-timeout`, the rest keep reqwest's reason.
    fn transport(&self, request: &ArmRequest, source: reqwest::Error) -> Error {
        if source.is_timeout() {
            return Error::RequestTimeout {
                method: request.method.to_string(),
                url: request.url.clone(),
                after: self.options.request_timeout,
            };
        }
        Error::Transport {
            method: request.method.to_string(),
            url: request.url.clone(),
            source,
        }
    }

    /// `--timeout` ran out during `request`; `last` says what the last attempt got.
    fn out_of_time(&self, request: &ArmRequest, last: Option<String>) -> Error {
        Error::CommandTimeout {
            method: request.method.to_string(),
            url: request.url.clone(),
            after: self.options.deadline.map(|d| d.limit).unwrap_or_default(),
            last,
        }
    }

    /// One exchange within what is left of `--timeout`.
    async fn once_in_time(&self, request: &ArmRequest) -> Result<Answer, Failed> {
        match self.options.deadline {
            None => self.once(request).await,
            Some(deadline) => tokio::time::timeout(deadline.remaining(), self.once(request))
                .await
                .unwrap_or(Err(Failed::OutOfTime)),
        }
    }

    /// The client's tuning.
    pub fn options(&self) -> &ArmOptions {
        &self.options
    }

    /// An absolute URL for a path (`/subscriptions/…`) with these query parameters.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.endpoint))
            .expect("a valid endpoint and path");
        url.query_pairs_mut().extend_pairs(query);
        url.to_string()
    }

    /// One exchange, the body read whole within the request timeout and [`MAX_ANSWER_BYTES`]: a
    /// body that stops or breaks is a transport failure, never an empty answer.
    async fn once(&self, request: &ArmRequest) -> Result<Answer, Failed> {
        let mut response = self.send_once(request).await.map_err(Failed::Transport)?;
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Failed::Transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Failed::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            text: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    async fn send_once(&self, request: &ArmRequest) -> Result<reqwest::Response, reqwest::Error> {
        let token = self.tokens.bearer().await;
        let mut builder = self
            .http
            .request(request.method.clone(), &request.url)
            .header("x-ms-client-request-id", request_id())
            .header("accept", "application/json");
        if let Ok(token) = &token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        builder.send().await
    }

    /// Sends a request; retries 429, 5xx and dropped connections; an error status becomes an error.
    pub async fn send(&self, request: &ArmRequest) -> Result<ArmResponse, Error> {
        if !allowed(&request.url) {
            return Err(Error::Insecure {
                url: request.url.clone(),
            });
        }
        // The token first, within the same deadline as a request (az may wait for a login), and
        // within what is left of the command's.
        let after = self.options.request_timeout;
        let left = self.options.deadline.map_or(after, |d| d.remaining());
        match tokio::time::timeout(after.min(left), self.tokens.bearer()).await {
            Ok(token) => token.map(drop)?,
            Err(_) if left < after => return Err(self.out_of_time(request, None)),
            Err(_) => {
                return Err(Error::TokenTimeout {
                    kind: self.tokens.kind().label(),
                    after,
                });
            }
        }
        let mut delay = self.options.backoff;
        for attempt in 0..=self.options.retries {
            let last = attempt == self.options.retries;
            let outcome = self.once_in_time(request).await;
            let got = match &outcome {
                Ok(answer) => format!("the last answer was HTTP {}", answer.status),
                Err(_) => "the last attempt got no answer".to_string(),
            };
            let wait = match outcome {
                Err(Failed::TooLarge) => return Err(too_large(request)),
                Err(Failed::OutOfTime) => return Err(self.out_of_time(request, None)),
                Err(Failed::Transport(source))
                    if last || !(source.is_timeout() || source.is_connect()) =>
                {
                    return Err(self.transport(request, source));
                }
                Err(Failed::Transport(source)) => {
                    tracing::debug!(url = %request.url, error = %source, attempt, "request failed; retrying");
                    None
                }
                Ok(Answer {
                    status,
                    headers,
                    text,
                }) => {
                    tracing::debug!(method = %request.method, url = %request.url, status, "ARM answered");
                    let retryable = status == 429 || (500..600).contains(&status);
                    if !retryable || last {
                        return self.answer(request, status, headers, &text);
                    }
                    retry_after(&headers)
                }
            };
            // A create that failed on the way back may have been applied: look before trying again.
            if request.creates
                && let Ok(existing) = self
                    .send_quietly(&ArmRequest::get(request.url.clone()))
                    .await
                && existing.status == 200
            {
                tracing::debug!(url = %request.url, "the create had landed; not sending it again");
                return Ok(existing);
            }
            let pause = wait.unwrap_or(delay).min(self.options.max_delay);
            if self
                .options
                .deadline
                .is_some_and(|d| d.passes_within(pause))
            {
                // Waiting to retry would pass --timeout: stop now and say what Azure answered.
                return Err(self.out_of_time(request, Some(got)));
            }
            tokio::time::sleep(pause).await;
            delay = (delay * 2).min(self.options.max_delay);
        }
        unreachable!("the last attempt returns")
    }

    /// One attempt, no retries, 404 and the like returned as errors.
    async fn send_quietly(&self, request: &ArmRequest) -> Result<ArmResponse, Error> {
        match self.once_in_time(request).await {
            Ok(answer) => self.answer(request, answer.status, answer.headers, &answer.text),
            Err(Failed::TooLarge) => Err(too_large(request)),
            Err(Failed::OutOfTime) => Err(self.out_of_time(request, None)),
            Err(Failed::Transport(source)) => Err(self.transport(request, source)),
        }
    }

    fn answer(
        &self,
        request: &ArmRequest,
        status: u16,
        headers: HeaderMap,
        text: &str,
    ) -> Result<ArmResponse, Error> {
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(text).unwrap_or(Value::String(text.into()))
        };
        if status < 400 {
            return Ok(ArmResponse {
                status,
                headers,
                body,
            });
        }
        let request_id = ["x-ms-request-id", "x-ms-correlation-request-id"]
            .iter()
            .find_map(|h| {
                headers
                    .get(*h)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
        let failure = failure_from(
            &body,
            status,
            request.method.as_str(),
            &request.url,
            request_id,
        );
        Err(Error::Arm {
            failure: Box::new(ArmFailureError(failure)),
        })
    }

    /// GET that answers `None` for 404.
    pub async fn get_opt(&self, url: String) -> Result<Option<Value>, Error> {
        match self.send(&ArmRequest::get(url)).await {
            Ok(response) => Ok(Some(response.body)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET of a list, following `nextLink` pages.
    pub async fn list(&self, url: String) -> Result<Vec<Value>, Error> {
        let (mut items, mut next) = (Vec::new(), Some(url));
        while let Some(url) = next {
            let page = self.send(&ArmRequest::get(url)).await?.body;
            items.extend(page["value"].as_array().cloned().unwrap_or_default());
            next = page["nextLink"]
                .as_str()
                .filter(|l| !l.is_empty())
                .map(str::to_string);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_over_https_or_to_this_machine_only() {
        assert!(allowed("https://management.azure.com/x"));
        assert!(
            allowed("http://127.0.0.1:8080/x")
                && allowed("http://localhost:1/")
                && allowed("http://[::1]:1/")
        );
        assert!(!allowed("http://management.azure.com/x"));
        assert!(!allowed("http://10.0.0.1/x"));
        assert!(matches!(
            ArmClient::new(
                "http://example.com",
                Tokens::fixed("t"),
                ArmOptions::default()
            ),
            Err(Error::Insecure { .. })
        ));
    }

    #[test]
    fn request_ids_are_uuid_v4() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, request_id());
    }
}
