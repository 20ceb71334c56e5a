//! A scoring replica for router tests: a real HTTP/1.1 server on 127.0.0.1 with the Azure ML
//! inference server's routes (`GET /` "Healthy", `GET|POST /score`, `GET /swagger.json`). Each
//! request may ask for behaviour through test headers: `x-test-delay-ms` (answer late),
//! `x-test-status` (answer this status), `x-test-hang` (never answer), `x-test-drop` (close the
//! connection without answering). It counts requests, the most in flight at once, and body bytes,
//! reading bodies as streams. Dropping it (or `kill`) closes the listener and every connection, as
//! a crashed process would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::sync::oneshot;

/// What a replica has seen.
#[derive(Debug, Default)]
pub struct Seen {
    /// Scoring and swagger requests answered or started.
    pub requests: AtomicUsize,
    /// Requests in flight now.
    pub inflight: AtomicUsize,
    /// The most in flight at once.
    pub max_inflight: AtomicUsize,
    /// Body bytes read.
    pub body_bytes: AtomicUsize,
    /// The headers of the last scoring request, lower-case names.
    pub last_headers: Mutex<Vec<(String, String)>>,
    /// The `x-request-id` of every scoring request, in the order they arrived.
    pub arrived: Mutex<Vec<String>>,
}

/// A running replica.
pub struct ModelServer {
    /// Its name (the pod's), returned in every answer.
    pub name: String,
    address: SocketAddr,
    seen: Arc<Seen>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ModelServer {
    /// Starts on a free port of 127.0.0.1.
    pub fn start(name: &str) -> Self {
        Self::start_on(name, 0)
    }

    /// Starts on this port of 127.0.0.1 (a restarted replica keeps its port).
    pub fn start_on(name: &str, port: u16) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind a replica");
        listener.set_nonblocking(true).expect("nonblocking");
        let address = listener.local_addr().expect("address");
        let seen = Arc::new(Seen::default());
        let (stop, stopped) = oneshot::channel();
        let (owned_name, owned_seen) = (name.to_string(), seen.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("replica runtime");
            runtime.block_on(serve(listener, owned_name, owned_seen, stopped));
            // Dropping the runtime drops every connection task: sockets close as in a crash.
            runtime.shutdown_background();
        });
        Self {
            name: name.to_string(),
            address,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// What it has seen.
    pub fn seen(&self) -> &Seen {
        &self.seen
    }

    /// Requests it started answering.
    pub fn requests(&self) -> usize {
        self.seen.requests.load(SeqCst)
    }

    /// Stops it at once: listener and connections closed, requests in flight never answered.
    pub fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn serve(
    listener: std::net::TcpListener,
    name: String,
    seen: Arc<Seen>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let (name, seen) = (name.clone(), seen.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(name.clone(), seen.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

struct InFlight(Arc<Seen>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, SeqCst);
    }
}

fn header<'a>(request: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn answer(
    name: String,
    seen: Arc<Seen>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let path = request.uri().path().to_string();
    if path == "/" {
        return Ok(Response::new(Full::new(Bytes::from_static(b"Healthy"))));
    }
    seen.requests.fetch_add(1, SeqCst);
    let now = seen.inflight.fetch_add(1, SeqCst) + 1;
    seen.max_inflight.fetch_max(now, SeqCst);
    let _inflight = InFlight(seen.clone());
    *seen.last_headers.lock().expect("headers") = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let delay: u64 = header(&request, "x-test-delay-ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let status: u16 = header(&request, "x-test-status")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let hang = header(&request, "x-test-hang").is_some();
    let drop_connection = header(&request, "x-test-drop").is_some();
    let query = request.uri().query().unwrap_or("").to_string();
    let request_id = header(&request, "x-request-id").unwrap_or("").to_string();
    seen.arrived
        .lock()
        .expect("arrived")
        .push(request_id.clone());
    let mut body = request.into_body();
    let mut bytes = 0usize;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    bytes += data.len();
                    seen.body_bytes.fetch_add(data.len(), SeqCst);
                }
            }
            Err(_) => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(delay)).await;
    if hang {
        std::future::pending::<()>().await;
    }
    if drop_connection {
        // An error from the service makes hyper close the connection without an answer.
        return Err(std::io::Error::other("replica crashed"));
    }
    let text = if path == "/swagger.json" {
        json!({"swagger": "2.0", "replica": name, "query": query})
    } else {
        json!({"replica": name, "path": path, "query": query, "bytes": bytes, "requestId": request_id})
    };
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().expect("header"));
    Ok(response)
}
