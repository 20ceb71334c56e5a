//! One scoring request, start to end: route, authenticate, check the size, wait for a slot, send
//! to a replica (once more elsewhere if none of it got there), and stream the answer back, with
//! the request-id headers, a metric for each answer and a log line for each failure.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{AUTHORIZATION, CONTENT_LENGTH, EXPECT, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use tokio::time::Instant;

use super::Shared;
use super::answers::{
    self, CLIENT_REQUEST_ID, REQUEST_ID, closed, local, refuse, refused_slot, too_large, unrouted,
};
use super::backend::Denied;
use super::body::{Hold, OutBody, ReplyBody};
use super::contract::AuthMode;
use super::listener::Peer;
use super::proxy::{self, Failure};
use super::table::Miss;

/// Where a connection comes from.
#[derive(Debug, Clone)]
pub struct Client {
    /// The peer.
    pub peer: Peer,
    /// Whether it came over TLS.
    pub tls: bool,
}

/// `/api/v1/service/<name>/…` or `/api/v1/endpoint/<name>/…`, and which path of the model.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Service(&'a str),
    Endpoint(&'a str),
}

fn parse(path: &str) -> Option<(Target<'_>, &'static str)> {
    let rest = path.strip_prefix("/api/v1/")?;
    let (family, rest) = rest.split_once('/')?;
    let (name, op) = rest.split_once('/')?;
    let model_path = match op {
        "score" => "/score",
        "swagger.json" => "/swagger.json",
        _ => return None,
    };
    if name.is_empty() {
        return None;
    }
    match family {
        "service" => Some((Target::Service(name), model_path)),
        "endpoint" => Some((Target::Endpoint(name), model_path)),
        _ => None,
    }
}

/// Answers one request; never fails (every failure is an answer).
pub async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    client: Client,
) -> Result<Response<ReplyBody>, Infallible> {
    let started = Instant::now();
    shared.health.touch();
    let headers = request.headers();
    let client_id = headers.get(&CLIENT_REQUEST_ID).cloned();
    if let Some(name) = answers::overlong_id(headers) {
        let id = shared.ids.next();
        shared.metrics.count_unrouted("", 431);
        let mut response = local(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("{name} is longer than {} characters", answers::MAX_ID_LEN),
        );
        answers::stamp(response.headers_mut(), &id, None);
        return Ok(response);
    }
    let id = match headers.get(&REQUEST_ID) {
        Some(id) => id.clone(),
        None => shared.ids.next(),
    };
    // The per-request log line costs two allocations: only when -v asked for it.
    let logged = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| (request.method().clone(), request.uri().path().to_string()));
    let mut response = route(&shared, request, client, &id, started).await;
    answers::stamp(response.headers_mut(), &id, client_id);
    if shared
        .health
        .draining
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        // Draining: the connection closes after this answer, which says so. Closing it idle later
        // instead races the client's next request on it (a POST it cannot safely retry).
        response
            .headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some((method, path)) = logged {
        tracing::debug!(
            request_id = id.to_str().unwrap_or("-"),
            %method, %path, status = response.status().as_u16(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "request"
        );
    }
    Ok(response)
}

