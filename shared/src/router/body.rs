//! The two bodies of the data path, both streamed frame by frame, never buffered whole: the
//! client's request body on its way to a replica (counted against `--max-body-bytes`), and the
//! answer on its way back (holding the replica's slot and connection until its last byte).

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::slots::Lease;
use super::upstream::Sender;

/// Why a body stopped.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The client sent more than the limit.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// `--max-body-bytes`.
        limit: u64,
    },
    /// The replica sent nothing for the request timeout while streaming its answer.
    #[error("the replica sent nothing for {0:?}")]
    Stalled(Duration),
    /// The other side's connection failed.
    #[error(transparent)]
    Transport(#[from] hyper::Error),
}

/// The client's request body, streamed to a replica, failing once it passes `limit` bytes.
#[derive(Debug)]
pub struct OutBody {
    inner: Incoming,
    seen: u64,
    limit: u64,
}

impl OutBody {
    /// Streams `inner`, allowing at most `limit` bytes.
    pub fn new(inner: Incoming, limit: u64) -> Self {
        Self {
            inner,
            seen: 0,
            limit,
        }
    }
}

impl Body for OutBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.limit {
                        return Poll::Ready(Some(Err(BodyError::TooLarge { limit: this.limit })));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What the replica's answer keeps busy until its last byte: the slot, and the connection that
/// goes back to the replica's idle pool when the answer completes.
pub struct Hold {
    /// The replica's slot.
    pub lease: Lease,
    /// The connection the answer streams on.
    pub sender: Sender,
    /// Most time between two frames of the answer.
    pub idle: Duration,
    /// Called once when the answer ends (completely or not), with whether it completed.
    pub on_end: Option<Box<dyn FnOnce(bool) + Send + Sync>>,
}

impl Hold {
    fn finish(mut self, complete: bool) {
        if let Some(on_end) = self.on_end.take() {
            on_end(complete);
        }
        if complete {
            let conns = &self.lease.replica().conns;
            conns.put(self.sender);
        }
        // The lease drops here: the slot is free (or handed over) only now.
    }
}

/// An answer body: the router's own one-line text, or a replica's answer streamed through.
pub enum ReplyBody {
    /// The router's own answer.
    Local(Option<Bytes>),
    /// A replica's answer.
    Upstream {
        /// The replica's body.
        inner: Incoming,
        /// What it keeps busy; `None` once it ended.
        hold: Option<Hold>,
        /// Fires when the replica stalls for `hold.idle`; made the first time the answer waits
        /// (most answers arrive in one piece and never need it).
        stall: Option<Pin<Box<Sleep>>>,
    },
}

impl ReplyBody {
    /// A replica's answer body holding `hold` until it ends.
    pub fn upstream(inner: Incoming, hold: Hold) -> Self {
        let mut body = Self::Upstream {
            inner,
            hold: Some(hold),
            stall: None,
        };
        // An empty answer (204, HEAD-like) ends now: free the slot without waiting for a poll.
        if let Self::Upstream { inner, hold, .. } = &mut body
            && inner.is_end_stream()
            && let Some(hold) = hold.take()
        {
            hold.finish(true);
        }
        body
    }
}

impl Drop for ReplyBody {
    fn drop(&mut self) {
        // The client left before the end: the connection is mid-answer and cannot be reused.
        if let Self::Upstream { hold, .. } = self
            && let Some(hold) = hold.take()
        {
            hold.finish(false);
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut *self {
            Self::Local(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Upstream { inner, hold, stall } => {
                let Some(idle) = hold.as_ref().map(|h| h.idle) else {
                    return Poll::Ready(None);
                };
                match Pin::new(&mut *inner).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        if inner.is_end_stream()
                            && let Some(hold) = hold.take()
                        {
                            hold.finish(true);
                        } else if let Some(stall) = stall {
                            stall.as_mut().reset(Instant::now() + idle);
                        }
                        Poll::Ready(Some(Ok(frame)))
                    }
                    Poll::Ready(end) => {
                        let complete = end.is_none();
                        if let Some(hold) = hold.take() {
                            hold.finish(complete);
                        }
                        Poll::Ready(end.map(|r| r.map_err(BodyError::from)))
                    }
                    Poll::Pending => {
                        let stall = stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                        if stall.as_mut().poll(cx).is_ready() {
                            if let Some(hold) = hold.take() {
                                hold.finish(false);
                            }
                            return Poll::Ready(Some(Err(BodyError::Stalled(idle))));
                        }
                        Poll::Pending
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Local(bytes) => bytes.is_none(),
            Self::Upstream { inner, hold, .. } => hold.is_none() || inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Local(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Self::Upstream { inner, .. } => inner.size_hint(),
        }
    }
}
