//! The router process: check the API server, bind the listeners, start discovery and the TLS and
//! token-key watches, serve until asked to stop, then drain. The drain keeps serving (readiness
//! failing, so load balancers move away) until no request came for a quiet period or half the
//! drain timeout passed, then stops accepting, lets in-flight requests finish and returns before
//! the drain timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, ListParams};
use tokio::sync::mpsc::unbounded_channel;
use tokio::sync::watch;
use tokio::time::Instant;

use super::listener::{self, Connections, Serving};
use super::{Options, Shared, admin, discovery, handler, jwt::TokenKeys, tls, watch as watches};
use crate::k8s::{self, Kind, Target};
use crate::{Error, Result};

/// A drain ends its serving phase once no request arrived for this long.
const QUIET: Duration = Duration::from_secs(2);

/// The addresses actually bound (ports chosen by the system when 0 was asked).
#[derive(Debug, Clone, Copy)]
pub struct Listening {
    /// Plain HTTP.
    pub http: Option<SocketAddr>,
    /// HTTPS.
    pub https: Option<SocketAddr>,
    /// Admin.
    pub admin: SocketAddr,
}

/// Runs the router until `shutdown` completes, then drains; `listening` is called once bound.
pub async fn serve(
    options: Options,
    client: kube::Client,
    shutdown: impl Future<Output = ()>,
    listening: impl FnOnce(&Listening),
) -> Result<()> {
    raise_open_files_limit();
    check_api_server(&client, options.namespace.as_deref(), options.api_timeout).await?;
    let bind = |addr: SocketAddr| {
        listener::bind(addr).map_err(|e| {
            Error::failed(
                format!("cannot listen on {addr}: {e}"),
                "choose a free address with --http, --https or --admin",
            )
        })
    };
    let http = options.http.map(bind).transpose()?;
    let https = options.https.map(bind).transpose()?;
    let admin_listener = bind(options.admin)?;
    let bound = Listening {
        http: http.as_ref().and_then(|l| l.local_addr().ok()),
        https: https.as_ref().and_then(|l| l.local_addr().ok()),
        admin: admin_listener.local_addr().unwrap_or(options.admin),
    };

    let shared = Shared::new(options);
    discovery::start(shared.clone(), client.clone());
    tokio::spawn(super::stats::close_windows(shared.clone()));
    let (stop_autoscaler, autoscaler_stopped) = watch::channel(false);
    if let Some(autoscaler) = &shared.options.autoscaler {
        let config = crate::autoscale::live::Config {
            lease: crate::autoscale::live::leader::LeaseConfig {
                namespace: shared.options.fe_namespace.clone(),
                name: autoscaler.lease_name.clone(),
                identity: shared.options.identity.clone(),
                timing: Default::default(),
            },
            peers_service: autoscaler.peers_service.clone(),
            scale_down_window: autoscaler.scale_down_window,
            router: crate::autoscale::live::router_scaler::RouterScaling {
                namespace: shared.options.fe_namespace.clone(),
                deployment: autoscaler.fe_deployment.clone(),
                settings: autoscaler.router.clone(),
            },
        };
        let status = shared.autoscaler.clone();
        crate::autoscale::live::start(
            shared.clone(),
            client.clone(),
            config,
            status,
            autoscaler_stopped,
        );
    }
    if shared.options.https.is_some() {
        watch_tls(&shared, &client);
    }
    if let Some(name) = &shared.options.token_keys_secret {
        watch_token_keys(&shared, &client, name.clone());
    }

    let (stop, stopped) = watch::channel(false);
    let (stop_admin, admin_stopped) = watch::channel(false);
    let connections = Arc::new(Connections::default());
    let serving = Serving {
        tls: None,
        header_timeout: shared.options.header_timeout,
        stop: stopped,
        connections: connections.clone(),
    };
    let data = {
        let shared = shared.clone();
        move |request, peer| {
            handler::handle(
                shared.clone(),
                request,
                handler::Client { peer, tls: false },
            )
        }
    };
    if let Some(listener) = http {
        tokio::spawn(listener::accept_loop(listener, serving.clone(), data));
    }
    if let Some(listener) = https {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config(shared.certs.clone()));
        let shared = shared.clone();
        let serving = Serving {
            tls: Some(acceptor),
            ..serving.clone()
        };
        let data = move |request, peer| {
            handler::handle(shared.clone(), request, handler::Client { peer, tls: true })
        };
        tokio::spawn(listener::accept_loop(listener, serving, data));
    }
    let admin_serving = Serving {
        tls: None,
        header_timeout: shared.options.header_timeout,
        stop: admin_stopped,
        connections: Arc::new(Connections::default()),
    };
    let admin_shared = shared.clone();
    tokio::spawn(listener::accept_loop(
        admin_listener,
        admin_serving,
        move |request, _| admin::handle(admin_shared.clone(), request),
    ));
    listening(&bound);

    shutdown.await;
    // A draining router leads nothing: give the Lease up first, so another takes over at once.
    let _ = stop_autoscaler.send(true);
    drain(&shared, &stop, &connections).await;
    let _ = stop_admin.send(true);
    Ok(())
}

