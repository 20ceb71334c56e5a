//! The open-loop sender: each second of the trace its requests start on schedule, evenly spaced,
//! whether or not earlier ones have finished, so a slow server cannot slow the load down and hide
//! its own latency (coordinated omission); latency counts from the intended start. Bounded by the
//! trace, `max_requests`, `max_inflight` (past it a request is counted as skipped, not queued) and
//! a per-request timeout; a stop signal ends the sending and lets requests in flight finish briefly.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use aml_core::autoscale::sim::Trace;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What to send.
#[derive(Clone)]
pub(crate) struct Request {
    pub url: String,
    /// `Authorization` value (never printed).
    pub authorization: Option<String>,
    pub body: String,
    /// More headers.
    pub headers: Vec<(String, String)>,
}

/// Limits of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_requests: u64,
    pub max_inflight: usize,
    pub timeout: Duration,
}

/// One second of the run, by intended start.
#[derive(Debug, Clone, Default)]
pub(crate) struct Second {
    pub sent: u64,
    pub ok: u64,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Transport errors and timeouts.
    pub errors: u64,
    /// Not sent: `max_inflight` requests were already waiting.
    pub skipped: u64,
    /// Latencies (ms) of the answered requests, sorted when the run ends.
    pub latencies: Vec<f32>,
}

impl Second {
    /// The `q` quantile of the latencies, ms.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        let rank = ((self.latencies.len() as f64) * q).ceil().max(1.0) as usize;
        Some(f64::from(
            self.latencies[rank.min(self.latencies.len()) - 1],
        ))
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The trace ran out.
    Trace,
    /// `--max-requests` was reached.
    MaxRequests,
    /// Interrupted (Ctrl-C).
    Stopped,
}

struct Done {
    second: u64,
    status: Option<u16>,
    latency: Duration,
}

/// Replays `trace` against `request`; returns the seconds and how it ended.
pub(crate) async fn run(
    trace: &Trace,
    request: Request,
    client: reqwest::Client,
    limits: Limits,
    stop: impl Future<Output = ()>,
) -> (Vec<Second>, Ended) {
    let seconds = trace.duration();
    let mut report = vec![Second::default(); seconds as usize];
    let inflight = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
    let start = Instant::now();
    let (mut sent, mut carry) = (0u64, 0.0f64);
    let mut ended = Ended::Trace;
    tokio::pin!(stop);
    'seconds: for second in 0..seconds {
        carry += trace.at(second).rps;
        let count = carry.floor() as u64;
        carry -= count as f64;
        for i in 0..count {
            if sent >= limits.max_requests {
                ended = Ended::MaxRequests;
                break 'seconds;
            }
            let intended = start
                + Duration::from_secs(second)
                + Duration::from_secs_f64(i as f64 / count as f64);
            tokio::select! {
                _ = tokio::time::sleep_until(intended) => {}
                _ = &mut stop => {
                    ended = Ended::Stopped;
                    break 'seconds;
                }
            }
            while let Ok(done) = rx.try_recv() {
                record(&mut report, done);
            }
            sent += 1;
            let slot = &mut report[second as usize];
            slot.sent += 1;
            if inflight.load(SeqCst) >= limits.max_inflight {
                slot.skipped += 1;
                continue;
            }
            inflight.fetch_add(1, SeqCst);
            let (client, request, tx, inflight) = (
                client.clone(),
                request.clone(),
                tx.clone(),
                inflight.clone(),
            );
            tokio::spawn(async move {
                let mut call = client
                    .post(&request.url)
                    .timeout(limits.timeout)
                    .body(request.body.clone())
                    .header("content-type", "application/json");
                if let Some(value) = &request.authorization {
                    call = call.header("authorization", value);
                }
                for (name, value) in &request.headers {
                    call = call.header(name.as_str(), value.as_str());
                }
                let status = match call.send().await {
                    // The answer counts once its body is in.
                    Ok(response) => {
                        let status = response.status().as_u16();
                        response.bytes().await.ok().map(|_| status)
                    }
                    Err(_) => None,
                };
                inflight.fetch_sub(1, SeqCst);
                let _ = tx.send(Done {
                    second,
                    status,
                    latency: intended.elapsed(),
                });
            });
        }
    }
    drop(tx);
    // Requests in flight get their timeout (at most 2 s after an interruption).
    let grace = if ended == Ended::Stopped {
        Duration::from_secs(2)
    } else {
        limits.timeout
    };
    let deadline = Instant::now() + grace;
    while let Ok(Some(done)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        record(&mut report, done);
    }
    for second in &mut report {
        second.latencies.sort_by(f32::total_cmp);
    }
    (report, ended)
}

fn record(report: &mut [Second], done: Done) {
    let slot = &mut report[done.second as usize];
    match done.status {
        Some(status) => {
            *slot.statuses.entry(status).or_default() += 1;
            if (200..300).contains(&status) {
                slot.ok += 1;
            }
            slot.latencies.push(done.latency.as_secs_f32() * 1000.0);
        }
        None => slot.errors += 1,
    }
}
