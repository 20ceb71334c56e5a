//! `kubectl aml scale replay`: a load trace replayed against a live scoring URL, open loop
//! (`replay/engine.rs`), with the replica timeline of a watched Deployment, and the live replicas
//! drawn over `simulate`'s prediction for the same trace.

mod engine;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aml_core::Error;
use aml_core::cli::{Printer, Report, Table};
use aml_core::k8s::Kube;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde::Serialize;

use crate::chart::{self, Series};
use crate::cli::ReplayArgs;
use crate::simulate::{predicted_ready, read_trace};
use engine::{Ended, Limits, Request};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    second: u64,
    /// The trace's rate at this second.
    rps: f64,
    sent: u64,
    ok: u64,
    errors: u64,
    skipped: u64,
    statuses: BTreeMap<u16, u64>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    /// The watched Deployment's ready and desired replicas.
    ready: Option<u32>,
    desired: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Totals {
    sent: u64,
    ok: u64,
    errors: u64,
    skipped: u64,
    statuses: BTreeMap<u16, u64>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    /// Ready replicas summed over the seconds (with --watch).
    replica_seconds: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReplayReport {
    trace: String,
    url: String,
    /// `trace`, `max-requests` or `interrupted`.
    ended: &'static str,
    totals: Totals,
    seconds: Vec<Row>,
}

fn ms(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.1}"))
}

fn statuses(map: &BTreeMap<u16, u64>) -> String {
    if map.is_empty() {
        return "-".into();
    }
    map.iter()
        .map(|(code, n)| format!("{code}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Report for ReplayReport {
    fn tables(&self, _wide: bool) -> Vec<Table> {
        let watched = self.totals.replica_seconds.is_some();
        let mut headers = vec![
            "SECOND", "RPS", "SENT", "OK", "ERRORS", "SKIPPED", "STATUSES", "P50 MS", "P99 MS",
        ];
        if watched {
            headers.extend(["READY", "DESIRED"]);
        }
        let mut seconds = Table::new(headers);
        for r in &self.seconds {
            let mut row = vec![
                r.second.to_string(),
                format!("{:.2}", r.rps),
                r.sent.to_string(),
                r.ok.to_string(),
                r.errors.to_string(),
                r.skipped.to_string(),
                statuses(&r.statuses),
                ms(r.p50_ms),
                ms(r.p99_ms),
            ];
            if watched {
                row.push(r.ready.map_or("-".into(), |n| n.to_string()));
                row.push(r.desired.map_or("-".into(), |n| n.to_string()));
            }
            seconds.row(row);
        }
        let t = &self.totals;
        let mut totals = Table::new([
            "ENDED",
            "SENT",
            "OK",
            "ERRORS",
            "SKIPPED",
            "STATUSES",
            "P50 MS",
            "P99 MS",
            "REPLICA-SECONDS",
        ]);
        totals.row([
            self.ended.to_string(),
            t.sent.to_string(),
            t.ok.to_string(),
            t.errors.to_string(),
            t.skipped.to_string(),
            statuses(&t.statuses),
            ms(t.p50_ms),
            ms(t.p99_ms),
            t.replica_seconds.map_or("-".into(), |n| n.to_string()),
        ]);
        vec![seconds, totals]
    }

    fn names(&self) -> Vec<String> {
        Vec::new()
    }

    fn csv(&self) -> Option<String> {
        let mut text =
            String::from("second,rps,sent,ok,errors,skipped,p50_ms,p99_ms,ready,desired\n");
        for r in &self.seconds {
            let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
            let count = |v: Option<u32>| v.map_or(String::new(), |v| v.to_string());
            text.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                r.second,
                r.rps,
                r.sent,
                r.ok,
                r.errors,
                r.skipped,
                cell(r.p50_ms),
                cell(r.p99_ms),
                count(r.ready),
                count(r.desired)
            ));
        }
        Some(text)
    }
}

/// Ready and desired replicas, one entry per second.
type Timeline = Arc<Mutex<Vec<(u32, u32)>>>;

/// Reads the Deployment's ready and desired replicas once a second until dropped.
fn watch(kube: &Kube, name: &str, seconds: u64) -> (Timeline, tokio::task::JoinHandle<()>) {
    let timeline = Arc::new(Mutex::new(Vec::new()));
    let api: Api<Deployment> = Api::namespaced(kube.client.clone(), &kube.namespace);
    let (name, record) = (name.to_string(), timeline.clone());
    let task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        for _ in 0..seconds {
            ticker.tick().await;
            let read = tokio::time::timeout(Duration::from_millis(900), api.get_opt(&name)).await;
            let counts = match read {
                Ok(Ok(Some(d))) => (
                    d.status.and_then(|s| s.ready_replicas).unwrap_or(0).max(0) as u32,
                    d.spec.and_then(|s| s.replicas).unwrap_or(1).max(0) as u32,
                ),
                // Unknown this second: repeat the last known counts.
                _ => record
                    .lock()
                    .expect("timeline")
                    .last()
                    .copied()
                    .unwrap_or((0, 0)),
            };
            record.lock().expect("timeline").push(counts);
        }
    });
    (timeline, task)
}