async fn route(
    shared: &Shared,
    request: Request<Incoming>,
    client: Client,
    id: &HeaderValue,
    started: Instant,
) -> Response<ReplyBody> {
    let Some((target, model_path)) = parse(request.uri().path()) else {
        shared.metrics.count_unrouted("", 404);
        return local(
            StatusCode::NOT_FOUND,
            format!("No route for {}", request.uri().path()),
        );
    };
    if request.method() != Method::GET && request.method() != Method::POST {
        shared.metrics.count_unrouted("", 405);
        let mut response = local(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not GET or POST", request.method()),
        );
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET, POST"));
        return response;
    }
    let table = shared.table();
    let backend = match target {
        Target::Service(name) => match table.service(name) {
            Some(backend) => backend.clone(),
            None => return unrouted(shared, name, format!("Service {name} not found"), id),
        },
        Target::Endpoint(name) => {
            let Some(endpoint) = table.endpoint(name) else {
                return unrouted(shared, name, format!("Endpoint {name} not found"), id);
            };
            let header = request
                .headers()
                .get(&answers::MODEL_DEPLOYMENT)
                .and_then(|v| v.to_str().ok());
            match endpoint.pick(header) {
                Ok(backend) => backend,
                Err(Miss::UnknownDeployment(d)) => {
                    return unrouted(
                        shared,
                        name,
                        format!("Endpoint {name} has no deployment {d}"),
                        id,
                    );
                }
                Err(Miss::NoWeight) => {
                    return unrouted(
                        shared,
                        name,
                        format!(
                            "No route found or no valid deployments to route to for endpoint {name}, please check \
                     that the endpoint has at least one deployment with positive weight values or use a \
                     deployment specific header to route."
                        ),
                        id,
                    );
                }
            }
        }
    };
    drop(table);
    let name = backend.public_name();
    let config = backend.config();
    let settings = &config.settings;
    if settings.auth == AuthMode::Token && !shared.health.token_keys_read() {
        let text = format!("Service {name} is starting: its token keys are not loaded yet");
        let why = "503: the token keys Secret has not been read yet";
        return refuse(&backend, StatusCode::SERVICE_UNAVAILABLE, text, why, id);
    }
    let token_keys = match settings.auth {
        AuthMode::Token => shared
            .token_keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        _ => None,
    };
    match backend.authenticate(
        settings,
        request.headers(),
        token_keys.as_deref(),
        unix_now(),
    ) {
        Ok(()) => {}
        Err(Denied::Unauthorized(why)) => {
            let text = format!("Unauthorized for service {name}: a valid key or token is required");
            return refuse(
                &backend,
                StatusCode::UNAUTHORIZED,
                text,
                &format!("401: {why}"),
                id,
            );
        }
        Err(Denied::KeysPending(why)) => {
            let text = format!("Service {name} is starting: its keys are not loaded yet");
            return refuse(
                &backend,
                StatusCode::SERVICE_UNAVAILABLE,
                text,
                &format!("503: {why}"),
                id,
            );
        }
    }
    let limit = shared.options.max_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large(&backend, name, limit, id);
    }

    let wait_started = Instant::now();
    let mut lease = match backend.pool.acquire(settings.max_queue_wait, None).await {
        Ok(lease) => lease,
        Err(refusal) => return refused_slot(&backend, name, refusal, settings.max_queue_wait, id),
    };
    let queue_wait = wait_started.elapsed();

    let (mut parts, body) = request.into_parts();
    proxy::strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(EXPECT);
    if settings.auth != AuthMode::None {
        // The credential was for the router; models never see keys or tokens.
        parts.headers.remove(AUTHORIZATION);
    }
    parts.headers.insert(REQUEST_ID, id.clone());
    proxy::add_forwarded(&mut parts.headers, &client.peer.ip, client.tls);
    parts.version = Version::HTTP_11;
    parts.uri = match parts.uri.query() {
        Some(query) => format!("{model_path}?{query}")
            .parse()
            .unwrap_or_else(|_| Uri::from_static("/")),
        None => Uri::from_static(model_path),
    };
    let mut upstream_request = Request::from_parts(parts, OutBody::new(body, limit));

    let deadline = Instant::now() + settings.request_timeout;
    let sent_at = Instant::now();
    let mut retried = false;
    loop {
        match proxy::attempt(lease.replica(), upstream_request, deadline).await {
            Ok((answer, sender)) => {
                let replica_time = sent_at.elapsed();
                let (mut parts, body) = answer.into_parts();
                proxy::strip_hop_by_hop(&mut parts.headers);
                parts.version = Version::HTTP_11;
                let metrics = &backend.metrics;
                metrics.count(parts.status.as_u16());
                metrics.queue_wait.observe(queue_wait.as_secs_f64());
                metrics.replica.observe(replica_time.as_secs_f64());
                let added = started.elapsed().saturating_sub(queue_wait + replica_time);
                metrics.added.observe(added.as_secs_f64());
                shared.routing.record(added);
                let hold = Hold {
                    lease,
                    sender,
                    idle: settings.request_timeout,
                    on_end: None,
                };
                return Response::from_parts(parts, ReplyBody::upstream(body, hold));
            }
            Err(Failure::Unsent { request, why }) if !retried => {
                retried = true;
                let failed = lease.replica().clone();
                tracing::debug!(replica = %failed.name, %why, "replica unreachable; trying another");
                drop(lease);
                lease = match backend
                    .pool
                    .acquire(settings.max_queue_wait, Some(&failed))
                    .await
                {
                    Ok(lease) => lease,
                    Err(_) => return closed(&backend, name, &why, id),
                };
                upstream_request = *request;
            }
            Err(Failure::Unsent { why, .. }) | Err(Failure::Closed(why)) => {
                return closed(&backend, name, &why, id);
            }
            Err(Failure::Timeout) => {
                let text = format!(
                    "Request to service {name} timed out after {} ms",
                    settings.request_timeout.as_millis()
                );
                return refuse(
                    &backend,
                    StatusCode::GATEWAY_TIMEOUT,
                    text,
                    "504: no answer before the request timeout",
                    id,
                );
            }
            Err(Failure::TooLarge) => return too_large(&backend, name, limit, id),
            Err(Failure::ClientGone) => {
                let text = format!("The request body for service {name} could not be read");
                return refuse(
                    &backend,
                    StatusCode::BAD_REQUEST,
                    text,
                    "400: the client's body failed",
                    id,
                );
            }
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoring_paths_name_a_service_or_endpoint_and_a_model_path() {
        assert_eq!(
            parse("/api/v1/service/s1/score"),
            Some((Target::Service("s1"), "/score"))
        );
        assert_eq!(
            parse("/api/v1/endpoint/ep/swagger.json"),
            Some((Target::Endpoint("ep"), "/swagger.json"))
        );
        for bad in [
            "/",
            "/api/v1/service/s1",
            "/api/v1/service//score",
            "/api/v1/service/s1/score/x",
            "/api/v1/model/s1/score",
            "/api/v2/service/s1/score",
            "/api/v1/service/s1/other",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
