//! `kubectl aml scale simulate`: one load trace through azureml-fe's policy and the HPA-like and
//! KPA-like baselines, on the same simulated cluster.

use std::fmt::Write as _;
use std::time::Duration;

use aml_core::Error;
use aml_core::autoscale::sim::{self, ClusterModel, ModelPolicy, Sample, Scaler, Summary, Trace};
use aml_core::autoscale::{Policy, Settings, ceil};
use aml_core::cli::{Printer, Report, Table};
use serde::Serialize;

use crate::baselines::{Bounds, Hpa, Kpa};
use crate::chart::{self, Series};
use crate::cli::{ModelArgs, ServiceArgs, SimulateArgs};

/// The policies, with the keys their timeline columns use.
const KEYS: [&str; 3] = ["azureml_fe", "hpa", "kpa"];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    second: u64,
    rps: f64,
    /// Replicas needed at the target utilisation for this second's load.
    needed: u64,
    #[serde(flatten)]
    replicas: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SimulateReport {
    trace: String,
    seconds: u64,
    target_utilization: u8,
    policies: Vec<Summary>,
    timeline: Vec<Row>,
    #[serde(skip)]
    runs: Vec<Vec<Sample>>,
}

impl SimulateReport {
    fn series(&self) -> Vec<Series<'_>> {
        let mut series = vec![Series {
            name: "load (replicas needed)",
            values: self.timeline.iter().map(|r| r.needed as f64).collect(),
        }];
        for (summary, samples) in self.policies.iter().zip(&self.runs) {
            series.push(Series {
                name: &summary.policy,
                values: samples.iter().map(|s| f64::from(s.ready)).collect(),
            });
        }
        series
    }
}

impl Report for SimulateReport {
    fn tables(&self, _wide: bool) -> Vec<Table> {
        let mut summary = Table::new([
            "POLICY",
            "ABOVE TARGET",
            "PEAK UTILISATION",
            "QUEUED BEYOND WAIT",
            "REPLICA-SECONDS",
            "DIRECTION CHANGES",
            "MAX REPLICAS",
        ]);
        for p in &self.policies {
            summary.row([
                p.policy.clone(),
                format!("{} s", p.seconds_above_target),
                format!("{:.0} %", p.peak_utilisation * 100.0),
                format!("{:.0}", p.queued_beyond_wait),
                p.replica_seconds.to_string(),
                p.direction_changes.to_string(),
                p.max_replicas.to_string(),
            ]);
        }
        vec![chart::ascii(&self.series(), 72), summary]
    }

    fn names(&self) -> Vec<String> {
        self.policies.iter().map(|p| p.policy.clone()).collect()
    }

    fn csv(&self) -> Option<String> {
        let mut text = String::from("second,rps,needed");
        for key in KEYS {
            let _ = write!(text, ",{key}_desired,{key}_ready");
        }
        text.push('\n');
        for (i, row) in self.timeline.iter().enumerate() {
            let _ = write!(text, "{},{},{}", row.second, row.rps, row.needed);
            for samples in &self.runs {
                let _ = write!(text, ",{},{}", samples[i].desired, samples[i].ready);
            }
            text.push('\n');
        }
        Some(text)
    }
}

/// Reads and parses a trace file, with the usage errors both simulate and replay give.
pub(crate) fn read_trace(file: &std::path::Path) -> Result<Trace, Error> {
    let path = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::usage(
            format!("cannot read the trace `{path}`: {e}"),
            "give a CSV file, e.g. one of scripts/traces/",
        )
    })?;
    Trace::parse_csv(&text).map_err(|e| {
        Error::usage(
            format!("the trace `{path}` is not valid: {e}"),
            "the header is `seconds,rps,request_seconds`, then one row per change of load",
        )
    })
}

/// The azureml-fe policy's settings, the simulated cluster and the replicas at the start.
fn cluster(
    service: &ServiceArgs,
    model: &ModelArgs,
) -> Result<(Settings, ClusterModel, u32), Error> {
    let settings = Settings {
        target: service.target(),
        min: model.min_replicas,
        max: model.max_replicas,
        per_replica: service.max_concurrent,
        scale_down_window: model.scale_down_window,
        ..Settings::default()
    };
    let problems = settings.problems();
    if !problems.is_empty() {
        return Err(Error::usage(
            problems.join("; "),
            "check --min-replicas, --max-replicas and --scale-down-window",
        ));
    }
    let initial = model
        .initial_replicas
        .unwrap_or(model.min_replicas)
        .clamp(model.min_replicas, model.max_replicas);
    let cluster = ClusterModel {
        startup: model.startup.as_secs(),
        capacity: model.capacity,
        per_replica: service.max_concurrent,
        initial,
    };
    Ok((settings, cluster, initial))
}

/// What the azureml-fe policy is predicted to do on this trace: ready replicas per second.
pub(crate) fn predicted_ready(
    trace: &Trace,
    service: &ServiceArgs,
    model: &ModelArgs,
) -> Result<Vec<f64>, Error> {
    let (settings, cluster, initial) = cluster(service, model)?;
    let mut policy = ModelPolicy(Policy::new(settings, Duration::ZERO, initial));
    let (samples, _) = sim::run(trace, &cluster, &mut policy, service.target());
    Ok(samples.iter().map(|s| f64::from(s.ready)).collect())
}

pub(crate) fn run(args: &SimulateArgs, out: &mut Printer) -> anyhow::Result<()> {
    let path = args.trace.display().to_string();
    let trace = read_trace(&args.trace)?;
    let target = args.service.target();
    let per_replica = args.service.max_concurrent;
    let (settings, model, initial) = cluster(&args.service, &args.model)?;
    let bounds = Bounds {
        min: args.model.min_replicas,
        max: args.model.max_replicas,
        target,
        per_replica,
    };
    let mut scalers: Vec<Box<dyn Scaler>> = vec![
        Box::new(ModelPolicy(Policy::new(settings, Duration::ZERO, initial))),
        Box::new(Hpa::new(bounds)),
        Box::new(Kpa::new(bounds)),
    ];
    let (mut runs, mut policies) = (Vec::new(), Vec::new());
    for scaler in scalers.iter_mut() {
        let (samples, summary) = sim::run(&trace, &model, scaler.as_mut(), target);
        runs.push(samples);
        policies.push(summary);
    }
    let timeline = (0..trace.duration() as usize)
        .map(|i| {
            let load = trace.at(i as u64);
            let mut replicas = serde_json::Map::new();
            for (key, samples) in KEYS.iter().zip(&runs) {
                replicas.insert(format!("{key}_desired"), samples[i].desired.into());
                replicas.insert(format!("{key}_ready"), samples[i].ready.into());
            }
            let needed = ceil(load.rps * load.request_seconds / target / f64::from(per_replica));
            Row {
                second: i as u64,
                rps: load.rps,
                needed,
                replicas,
            }
        })
        .collect();
    let report = SimulateReport {
        trace: path.clone(),
        seconds: trace.duration(),
        target_utilization: args.service.target_utilization,
        policies,
        timeline,
        runs,
    };
    if let Some(svg) = &args.svg {
        let title = format!(
            "{path}: replicas ready per policy, target {} %",
            args.service.target_utilization
        );
        chart::svg(svg, &title, &report.series())?;
        out.info(&format!("wrote the chart to {}", svg.display()));
    }
    out.report(&report)?;
    Ok(())
}
