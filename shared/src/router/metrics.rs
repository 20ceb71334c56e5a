//! Prometheus metrics of the router (`/metrics` on the admin port): requests by status code, the
//! router's added latency, the queue wait and the replica's time per service; busy, in-flight,
//! queued and ready counts per service read from the pools at scrape time, so the hot path
//! updates nothing for them.

use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::contract::{App, BackendKey};
use super::table::Table;

/// Which service a series is about.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    /// The model Deployment's namespace.
    pub namespace: String,
    /// v1 service or v2 endpoint name.
    pub service: String,
    /// v2 deployment name; empty for v1 services.
    pub deployment: String,
}

impl ServiceLabels {
    /// The labels of a backend.
    pub fn of(key: &BackendKey) -> Self {
        let (service, deployment) = match &key.app {
            App::Service(name) => (name.clone(), String::new()),
            App::Endpoint {
                endpoint,
                deployment,
            } => (endpoint.clone(), deployment.clone()),
        };
        Self {
            namespace: key.namespace.clone(),
            service,
            deployment,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    namespace: String,
    service: String,
    deployment: String,
    code: u16,
}

fn latency_histogram() -> Histogram {
    // 50 µs … ~26 s: the router's budget is 3 ms mean / 15 ms p99; replicas take up to minutes.
    Histogram::new(exponential_buckets(0.00005, 2.0, 20))
}

/// Counts the router's answers and the pools' state.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    added: Family<ServiceLabels, Histogram>,
    queue_wait: Family<ServiceLabels, Histogram>,
    replica: Family<ServiceLabels, Histogram>,
    table: Arc<RwLock<Arc<Table>>>,
}

/// One backend's metric handles, looked up once when it appears.
#[derive(Debug, Clone)]
pub struct BackendMetrics {
    labels: ServiceLabels,
    requests: Family<RequestLabels, Counter>,
    /// Counters by status code, looked up in the family once per code: a label set per answer
    /// would cost three string copies.
    codes: Arc<RwLock<Vec<(u16, Counter)>>>,
    /// Time the router added: everything but the queue wait and the replica's time.
    pub added: Histogram,
    /// Time spent waiting for a slot.
    pub queue_wait: Histogram,
    /// Time from sending to the replica to its answer's head.
    pub replica: Histogram,
}

impl BackendMetrics {
    /// Counts one answer.
    pub fn count(&self, code: u16) {
        let cached = self.codes.read().unwrap_or_else(|e| e.into_inner());
        if let Some((_, counter)) = cached.iter().find(|(c, _)| *c == code) {
            counter.inc();
            return;
        }
        drop(cached);
        let counter = self
            .requests
            .get_or_create_owned(&request_labels(&self.labels, code));
        counter.inc();
        let mut cached = self.codes.write().unwrap_or_else(|e| e.into_inner());
        if !cached.iter().any(|(c, _)| *c == code) {
            cached.push((code, counter));
        }
    }
}

fn request_labels(labels: &ServiceLabels, code: u16) -> RequestLabels {
    RequestLabels {
        namespace: labels.namespace.clone(),
        service: labels.service.clone(),
        deployment: labels.deployment.clone(),
        code,
    }
}

fn count(requests: &Family<RequestLabels, Counter>, labels: &ServiceLabels, code: u16) {
    requests.get_or_create(&request_labels(labels, code)).inc();
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// The registry with every series described.
    pub fn new() -> Self {
        Self::with_table(Arc::default())
    }

    /// The registry, reading pool counts from this table at scrape time.
    pub fn with_table(table: Arc<RwLock<Arc<Table>>>) -> Self {
        let mut registry = Registry::with_prefix("azureml_fe");
        let requests = Family::<RequestLabels, Counter>::default();
        let hist = || {
            Family::<ServiceLabels, Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            )
        };
        let (added, queue_wait, replica) = (hist(), hist(), hist());
        registry.register(
            "requests",
            "Answers by service and status code (the router's own and the replicas')",
            requests.clone(),
        );
        registry.register(
            "added_seconds",
            "Time the router added to a request: all but the queue wait and the replica's time",
            added.clone(),
        );
        registry.register(
            "queue_wait_seconds",
            "Time requests waited for a free replica slot",
            queue_wait.clone(),
        );
        registry.register(
            "replica_seconds",
            "Time from sending a request to a replica to the start of its answer",
            replica.clone(),
        );
        registry.register_collector(Box::new(PoolCollector {
            table: table.clone(),
        }));
        Self {
            registry,
            requests,
            added,
            queue_wait,
            replica,
            table,
        }
    }

