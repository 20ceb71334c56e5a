//! Connections to replicas: HTTP/1.1 on hyper's low-level client, one request per connection at a
//! time, idle connections kept per replica (so a replica with one slot needs one keep-alive
//! connection; the pool is the slot count, not a second limit).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::body::OutBody;

/// A connection to a replica, ready for one request.
pub type Sender = http1::SendRequest<OutBody>;

/// Most idle connections kept per replica; more would only hold sockets open.
const MAX_IDLE: usize = 64;

/// Idle keep-alive connections to one replica.
#[derive(Default)]
pub struct Conns {
    idle: Mutex<Vec<Sender>>,
}

impl std::fmt::Debug for Conns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Conns({} idle)", self.idle_count())
    }
}

impl Conns {
    /// An idle connection that is still open, if any (most recently used first: warmest).
    pub fn take(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    /// Keeps a connection whose answer completed, for the next request.
    pub fn put(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }

    /// How many idle connections are kept.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP connect failed (refused, unreachable).
    #[error("cannot connect to {addr}")]
    Io {
        /// The replica's address.
        addr: SocketAddr,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    /// TCP connect took longer than allowed.
    #[error("connecting to {addr} took longer than {timeout:?}")]
    Timeout {
        /// The replica's address.
        addr: SocketAddr,
        /// The limit.
        timeout: Duration,
    },
    /// The HTTP/1.1 handshake failed.
    #[error("HTTP handshake with {addr} failed")]
    Handshake {
        /// The replica's address.
        addr: SocketAddr,
        /// hyper's answer.
        #[source]
        source: hyper::Error,
    },
}

/// Opens a connection to `addr` within `timeout`; its driver runs on its own task.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Sender, ConnectError> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(source)) => return Err(ConnectError::Io { addr, source }),
        Err(_) => return Err(ConnectError::Timeout { addr, timeout }),
    };
    // Small request/answer pairs: never wait for Nagle (40 ms stalls otherwise).
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|source| ConnectError::Handshake { addr, source })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(%addr, error = %e, "replica connection ended");
        }
    });
    Ok(sender)
}
