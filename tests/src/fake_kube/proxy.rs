//! The pod proxy, `GET /api/v1/namespaces/NS/pods/NAME[:PORT]/proxy/PATH`, as the real API server
//! serves it: the request goes to the pod's IP (and the named port, else its first container
//! port), and the pod's answer comes back. Errors are Status bodies worded like the real ones.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;

use super::kinds;
use super::server::{Body, Call, Shared, error};
use super::status;

/// Answers the request when it is for the pod proxy.
pub async fn pod(shared: &Arc<Shared>, call: &Call) -> Option<Response<Body>> {
    let rest = call.path.strip_prefix("/api/v1/namespaces/")?;
    let (namespace, rest) = rest.split_once("/pods/")?;
    let (target, path) = rest.split_once("/proxy")?;
    // `name:port`, where the port is a number or the name of a container port (as the real one).
    let (name, port_text) = match target.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (target, None),
    };
    if call.method != Method::GET {
        return Some(error(status::method_not_allowed(call.method.as_str())));
    }
    let pods = kinds::find("", "v1", "pods").expect("pods are served");
    let pod = shared
        .store
        .lock()
        .expect("store")
        .get(pods, namespace, name)
        .cloned();
    let Some(pod) = pod else {
        return Some(error(status::not_found(pods, name)));
    };
    let ip = pod["status"]["podIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let declared = || {
        pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
    };
    let port = match port_text {
        Some(text) => text.parse::<u16>().ok().or_else(|| {
            declared()
                .find(|p| p["name"] == text)
                .and_then(|p| p["containerPort"].as_u64())
                .map(|p| p as u16)
        }),
        None => declared()
            .next()
            .and_then(|p| p["containerPort"].as_u64())
            .map(|p| p as u16),
    };
    let (Ok(ip), Some(port)) = (ip.parse::<std::net::IpAddr>(), port) else {
        let message = format!("pod {name} has no IP or port to proxy to");
        return Some(error(status::failure(
            503,
            "ServiceUnavailable",
            message,
            None,
        )));
    };
    let path = if path.is_empty() { "/" } else { path };
    let target = match call.raw_query.as_str() {
        "" => path.to_string(),
        query => format!("{path}?{query}"),
    };
    let forwarded =
        tokio::time::timeout(Duration::from_secs(10), forward((ip, port).into(), &target)).await;
    Some(match forwarded {
        Ok(Ok(response)) => response,
        Ok(Err(why)) => {
            let message = format!("error trying to reach service: {why}");
            error(status::failure(503, "ServiceUnavailable", message, None))
        }
        Err(_) => error(status::failure(
            504,
            "Timeout",
            "the pod did not answer within 10s",
            None,
        )),
    })
}

async fn forward(addr: std::net::SocketAddr, target: &str) -> Result<Response<Body>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = http::Request::get(target)
        .header(http::header::HOST, addr.to_string())
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    let mut answer = Response::new(Full::new(bytes).boxed());
    *answer.status_mut() =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Some(content_type) = parts.headers.get(http::header::CONTENT_TYPE) {
        answer
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, content_type.clone());
    }
    Ok(answer)
}