async fn drain(shared: &Shared, stop: &watch::Sender<bool>, connections: &Connections) {
    let started = Instant::now();
    let limit = shared.options.drain_timeout;
    shared.health.draining.store(true, Relaxed);
    tracing::info!(
        connections = connections.open(),
        "draining: readiness fails; serving until quiet"
    );
    let serve_until = started + limit / 2;
    while Instant::now() < serve_until && shared.health.quiet_for() < QUIET {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    let open = connections.open();
    tracing::info!(
        connections = open,
        "draining: no new connections; finishing requests in flight"
    );
    if tokio::time::timeout_at(started + limit, connections.all_closed())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.open(),
            "drain timeout ({limit:?}) passed with requests in flight; closing them"
        );
    }
}

/// Fails with the API server's own error when it cannot be reached or refuses to list.
async fn check_api_server(
    client: &kube::Client,
    namespace: Option<&str>,
    timeout: Duration,
) -> Result<()> {
    let api: Api<Deployment> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let params = ListParams::default().labels("isazuremlapp=true").limit(1);
    let listed = tokio::time::timeout(timeout, api.list(&params))
        .await
        .map_err(|_| {
            Error::from(k8s::Error::Timeout {
                what: "the API server to list model Deployments".into(),
                after: timeout,
            })
        })?;
    listed.map_err(|e| {
        let target = Target {
            kind: "deployment".into(),
            resource: Kind::DEPLOYMENT.resource(),
            namespace: namespace.map(str::to_string),
            name: None,
        };
        Error::from(k8s::Error::from_kube("list", target, e))
    })?;
    Ok(())
}

/// Serves the TLS Secret's pair; a bad new pair is logged and the old one kept.
fn watch_tls(shared: &Arc<Shared>, client: &kube::Client) {
    let options = &shared.options;
    let resource = ApiResource::erase::<Secret>(&());
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &options.fe_namespace, &resource);
    let what = format!("TLS Secret {}/{}", options.fe_namespace, options.tls_secret);
    let (tx, mut rx) = unbounded_channel();
    watches::spawn_one(api, &options.tls_secret, what.clone(), tx, |secret| secret);
    let certs = shared.certs.clone();
    tokio::spawn(async move {
        while let Some(secret) = rx.recv().await {
            match secret {
                None if certs.loaded() => {
                    tracing::warn!("{what} is gone; still serving the certificate loaded before")
                }
                None => {
                    tracing::warn!("{what} does not exist; HTTPS handshakes fail until it does")
                }
                Some(secret) => match certs.load_secret(&secret) {
                    Ok(fingerprint) => {
                        tracing::info!(%fingerprint, "serving the certificate of {what}")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "{what} refused; the certificate served before stays")
                    }
                },
            }
        }
    });
}

/// Keeps the token keys up to date; a missing Secret means no token is accepted.
fn watch_token_keys(shared: &Arc<Shared>, client: &kube::Client, name: String) {
    let namespace = shared.options.fe_namespace.clone();
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let what = format!("token keys Secret {namespace}/{name}");
    let (tx, mut rx) = unbounded_channel();
    watches::spawn_one(api, &name, what.clone(), tx, |secret| secret);
    let shared = shared.clone();
    tokio::spawn(async move {
        while let Some(secret) = rx.recv().await {
            let keys = match secret {
                None => {
                    tracing::warn!("{what} does not exist; token-auth services answer 401");
                    None
                }
                Some(secret) => {
                    let (keys, problems) =
                        TokenKeys::from_secret(&secret, &format!("Secret `{namespace}/{name}`"));
                    for problem in problems {
                        tracing::warn!("{problem}");
                    }
                    tracing::info!(keys = keys.len(), "token keys loaded from {what}");
                    Some(Arc::new(keys))
                }
            };
            *shared.token_keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
            shared.health.set_token_keys_read();
        }
    });
}

/// Many idle client connections are normal for a router: use the hard limit on open files.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::debug!(error = %e, "could not raise the open-files limit");
    }
}
