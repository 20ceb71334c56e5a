//! `kubectl aml fe serve`: the router itself, in a pod (in-cluster configuration) or on a
//! workstation (kubeconfig). Flags resolve to `aml_core::router::Options` without touching the
//! cluster (`ServeArgs::plan`); the process runs until SIGTERM or Ctrl-C, then drains.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use aml_core::Context;
use aml_core::autoscale::{ClusterPurpose, RouterSettings};
use aml_core::cli::{Printer, parse_duration};
use aml_core::k8s::{self, ClientOptions};
use aml_core::router::{self, AutoscalerOptions, Listening, Options};

/// How `fe serve` runs: listeners, Secrets, limits.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    /// Plain HTTP listener for scoring requests (host:port)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080", value_parser = parse_listen)]
    http: SocketAddr,

    /// HTTPS listener (host:port), with the certificate of the TLS Secret; off unless given
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    https: Option<SocketAddr>,

    /// Health (/healthz, /readyz) and Prometheus metrics (/metrics) listener (host:port)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9001", value_parser = parse_listen)]
    admin: SocketAddr,

    /// Namespace of the TLS Secret and the token keys Secret
    #[arg(long, value_name = "NAMESPACE", default_value = "default")]
    fe_namespace: String,

    /// The TLS Secret (cert.pem/key.pem, or tls.crt/tls.key) served on --https
    #[arg(long, value_name = "NAME", default_value = "azuremlfessl", value_parser = aml_core::k8s::names::object_name)]
    tls_secret: String,

    /// Secret with the public keys (a JWKS document or PEM) that token-auth services accept
    #[arg(long, value_name = "NAME", value_parser = aml_core::k8s::names::object_name)]
    token_keys_secret: Option<String>,

    /// Largest request body; larger ones get 413
    #[arg(long, value_name = "BYTES", default_value_t = 104_857_600,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_body_bytes: u64,

    /// Most time a client may take to send a request's headers (also the keep-alive idle limit)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,

    /// Most time from SIGTERM to exit: requests in flight finish within it
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    drain_timeout: Duration,

    /// This router's name among its peers, in its load reports and the autoscaler's Lease
    /// [default: $POD_NAME, else hostname-pid]
    #[arg(long, value_name = "NAME", env = "POD_NAME")]
    identity: Option<String>,

    /// Do not autoscale model Deployments (route only; e.g. beside another autoscaler)
    #[arg(long)]
    no_autoscaler: bool,

    /// The Lease (in --fe-namespace) electing the one router that autoscales
    #[arg(long, value_name = "NAME", default_value = "azureml-fe-autoscaler", value_parser = aml_core::k8s::names::object_name)]
    lease_name: String,

    /// The Service (in --fe-namespace) whose Endpoints are the router pods' admin ports
    #[arg(long, value_name = "NAME", default_value = "azureml-fe-int-http", value_parser = aml_core::k8s::names::object_name)]
    peers_service: String,

    /// How long lower demand must last before the autoscaler removes replicas
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    scale_down_window: Duration,

    /// The cluster's purpose: the router scales itself on FastProd and DenseProd, not on DevTest
    #[arg(long, value_enum, value_name = "PURPOSE", default_value = "fast-prod")]
    cluster_purpose: Purpose,

    /// The router's own Deployment (in --fe-namespace), which the leader scales
    #[arg(long, value_name = "NAME", default_value = "azureml-fe", value_parser = aml_core::k8s::names::object_name)]
    fe_deployment: String,

    /// p99 routing time above which the router grows (more CPU per pod, then more pods)
    #[arg(long, value_name = "DURATION", default_value = "15ms", value_parser = parse_duration)]
    router_routing_threshold: Duration,

    /// Fewest and most router pods when the router scales itself (FastProd keeps 3 for HA)
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    router_min_pods: u32,

    /// Most router pods
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    router_max_pods: u32,

    /// Time after a change of the router before the next one
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    router_cooldown: Duration,

    /// Worker threads [default: the CPUs this process may use]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,
}

/// `--cluster-purpose` values (the compute's `clusterPurpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Purpose {
    /// Production: the router scales itself
    #[value(alias = "FastProd")]
    FastProd,
    /// Dense production: the router scales itself
    #[value(alias = "DenseProd")]
    DenseProd,
    /// Dev-test: it does not
    #[value(alias = "DevTest")]
    DevTest,
}

/// `hostname-pid`: unique among routers on one machine, readable in a pod (whose hostname is its name).
fn default_identity() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "router".into());
    format!("{host}-{}", std::process::id())
}

/// `host:port`: an IPv4 address, `[IPv6]`, `localhost`, or nothing (all interfaces).
pub(crate) fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let error =
        || format!("invalid address `{text}`: use host:port, like 0.0.0.0:8080 or 127.0.0.1:9001");
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(error)?;
    let port: u16 = port.parse().map_err(|_| error())?;
    let ip = match host {
        "" | "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => return Err(error()),
    };
    Ok(SocketAddr::new(ip, port))
}

