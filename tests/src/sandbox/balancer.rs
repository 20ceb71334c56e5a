//! The sandbox's load balancer for Service `azureml-fe`: what a cloud load balancer does for the
//! LoadBalancer Service — one address per port (http, https) on 127.0.0.1 whose connections go, in
//! turn, to the ready router pods' port of the same name (found through the API server every
//! 500 ms). TCP only: TLS passes through to the router, which terminates it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use tokio::net::{TcpListener, TcpStream};

/// Where the router pods' port `name` is, on ready pods.
type Targets = Arc<RwLock<Vec<u16>>>;

/// The balancer's listeners; it runs until its runtime stops.
pub struct Balancer {
    /// `http` and `https` addresses.
    pub addresses: Vec<(String, SocketAddr)>,
}

/// Binds `127.0.0.1:port` for each `(name, port)` (0, or a busy port, takes a free one) and starts
/// forwarding on the current runtime. Pods are those of `namespace` labelled `selector`.
pub async fn start(
    client: kube::Client,
    namespace: &str,
    selector: &str,
    ports: &[(&str, u16)],
) -> std::io::Result<Balancer> {
    let mut addresses = Vec::new();
    for (name, port) in ports {
        let listener = match TcpListener::bind(("127.0.0.1", *port)).await {
            Ok(l) => l,
            Err(_) => TcpListener::bind(("127.0.0.1", 0)).await?,
        };
        addresses.push((name.to_string(), listener.local_addr()?));
        let targets: Targets = Arc::default();
        tokio::spawn(discover(
            client.clone(),
            namespace.to_string(),
            selector.to_string(),
            name.to_string(),
            targets.clone(),
        ));
        tokio::spawn(serve(listener, targets));
    }
    Ok(Balancer { addresses })
}

async fn discover(
    client: kube::Client,
    namespace: String,
    selector: String,
    port: String,
    targets: Targets,
) {
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    loop {
        if let Ok(list) = pods.list(&ListParams::default().labels(&selector)).await {
            let ready: Vec<u16> = list
                .items
                .iter()
                .filter(|p| {
                    p.metadata.deletion_timestamp.is_none()
                        && p.status
                            .as_ref()
                            .and_then(|s| s.conditions.as_ref())
                            .is_some_and(|c| {
                                c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                            })
                })
                .filter_map(|p| {
                    let spec = p.spec.as_ref()?;
                    let ports = spec.containers.first()?.ports.as_ref()?;
                    let found = ports.iter().find(|q| q.name.as_deref() == Some(&port))?;
                    u16::try_from(found.container_port).ok()
                })
                .collect();
            *targets.write().unwrap_or_else(|e| e.into_inner()) = ready;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn serve(listener: TcpListener, targets: Targets) {
    let turn = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        let (targets, turn) = (targets.clone(), turn.clone());
        tokio::spawn(async move {
            let ports = targets.read().unwrap_or_else(|e| e.into_inner()).clone();
            if ports.is_empty() {
                return; // no ready router: the connection closes, as a load balancer's would
            }
            let port = ports[turn.fetch_add(1, SeqCst) % ports.len()];
            if let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await {
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
    }
}
