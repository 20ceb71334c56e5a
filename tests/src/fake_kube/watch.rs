//! WATCH: newline-delimited JSON events streamed in chunks, from a resourceVersion or from the
//! current state (synthetic ADDED events), through selectors, until `timeoutSeconds`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::wrappers::ReceiverStream;

use super::kinds::KindDef;
use super::selectors::{FieldSelector, LabelSelector};
use super::server::{Body, Call, Shared};
use super::status::{self, ApiError};
use super::store::Event;

struct Filter {
    kind: &'static KindDef,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, object: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| object["metadata"]["namespace"].as_str() == Some(ns))
            && self
                .labels
                .matches(object["metadata"]["labels"].as_object())
            && self.fields.matches(object)
    }

    /// The event a watcher with this filter sees, if any: an object that starts or stops matching
    /// is ADDED or DELETED for it, as the real watch cache reports it.
    fn translate(&self, event: &Event) -> Option<Value> {
        if !std::ptr::eq(event.kind, self.kind) {
            return None;
        }
        let now = self.matches(&event.object);
        let before = event.previous.as_ref().is_some_and(|p| self.matches(p));
        let kind_of_change = match (event.kind_of_change, before, now) {
            ("ADDED", _, true) => "ADDED",
            ("MODIFIED", true, true) => "MODIFIED",
            ("MODIFIED", false, true) => "ADDED",
            ("MODIFIED", true, false) => "DELETED",
            ("DELETED", _, true) => "DELETED",
            _ => return None,
        };
        Some(json!({"type": kind_of_change, "object": event.object}))
    }
}

fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).expect("JSON");
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// Starts a watch; the returned body streams until the timeout, the client leaving or the server stopping.
pub fn start(
    shared: &Arc<Shared>,
    call: &Call,
    kind: &'static KindDef,
    namespace: Option<String>,
) -> Result<Body, ApiError> {
    let filter = Filter {
        kind,
        namespace,
        labels: LabelSelector::parse(call.param("labelSelector").unwrap_or(""))
            .map_err(status::bad_request)?,
        fields: FieldSelector::parse(call.param("fieldSelector").unwrap_or(""), kind)
            .map_err(status::bad_request)?,
    };
    let timeout = match call.param("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| status::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
        ),
        None => Duration::from_secs(1800),
    };
    let from = call.param("resourceVersion").unwrap_or("");
    let initial_events = call.param("sendInitialEvents") == Some("true");
    let mut first: Vec<Bytes> = Vec::new();
    let store = shared.store.lock().expect("store");
    let after = if from.is_empty() || from == "0" || initial_events {
        for object in store
            .list(kind, filter.namespace.as_deref())
            .into_iter()
            .filter(|o| filter.matches(o))
        {
            first.push(line(&json!({"type": "ADDED", "object": object})));
        }
        if initial_events {
            let mark = json!({"type": "BOOKMARK", "object": {"kind": kind.kind, "apiVersion": kind.api_version(), "metadata": {
                "resourceVersion": store.resource_version().to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"}}}});
            first.push(line(&mark));
        }
        store.resource_version()
    } else {
        let rv: u64 = from
            .parse()
            .map_err(|_| status::bad_request(format!("invalid resourceVersion {from:?}")))?;
        if rv < store.oldest_resumable() {
            let expired = status::gone(rv, store.oldest_resumable());
            first.push(line(&json!({"type": "ERROR", "object": expired.body})));
            return Ok(stream_of(first, None, filter, timeout));
        }
        rv
    };
    let (history, live) = store.subscribe_after(after);
    drop(store);
    first.extend(
        history
            .iter()
            .filter_map(|e| filter.translate(e))
            .map(|v| line(&v)),
    );
    let last = history.last().map(|e| e.rv).unwrap_or(after);
    Ok(stream_of(first, Some((live, last)), filter, timeout))
}

fn stream_of(
    first: Vec<Bytes>,
    live: Option<(tokio::sync::broadcast::Receiver<Event>, u64)>,
    filter: Filter,
    timeout: Duration,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    tokio::spawn(async move {
        for chunk in first {
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
        let Some((mut live, mut last)) = live else {
            return;
        };
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                event = live.recv() => match event {
                    Ok(event) if event.rv > last => {
                        last = event.rv;
                        if let Some(value) = filter.translate(&event)
                            && tx.send(line(&value)).await.is_err()
                        {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        let expired = status::gone(last, last);
                        let _ = tx.send(line(&json!({"type": "ERROR", "object": expired.body}))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    });
    BodyExt::boxed(StreamBody::new(
        ReceiverStream::new(rx).map(|b| Ok(Frame::data(b))),
    ))
}
