//! kube-runtime watchers turned into what discovery needs: a whole list after every (re)list, so
//! objects deleted while the watch was down disappear, then single changes. Errors are logged and
//! retried with kube's default backoff; a watch restarts at least every minute, so a silently dead
//! connection costs at most that long.

use std::fmt::Debug;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// Server-side timeout of each watch request (kube's default is 290 s).
const WATCH_TIMEOUT_SECONDS: u32 = 55;

/// What a watch saw.
#[derive(Debug)]
pub enum Change<K> {
    /// Every object that exists now (after the first list, and after each re-list).
    Resync(Vec<K>),
    /// An object was added or changed.
    Apply(K),
    /// An object was deleted.
    Delete(K),
}

/// Watches `api` with `config` until the receiver goes away, sending each change wrapped by `wrap`.
pub fn spawn<K, T, F>(
    api: Api<K>,
    config: watcher::Config,
    what: String,
    tx: UnboundedSender<T>,
    wrap: F,
) -> JoinHandle<()>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    T: Send + 'static,
    F: Fn(Change<K>) -> T + Send + 'static,
{
    tokio::spawn(async move {
        let stream = watcher(api, config.timeout(WATCH_TIMEOUT_SECONDS)).default_backoff();
        futures::pin_mut!(stream);
        let mut listing: Vec<K> = Vec::new();
        let mut failing = false;
        while let Some(event) = stream.next().await {
            let change = match event {
                Ok(Event::Init) => {
                    listing.clear();
                    continue;
                }
                Ok(Event::InitApply(object)) => {
                    listing.push(object);
                    continue;
                }
                Ok(Event::InitDone) => Change::Resync(std::mem::take(&mut listing)),
                Ok(Event::Apply(object)) => Change::Apply(object),
                Ok(Event::Delete(object)) => Change::Delete(object),
                Err(e) => {
                    // One line when a watch starts failing, not one per retry.
                    if !failing {
                        tracing::warn!(error = %e, "watch of {what} failed; retrying with backoff");
                    }
                    failing = true;
                    continue;
                }
            };
            if failing {
                tracing::info!("watch of {what} works again");
                failing = false;
            }
            if tx.send(wrap(change)).is_err() {
                return;
            }
        }
    })
}

/// Watches the one object `name` of `api`: sends `Some` when it exists or changes, `None` when it
/// does not exist or is deleted.
pub fn spawn_one<K, T, F>(
    api: Api<K>,
    name: &str,
    what: String,
    tx: UnboundedSender<T>,
    wrap: F,
) -> JoinHandle<()>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    T: Send + 'static,
    F: Fn(Option<K>) -> T + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    spawn(api, config, what, tx, move |change| {
        wrap(match change {
            Change::Resync(mut list) => list.pop(),
            Change::Apply(object) => Some(object),
            Change::Delete(_) => None,
        })
    })
}
