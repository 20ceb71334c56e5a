//! The leader's view of the load: every router pod's `/stats`, fetched at once each tick within a
//! deadline and summed per Deployment. Router pods are the addresses of the Endpoints of Service
//! `azureml-fe-int-http` (watched); without that Service, this router counts only itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Endpoints;
use kube::Api;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::model::{Demand, Key};
use crate::router::Shared;
use crate::router::stats::{self, PodStats};

/// Largest `/stats` answer read (a few hundred bytes per service).
const MAX_STATS: usize = 4 * 1024 * 1024;

/// One tick's load.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Summed per Deployment.
    pub load: HashMap<Key, Demand>,
    /// The router pods that did not answer in time, and why.
    pub missing: Vec<String>,
    /// How many answered.
    pub answered: usize,
    /// Each answering router process over its last window.
    pub processes: Vec<crate::router::stats::ProcessWindow>,
}

/// The router pods' admin addresses, `None` while the Endpoints object does not exist.
pub fn watch_peers(
    client: kube::Client,
    namespace: &str,
    service: &str,
) -> watch::Receiver<Option<Vec<SocketAddr>>> {
    let (tx, rx) = watch::channel(None);
    let (changes, mut received) = tokio::sync::mpsc::unbounded_channel();
    let api: Api<Endpoints> = Api::namespaced(client, namespace);
    let what = format!("Endpoints {namespace}/{service} (the router pods)");
    crate::router::watch::spawn_one(api, service, what, changes, |endpoints| endpoints);
    tokio::spawn(async move {
        while let Some(endpoints) = received.recv().await {
            if tx.send(endpoints.as_ref().map(addresses)).is_err() {
                return;
            }
        }
    });
    rx
}

/// Every ready address × port of an Endpoints object.
pub fn addresses(endpoints: &Endpoints) -> Vec<SocketAddr> {
    let mut found = Vec::new();
    for subset in endpoints.subsets.iter().flatten() {
        for address in subset.addresses.iter().flatten() {
            let Ok(ip) = address.ip.parse() else { continue };
            for port in subset.ports.iter().flatten() {
                if let Ok(port) = u16::try_from(port.port) {
                    found.push(SocketAddr::new(ip, port));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// One router pod's report, within `deadline`.
async fn fetch(addr: SocketAddr, deadline: Duration) -> Result<PodStats, String> {
    let body = get(addr, "/stats", deadline).await?;
    serde_json::from_slice::<PodStats>(&body).map_err(|e| format!("sent no stats: {e}"))
}

/// `GET path` on a router's admin port within `deadline`: the body of a 2xx answer.
pub async fn get(addr: SocketAddr, path: &str, deadline: Duration) -> Result<Bytes, String> {
    let fetched = async {
        let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = http::Request::get(path)
            .header(http::header::HOST, addr.to_string())
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_STATS)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(body)
    };
    tokio::time::timeout(deadline, fetched)
        .await
        .unwrap_or_else(|_| Err(format!("did not answer within {deadline:?}")))
}

/// This tick's load: from every peer, or from this router alone when there are none.
pub async fn gather(
    peers: Option<Vec<SocketAddr>>,
    shared: &Arc<Shared>,
    deadline: Duration,
) -> Gathered {
    let reports: Vec<Result<PodStats, String>> = match peers {
        None => vec![Ok(stats::report(shared))],
        Some(peers) => {
            let fetches = peers.iter().map(|addr| fetch(*addr, deadline));
            let results = futures::future::join_all(fetches).await;
            results
                .into_iter()
                .zip(&peers)
                .map(|(result, addr)| result.map_err(|why| format!("{addr} {why}")))
                .collect()
        }
    };
    let mut gathered = Gathered::default();
    for report in reports {
        match report {
            Ok(pod) => {
                gathered.answered += 1;
                gathered.processes.push(pod.process);
                for service in pod.services {
                    let demand = gathered
                        .load
                        .entry((service.namespace, service.deployment))
                        .or_default();
                    demand.busy += service.busy;
                    demand.queued += service.queued;
                }
            }
            Err(why) => gathered.missing.push(why),
        }
    }
    gathered
}