    /// The table whose pools the gauges read.
    pub fn table(&self) -> &Arc<RwLock<Arc<Table>>> {
        &self.table
    }

    /// Handles for a backend.
    pub fn backend(&self, key: &BackendKey) -> BackendMetrics {
        let labels = ServiceLabels::of(key);
        BackendMetrics {
            requests: self.requests.clone(),
            codes: Arc::default(),
            added: self.added.get_or_create_owned(&labels),
            queue_wait: self.queue_wait.get_or_create_owned(&labels),
            replica: self.replica.get_or_create_owned(&labels),
            labels,
        }
    }

    /// Counts an answer given before any backend was found (unknown service, bad request).
    pub fn count_unrouted(&self, service: &str, code: u16) {
        let labels = ServiceLabels {
            namespace: String::new(),
            service: service.to_string(),
            deployment: String::new(),
        };
        count(&self.requests, &labels, code);
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// Busy, in-flight, queued and ready per service, read from the pools when scraped.
#[derive(Debug)]
struct PoolCollector {
    table: Arc<RwLock<Arc<Table>>>,
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner()).clone();
        let rows: Vec<_> = table
            .backends()
            .iter()
            .map(|b| (ServiceLabels::of(&b.key), b.pool.counts()))
            .collect();
        type Pick = fn(&super::slots::Counts) -> f64;
        let series: [(&str, &str, Pick); 4] = [
            (
                "busy_replicas",
                "Replicas' worth of in-flight requests (in flight / slots per replica)",
                |c| c.busy,
            ),
            (
                "inflight_requests",
                "Requests being served by replicas",
                |c| f64::from(c.inflight),
            ),
            (
                "queued_requests",
                "Requests waiting in the router for a free slot",
                |c| f64::from(c.queued),
            ),
            (
                "ready_replicas",
                "Ready replicas the router sends requests to",
                |c| f64::from(c.ready),
            ),
        ];
        for (name, help, pick) in series {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (labels, counts) in &rows {
                metric.encode_family(labels)?.encode_gauge(&pick(counts))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::backend::{Backend, Config};
    use crate::router::contract::Settings;
    use crate::router::slots::Replica;

    #[test]
    fn answers_latencies_and_pool_gauges_are_exported_under_the_azureml_fe_prefix() {
        let table: Arc<RwLock<Arc<Table>>> = Arc::default();
        let metrics = Metrics::with_table(table.clone());
        let key = BackendKey {
            namespace: "ws1".into(),
            app: App::Service("s".into()),
        };
        let config = Config {
            deployment: "s".into(),
            settings: Settings::defaults("s", &key.app),
        };
        let backend = Backend::new(key.clone(), config, metrics.backend(&key));
        backend
            .pool
            .set_ready(vec![Replica::new("s-0".into(), ([127, 0, 0, 1], 1).into())]);
        *table.write().unwrap() = Arc::new(Table::build(vec![backend.clone()]).0);
        backend.metrics.count(200);
        backend.metrics.added.observe(0.001);
        metrics.count_unrouted("nope", 404);

        let text = metrics.render();
        let labels = r#"{namespace="ws1",service="s",deployment=""}"#;
        for line in [
            r#"azureml_fe_requests_total{namespace="ws1",service="s",deployment="",code="200"} 1"#
                .to_string(),
            r#"azureml_fe_requests_total{namespace="",service="nope",deployment="",code="404"} 1"#
                .to_string(),
            format!("azureml_fe_added_seconds_count{labels} 1"),
            format!("azureml_fe_ready_replicas{labels} 1"),
            format!("azureml_fe_queued_requests{labels} 0"),
            format!("azureml_fe_busy_replicas{labels} 0"),
            format!("azureml_fe_inflight_requests{labels} 0"),
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(&line)),
                "no `{line}` in:\n{text}"
            );
        }
    }
}