impl ServeArgs {
    /// The router's options; `namespace` is `-n` when given (discovery then stays in it).
    pub(crate) fn plan(
        &self,
        namespace: Option<String>,
        request_timeout: Duration,
    ) -> Result<Options, aml_core::Error> {
        if self.router_min_pods > self.router_max_pods {
            return Err(aml_core::Error::usage(
                format!(
                    "--router-min-pods ({}) is more than --router-max-pods ({})",
                    self.router_min_pods, self.router_max_pods
                ),
                "give a minimum no larger than the maximum",
            ));
        }
        let mut addrs = vec![("--http", self.http), ("--admin", self.admin)];
        addrs.extend(self.https.map(|a| ("--https", a)));
        for (i, (flag, addr)) in addrs.iter().enumerate() {
            if let Some((other, _)) = addrs[..i]
                .iter()
                .find(|(_, a)| a == addr && addr.port() != 0)
            {
                return Err(aml_core::Error::usage(
                    format!("{flag} and {other} both ask for {addr}"),
                    "give each listener its own port",
                ));
            }
        }
        for (flag, value) in [
            ("--header-timeout", self.header_timeout),
            ("--drain-timeout", self.drain_timeout),
        ] {
            if value.is_zero() {
                return Err(aml_core::Error::usage(
                    format!("{flag} must be greater than 0"),
                    "use a duration like 10s or 1m",
                ));
            }
        }
        Ok(Options {
            http: Some(self.http),
            https: self.https,
            admin: self.admin,
            namespace,
            fe_namespace: self.fe_namespace.clone(),
            tls_secret: self.tls_secret.clone(),
            token_keys_secret: self.token_keys_secret.clone(),
            max_body_bytes: self.max_body_bytes,
            header_timeout: self.header_timeout,
            drain_timeout: self.drain_timeout,
            api_timeout: if request_timeout.is_zero() {
                Duration::from_secs(30)
            } else {
                request_timeout
            },
            identity: self.identity.clone().unwrap_or_else(default_identity),
            autoscaler: (!self.no_autoscaler).then(|| AutoscalerOptions {
                lease_name: self.lease_name.clone(),
                peers_service: self.peers_service.clone(),
                scale_down_window: self.scale_down_window,
                fe_deployment: self.fe_deployment.clone(),
                router: RouterSettings {
                    purpose: match self.cluster_purpose {
                        Purpose::FastProd => ClusterPurpose::FastProd,
                        Purpose::DenseProd => ClusterPurpose::DenseProd,
                        Purpose::DevTest => ClusterPurpose::DevTest,
                    },
                    routing_threshold: self.router_routing_threshold,
                    min_pods: self.router_min_pods,
                    max_pods: self.router_max_pods,
                    cooldown: self.router_cooldown,
                    ..RouterSettings::default()
                },
            }),
        })
    }

    /// Worker threads asked for, else the CPUs available (cgroup quotas included).
    pub(crate) fn workers(&self) -> usize {
        self.workers
            .map(usize::from)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// Serves until SIGTERM or Ctrl-C, then drains.
pub(crate) async fn run(ctx: &Context, options: Options, out: &mut Printer) -> anyhow::Result<()> {
    // Watches wait for events far longer than --request-timeout: their client has no read
    // timeout (each watch asks the server to end it within a minute instead).
    let watch_options = ClientOptions {
        request_timeout: None,
        ..ctx.kube_options().clone()
    };
    let kube = k8s::connect(&watch_options).await?;
    let scope = options
        .namespace
        .as_deref()
        .map_or("all namespaces".to_string(), |ns| format!("namespace {ns}"));
    let server = kube.server.clone();
    router::serve(
        options,
        kube.client,
        router::termination(),
        |bound: &Listening| {
            let mut line = String::from("serving");
            if let Some(http) = bound.http {
                line.push_str(&format!(" http on {http},"));
            }
            if let Some(https) = bound.https {
                line.push_str(&format!(" https on {https},"));
            }
            line.push_str(&format!(
                " admin on {}; model Deployments in {scope} of {server}",
                bound.admin
            ));
            out.info(&line);
        },
    )
    .await?;
    out.info("drained; stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_are_host_and_port() {
        let ok = [
            ("0.0.0.0:8080", "0.0.0.0:8080"),
            ("127.0.0.1:0", "127.0.0.1:0"),
            ("[::1]:9001", "[::1]:9001"),
            ("localhost:80", "127.0.0.1:80"),
            (":8080", "0.0.0.0:8080"),
        ];
        for (text, want) in ok {
            assert_eq!(parse_listen(text), Ok(want.parse().unwrap()), "{text}");
        }
        for bad in ["8080", "example.com:80", "1.2.3.4:99999", "1.2.3.4", ""] {
            assert!(
                parse_listen(bad).unwrap_err().contains("use host:port"),
                "{bad}"
            );
        }
    }
}
