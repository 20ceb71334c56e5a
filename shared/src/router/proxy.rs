//! One attempt to send a request to a replica and get its answer's head: on an idle keep-alive
//! connection if one is open, else on a new one, all within the request's deadline. What went
//! wrong decides what the caller may do: a request none of which reached the replica comes back
//! for another replica; anything else is answered 502, 504 or 413.

use std::error::Error as _;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response};
use hyper::body::Incoming;
use tokio::time::{Instant, timeout_at};

use super::body::{BodyError, OutBody};
use super::slots::Replica;
use super::upstream::{self, Sender};

/// Why an attempt ended without an answer.
#[derive(Debug)]
pub enum Failure {
    /// Nothing reached the replica; the request can go elsewhere.
    Unsent {
        /// The request, untouched.
        request: Box<Request<OutBody>>,
        /// What happened, for the log.
        why: String,
    },
    /// No answer before the deadline.
    Timeout,
    /// The client's body passed the limit while streaming.
    TooLarge,
    /// The client's own connection failed while its body streamed.
    ClientGone,
    /// The replica refused or closed the connection after the request started.
    Closed(String),
}

/// Sends `request` to `replica` and waits for its answer's head until `deadline`.
pub async fn attempt(
    replica: &Replica,
    mut request: Request<OutBody>,
    deadline: Instant,
) -> Result<(Response<Incoming>, Sender), Failure> {
    // A pooled connection the replica closed while idle gives the request back: use a new one.
    while let Some(mut sender) = replica.conns.take() {
        match timeout_at(deadline, sender.ready()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => continue,
            Err(_) => return Err(Failure::Timeout),
        }
        match send(&mut sender, request, deadline).await {
            Ok(response) => return Ok((response, sender)),
            Err(Failure::Unsent { request: back, .. }) => request = *back,
            Err(other) => return Err(other),
        }
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    let mut sender = match upstream::connect(replica.addr, remaining).await {
        Ok(sender) => sender,
        Err(upstream::ConnectError::Timeout { .. }) => return Err(Failure::Timeout),
        Err(e) => {
            replica.eject();
            return Err(Failure::Unsent {
                request: Box::new(request),
                why: chain(&e),
            });
        }
    };
    match send(&mut sender, request, deadline).await {
        Ok(response) => Ok((response, sender)),
        Err(failure) => {
            if matches!(failure, Failure::Unsent { .. }) {
                replica.eject();
            }
            Err(failure)
        }
    }
}

async fn send(
    sender: &mut Sender,
    request: Request<OutBody>,
    deadline: Instant,
) -> Result<Response<Incoming>, Failure> {
    match timeout_at(deadline, sender.try_send_request(request)).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(mut e)) => match e.take_message() {
            Some(request) => Err(Failure::Unsent {
                request: Box::new(request),
                why: chain(e.error()),
            }),
            None => Err(classify(&e.into_error())),
        },
        Err(_) => Err(Failure::Timeout),
    }
}

/// Our body errors inside hyper's error say whose fault it was.
fn classify(error: &hyper::Error) -> Failure {
    let mut cause = error.source();
    while let Some(c) = cause {
        match c.downcast_ref::<BodyError>() {
            Some(BodyError::TooLarge { .. }) => return Failure::TooLarge,
            Some(BodyError::Transport(_)) => return Failure::ClientGone,
            _ => {}
        }
        cause = c.source();
    }
    Failure::Closed(chain(error))
}

/// An error and its causes on one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Headers of one hop only (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
    KEEP_ALIVE,
    PROXY_CONNECTION,
];

/// Removes the headers of one hop only, plus those the `Connection` header names. One pass
/// over the few headers a request has, and removals only when there is something to remove.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    // `Connection: keep-alive` and `close` (what servers send) name nothing else to remove:
    // skip them before parsing, which would allocate a header name per answer.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.eq_ignore_ascii_case("keep-alive") && !t.eq_ignore_ascii_case("close"))
        .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP) {
        headers.remove(name);
    }
}

/// Appends the client's address to `x-forwarded-for` and sets `x-forwarded-proto`.
pub fn add_forwarded(headers: &mut HeaderMap, client: &HeaderValue, tls: bool) {
    let value = match headers.get(&FORWARDED_FOR).map(|v| v.as_bytes()) {
        Some(before) => HeaderValue::from_bytes(&[before, b", ", client.as_bytes()].concat()).ok(),
        None => Some(client.clone()),
    };
    if let Some(value) = value {
        headers.insert(FORWARDED_FOR, value);
    }
    headers.insert(
        FORWARDED_PROTO,
        HeaderValue::from_static(if tls { "https" } else { "http" }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_removed() {
        let mut headers = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("content-type", "application/json"),
        ] {
            headers.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut headers);
        let left: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["content-type"]);
    }

    #[test]
    fn forwarded_for_appends_the_client() {
        let mut headers = HeaderMap::new();
        add_forwarded(&mut headers, &HeaderValue::from_static("10.0.0.1"), true);
        add_forwarded(&mut headers, &HeaderValue::from_static("10.0.0.2"), false);
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 10.0.0.2");
        assert_eq!(headers["x-forwarded-proto"], "http");
    }
}
