//! Accept loops: TCP with a 4096 backlog and `TCP_NODELAY`, TLS when asked, HTTP/1.1 with a
//! header-read timeout (which in hyper also bounds keep-alive idle time), a lingering close, and a
//! stop signal on which every connection finishes its current request and closes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Notify, watch};
use tokio_rustls::TlsAcceptor;

use super::body::ReplyBody;

/// Listen backlog: short SYN queues cost 1 s retries under bursts.
const BACKLOG: u32 = 4096;

/// Lingering close (nginx's `lingering_time`/`lingering_timeout`, shorter): after a connection's
/// last answer, what the client still sends is read and discarded for at most this long …
const LINGER_TIME: Duration = Duration::from_secs(5);
/// … and until it sends nothing for this long.
const LINGER_IDLE: Duration = Duration::from_secs(1);

/// Binds `addr` for listening.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Who is on the other end of a connection, with its address already as a header value (for
/// `x-forwarded-for`, made once per connection rather than per request).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's IP address, as a header value.
    pub ip: http::HeaderValue,
}

impl Peer {
    fn new(addr: SocketAddr) -> Self {
        let ip =
            http::HeaderValue::from_str(&addr.ip().to_string()).expect("an IP is a header value");
        Self { ip }
    }
}

/// Counts open connections so a drain can wait for the last one.
#[derive(Debug, Default)]
pub struct Connections {
    open: AtomicUsize,
    closed: Notify,
}

impl Connections {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(SeqCst)
    }

    /// Waits until no connection is open.
    pub async fn all_closed(&self) {
        loop {
            let notified = self.closed.notified();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

struct Open(Arc<Connections>);

impl Open {
    fn new(connections: &Arc<Connections>) -> Self {
        connections.open.fetch_add(1, SeqCst);
        Self(connections.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, SeqCst);
        self.0.closed.notify_waiters();
    }
}

/// How a listener serves its connections.
#[derive(Clone)]
pub struct Serving {
    /// TLS, for the HTTPS listener.
    pub tls: Option<TlsAcceptor>,
    /// Most time for a TLS handshake or a request head; also the keep-alive idle limit.
    pub header_timeout: Duration,
    /// Becomes true when connections must finish their current request and close.
    pub stop: watch::Receiver<bool>,
    /// Open connections.
    pub connections: Arc<Connections>,
}

/// Accepts until `stop`, serving each connection with `handler(request, peer)`.
pub async fn accept_loop<H, F>(listener: TcpListener, serving: Serving, handler: H)
where
    H: Fn(Request<Incoming>, Peer) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<ReplyBody>, std::convert::Infallible>> + Send + 'static,
{
    let mut stop = serving.stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let open = Open::new(&serving.connections);
        let (serving, handler) = (serving.clone(), handler.clone());
        tokio::spawn(async move {
            let _open = open;
            // A connection costs hyper (or rustls) ~17 KiB of buffers once polled; one that has
            // sent nothing yet costs only its socket. Wait for its first bytes, within the header
            // timeout, before setting either up: idle or slow-loris connections stay cheap.
            // (`readable()` may wake spuriously on a new socket; `peek` waits for a real byte.)
            let mut stop = serving.stop.clone();
            let mut first = [0u8; 1];
            tokio::select! {
                peeked = tokio::time::timeout(serving.header_timeout, stream.peek(&mut first)) => {
                    if !matches!(peeked, Ok(Ok(n)) if n > 0) {
                        tracing::debug!(%peer, "connection sent nothing within the header timeout");
                        return;
                    }
                }
                _ = stop.wait_for(|s| *s) => return,
            }
            // The handshake and hyper's connection live in their own allocation, made only now:
            // inline, they would size every idle connection's task (kilobytes).
            Box::pin(connection(stream, peer, serving, handler)).await;
        });
    }
}

async fn connection<H, F>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    serving: Serving,
    handler: H,
) where
    H: Fn(Request<Incoming>, Peer) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<ReplyBody>, std::convert::Infallible>> + Send + 'static,
{
    let client = Peer::new(peer);
    // Boxed futures: hyper hands the socket back (for the lingering close) only to Unpin services.
    let handler = Arc::new(handler);
    let service = service_fn(move |request| Box::pin(handler(request, client.clone())));
    match &serving.tls {
        None => serve(stream, service, &serving).await,
        Some(acceptor) => {
            let handshake = acceptor.accept(stream);
            match tokio::time::timeout(serving.header_timeout, handshake).await {
                Ok(Ok(tls)) => serve(tls, service, &serving).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn serve<I, S>(io: I, service: S, serving: &Serving)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = ReplyBody> + Send + Unpin,
    S::Future: Send + Unpin + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(serving.header_timeout)
        .keep_alive(true);
    let mut connection = builder.serve_connection(TokioIo::new(io), service);
    let mut stop = serving.stop.clone();
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            result = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => break result,
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                std::pin::Pin::new(&mut connection).graceful_shutdown();
            }
        }
    };
    match result {
        // Stopping, nobody is sending a body worth waiting for.
        Ok(()) if !stopping => linger(connection.into_parts().io.into_inner()).await,
        Ok(()) => {
            let _ = connection.into_parts().io.into_inner().shutdown().await;
        }
        Err(e) => tracing::debug!(error = %e, "connection ended with an error"),
    }
}

/// Closes after the last answer without resetting: stop writing, then read and discard what the
/// client still sends (within [`LINGER_TIME`] and [`LINGER_IDLE`]). A close with unread bytes
/// makes the kernel send a reset, and a client still writing its body — one answered 413, say —
/// fails on its next write before it reads the answer.
async fn linger<I: AsyncRead + AsyncWrite + Unpin>(mut io: I) {
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    if tokio::time::timeout_at(deadline, io.shutdown())
        .await
        .is_err()
    {
        return;
    }
    let mut sink = vec![0u8; 16 * 1024];
    loop {
        let idle = (tokio::time::Instant::now() + LINGER_IDLE).min(deadline);
        match tokio::time::timeout_at(idle, io.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => continue,
            _ => return,
        }
    }
}