fn totals(seconds: &[engine::Second], replica_seconds: Option<u64>) -> Totals {
    let mut all: Vec<f32> = seconds
        .iter()
        .flat_map(|s| s.latencies.iter().copied())
        .collect();
    all.sort_by(f32::total_cmp);
    let merged = engine::Second {
        latencies: all,
        ..Default::default()
    };
    let mut statuses = BTreeMap::new();
    for s in seconds {
        for (code, n) in &s.statuses {
            *statuses.entry(*code).or_default() += n;
        }
    }
    Totals {
        sent: seconds.iter().map(|s| s.sent).sum(),
        ok: seconds.iter().map(|s| s.ok).sum(),
        errors: seconds.iter().map(|s| s.errors).sum(),
        skipped: seconds.iter().map(|s| s.skipped).sum(),
        statuses,
        p50_ms: merged.quantile(0.5),
        p99_ms: merged.quantile(0.99),
        replica_seconds,
    }
}

/// Replays the trace; `kube` is the cluster of `--watch`.
pub(crate) async fn run(
    args: &ReplayArgs,
    kube: Option<&Kube>,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let trace = read_trace(&args.trace)?;
    if !args.url.starts_with("http://") && !args.url.starts_with("https://") {
        return Err(Error::usage(
            format!("invalid URL `{}`", args.url),
            "give the scoring URL, e.g. http://20.61.10.24/api/v1/service/NAME/score",
        )
        .into());
    }
    if args.timeout.is_zero() {
        return Err(Error::usage(
            "--timeout must be greater than 0",
            "use a duration like 60s",
        )
        .into());
    }
    // Check the simulation's flags before minutes of load, not after.
    let predicted = args
        .svg
        .as_ref()
        .map(|_| predicted_ready(&trace, &args.service, &args.model))
        .transpose()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .map_err(|e| Error::failed(format!("cannot build an HTTP client: {e}"), "this is a bug"))?;
    let request = Request {
        url: args.url.clone(),
        authorization: args
            .key
            .as_ref()
            .or(args.token.as_ref())
            .map(|k| format!("Bearer {k}")),
        body: args.body.clone(),
        headers: args.headers.clone(),
    };
    let limits = Limits {
        max_requests: args.max_requests,
        max_inflight: args.max_inflight as usize,
        timeout: args.timeout,
    };
    let watched = match (&args.watch, kube) {
        (Some(name), Some(kube)) => Some(watch(kube, name, trace.duration())),
        _ => None,
    };
    out.info(&format!(
        "replaying {} s of `{}` against {}",
        trace.duration(),
        args.trace.display(),
        args.url
    ));
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let (seconds, ended) = engine::run(&trace, request, client, limits, stop).await;
    let timeline = watched.map(|(timeline, task)| {
        task.abort();
        timeline.lock().expect("timeline").clone()
    });
    let replica_seconds = timeline
        .as_ref()
        .map(|t| t.iter().map(|(ready, _)| u64::from(*ready)).sum());
    let rows = seconds
        .iter()
        .enumerate()
        .map(|(i, s)| Row {
            second: i as u64,
            rps: trace.at(i as u64).rps,
            sent: s.sent,
            ok: s.ok,
            errors: s.errors,
            skipped: s.skipped,
            statuses: s.statuses.clone(),
            p50_ms: s.quantile(0.5),
            p99_ms: s.quantile(0.99),
            ready: timeline.as_ref().and_then(|t| t.get(i)).map(|c| c.0),
            desired: timeline.as_ref().and_then(|t| t.get(i)).map(|c| c.1),
        })
        .collect();
    let report = ReplayReport {
        trace: args.trace.display().to_string(),
        url: args.url.clone(),
        ended: match ended {
            Ended::Trace => "trace",
            Ended::MaxRequests => "max-requests",
            Ended::Stopped => "interrupted",
        },
        totals: totals(&seconds, replica_seconds),
        seconds: rows,
    };
    if let (Some(svg), Some(predicted)) = (&args.svg, predicted) {
        let mut series = vec![
            Series::per_second("load (rps)", report.seconds.iter().map(|r| r.rps).collect()),
            Series::per_second("azureml-fe policy, simulated ready", predicted),
        ];
        if let Some(timeline) = &timeline {
            series.push(Series::per_second(
                "live ready",
                timeline.iter().map(|c| f64::from(c.0)).collect(),
            ));
        }
        chart::svg(
            svg,
            &format!("{}: live replicas and simulate's prediction", report.trace),
            &series,
        )?;
        out.info(&format!("wrote the chart to {}", svg.display()));
    }
    out.report(&report)?;
    Ok(())
}
