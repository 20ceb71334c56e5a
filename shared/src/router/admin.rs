//! The admin port: `/healthz` (the process answers), `/readyz` (503 until discovery has listed
//! everything, without a certificate when HTTPS is on, and while draining), `/metrics`, and
//! `/stats` (the load windows the autoscaler leader gathers) and `/autoscaler` (who leads, and per
//! model Deployment what the leader decided).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::Shared;
use super::answers::local;
use super::body::ReplyBody;

/// Answers one admin request.
pub async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ReplyBody>, Infallible> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(local(
            StatusCode::METHOD_NOT_ALLOWED,
            "the admin port answers GET",
        ));
    }
    Ok(match request.uri().path() {
        "/healthz" => local(StatusCode::OK, "ok"),
        "/readyz" => match shared.not_ready() {
            None => local(StatusCode::OK, "ready"),
            Some(why) => local(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}")),
        },
        "/stats" | "/autoscaler" => {
            let body = if request.uri().path() == "/stats" {
                serde_json::to_vec(&super::stats::report(&shared))
            } else {
                let status = shared
                    .autoscaler
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                serde_json::to_vec(&status)
            }
            .unwrap_or_default();
            let mut response = Response::new(ReplyBody::Local(Some(Bytes::from(body))));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        "/metrics" => {
            let mut response =
                Response::new(ReplyBody::Local(Some(Bytes::from(shared.metrics.render()))));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        other => local(
            StatusCode::NOT_FOUND,
            format!("no {other} here: try /healthz, /readyz, /metrics, /stats or /autoscaler"),
        ),
    })
}
