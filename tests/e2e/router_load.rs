//! A small closed-loop load generator for router tests: `workers` clients on keep-alive
//! connections send scoring requests until told to stop or a count is reached, and every answer
//! that is not 200 is kept with its reason.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use tokio::sync::Mutex;

/// What a load run saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Requests answered 200.
    pub ok: usize,
    /// Every other outcome: status and body, or the transport error.
    pub failures: Vec<String>,
    /// 200 answers per replica (the model's `replica` field).
    pub by_replica: BTreeMap<String, usize>,
}

/// How to load.
#[derive(Clone)]
pub struct Load {
    /// The URL to POST to.
    pub url: String,
    /// Extra headers on every request.
    pub headers: Vec<(String, String)>,
    /// Concurrent clients.
    pub workers: usize,
    /// Stop after this many requests in all.
    pub count: Option<usize>,
    /// A client for the scheme (HTTPS clients trust the test CA).
    pub client: reqwest::Client,
}

impl Load {
    /// Plain HTTP to `url` with the primary key.
    pub fn new(url: &str, workers: usize) -> Self {
        aml_core::init_crypto();
        Self {
            url: url.to_string(),
            headers: vec![(
                "authorization".into(),
                format!("Bearer {}", crate::router_env::PRIMARY),
            )],
            workers,
            count: None,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(64)
                .build()
                .expect("client"),
        }
    }

    /// Adds a header to every request.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Runs until `stop` is set (or the count is reached).
    pub async fn run(self, stop: Arc<AtomicBool>) -> Report {
        let report = Arc::new(Mutex::new(Report::default()));
        let sent = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..self.workers {
            let (load, stop, report, sent) =
                (self.clone(), stop.clone(), report.clone(), sent.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(SeqCst) {
                    if let Some(count) = load.count
                        && sent.fetch_add(1, SeqCst) >= count
                    {
                        return;
                    }
                    let mut request = load.client.post(&load.url).body(r#"{"data":[[1]]}"#);
                    for (k, v) in &load.headers {
                        request = request.header(k, v);
                    }
                    let outcome = match request.send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let body = response.text().await.unwrap_or_default();
                            (status, body)
                        }
                        Err(e) => (0, format!("{e:?}")),
                    };
                    let mut report = report.lock().await;
                    match outcome {
                        (200, body) => {
                            report.ok += 1;
                            let replica = serde_json::from_str::<serde_json::Value>(&body)
                                .ok()
                                .and_then(|v| v["replica"].as_str().map(str::to_string))
                                .unwrap_or_default();
                            *report.by_replica.entry(replica).or_default() += 1;
                        }
                        (status, body) => report.failures.push(format!("{status} {body}")),
                    }
                }
            }));
        }
        for task in tasks {
            task.await.expect("load worker");
        }
        Arc::try_unwrap(report)
            .unwrap_or_else(|_| panic!("workers done"))
            .into_inner()
    }

    /// Runs until `count` requests were answered.
    pub async fn run_count(mut self, count: usize) -> Report {
        self.count = Some(count);
        self.run(Arc::new(AtomicBool::new(false))).await
    }
}
