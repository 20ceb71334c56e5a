//! `kubectl aml scale simulate`: one load trace through azureml-fe's policy and the HPA-like and
//! KPA-like baselines, on the same simulated cluster. The runs are streamed: a per-second timeline
//! is kept only for the outputs that print one (json, yaml, csv); the chart keeps its peaks.

use std::fmt::Write as _;
use std::time::Duration;

use aml_core::Error;
use aml_core::autoscale::sim::{self, ClusterModel, ModelPolicy, Scaler, Summary, Trace};
use aml_core::autoscale::{Policy, Settings, ceil};
use aml_core::cli::{OutputFormat, Printer, Report, Table};
use serde::Serialize;

use crate::baselines::{Bounds, Hpa, Kpa};
use crate::chart::{self, Peaks, SVG_POINTS, Series};
use crate::cli::{ModelArgs, ServiceArgs, SimulateArgs};

/// The policies, with the keys their timeline columns use.
const KEYS: [&str; 3] = ["azureml_fe", "hpa", "kpa"];
/// The chart's series: the load, then the policies in [`KEYS`] order.
const SERIES: [&str; 4] = [
    "load (replicas needed)",
    "azureml-fe policy",
    "HPA-like",
    "KPA-like",
];
/// Columns of the terminal chart.
const ASCII_WIDTH: usize = 72;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    second: u64,
    rps: f64,
    /// Replicas needed at the target utilisation for this second's load.
    needed: u64,
    #[serde(rename = "azureml_fe_desired")]
    azureml_fe_desired: u32,
    #[serde(rename = "azureml_fe_ready")]
    azureml_fe_ready: u32,
    #[serde(rename = "hpa_desired")]
    hpa_desired: u32,
    #[serde(rename = "hpa_ready")]
    hpa_ready: u32,
    #[serde(rename = "kpa_desired")]
    kpa_desired: u32,
    #[serde(rename = "kpa_ready")]
    kpa_ready: u32,
}

impl Row {
    /// (desired, ready) of the policy at `index` in [`KEYS`].
    fn policy(&mut self, index: usize) -> (&mut u32, &mut u32) {
        match index {
            0 => (&mut self.azureml_fe_desired, &mut self.azureml_fe_ready),
            1 => (&mut self.hpa_desired, &mut self.hpa_ready),
            _ => (&mut self.kpa_desired, &mut self.kpa_ready),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SimulateReport {
    trace: String,
    seconds: u64,
    target_utilization: u8,
    policies: Vec<Summary>,
    /// Empty unless the output prints it.
    timeline: Vec<Row>,
    /// The terminal chart's peaks, per series.
    #[serde(skip)]
    chart: Vec<Peaks>,
}

/// The series' peaks at the resolution of `most` slices.
fn series(peaks: &[Peaks]) -> Vec<Series<'static>> {
    SERIES
        .iter()
        .zip(peaks)
        .map(|(name, p)| p.series(name))
        .collect()
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
        vec![chart::ascii(&series(&self.chart), ASCII_WIDTH), summary]
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
        for r in &self.timeline {
            let _ = writeln!(
                text,
                "{},{},{},{},{},{},{},{},{}",
                r.second,
                r.rps,
                r.needed,
                r.azureml_fe_desired,
                r.azureml_fe_ready,
                r.hpa_desired,
                r.hpa_ready,
                r.kpa_desired,
                r.kpa_ready
            );
        }
        Some(text)
    }
}

/// Reads and parses a trace file, with the usage errors both simulate and replay give.
pub(crate) fn read_trace(file: &std::path::Path) -> Result<Trace, Error> {
    let path = file.display().to_string();
    let bytes = aml_core::files::read_bounded(file, sim::MAX_TRACE_BYTES).map_err(|e| {
        Error::usage(
            e.describe("the trace"),
            "give a CSV file, e.g. one of scripts/traces/",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::usage(
            format!("the trace `{path}` is not UTF-8 text"),
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
    let longest = Duration::from_secs(sim::MAX_TRACE_SECONDS);
    if model.startup > longest || model.scale_down_window > longest {
        return Err(Error::usage(
            "--startup and --scale-down-window must be at most 7 days (the longest trace)",
            "use e.g. --startup 10s --scale-down-window 60s",
        ));
    }
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
    let mut ready = Vec::new();
    sim::run(trace, &cluster, &mut policy, service.target(), &mut |s| {
        ready.push(f64::from(s.ready));
    });
    Ok(ready)
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
    let seconds = trace.duration();
    let needed = |second: u64| {
        let load = trace.at(second);
        ceil(load.rps * load.request_seconds / target / f64::from(per_replica))
    };
    let peaks = |most: usize| -> Vec<Peaks> {
        let mut peaks: Vec<Peaks> = SERIES.iter().map(|_| Peaks::new(seconds, most)).collect();
        for second in 0..seconds {
            peaks[0].push(second, needed(second) as f64);
        }
        peaks
    };
    let mut chart = peaks(ASCII_WIDTH);
    let mut svg_peaks = args.svg.as_ref().map(|_| peaks(SVG_POINTS));
    // Only these outputs print every second.
    let mut timeline: Vec<Row> = match out.format {
        OutputFormat::Json | OutputFormat::Yaml | OutputFormat::Csv => (0..seconds)
            .map(|second| Row {
                second,
                rps: trace.at(second).rps,
                needed: needed(second),
                azureml_fe_desired: 0,
                azureml_fe_ready: 0,
                hpa_desired: 0,
                hpa_ready: 0,
                kpa_desired: 0,
                kpa_ready: 0,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut policies = Vec::new();
    for (index, scaler) in scalers.iter_mut().enumerate() {
        let summary = sim::run(&trace, &model, scaler.as_mut(), target, &mut |s| {
            chart[index + 1].push(s.second, f64::from(s.ready));
            if let Some(svg) = &mut svg_peaks {
                svg[index + 1].push(s.second, f64::from(s.ready));
            }
            if let Some(row) = timeline.get_mut(s.second as usize) {
                let (desired, ready) = row.policy(index);
                (*desired, *ready) = (s.desired, s.ready);
            }
        });
        policies.push(summary);
    }
    let report = SimulateReport {
        trace: path.clone(),
        seconds,
        target_utilization: args.service.target_utilization,
        policies,
        timeline,
        chart,
    };
    if let Some(svg) = &args.svg {
        let title = format!(
            "{path}: replicas ready per policy, target {} %",
            args.service.target_utilization
        );
        let peaks = svg_peaks.as_deref().unwrap_or_default();
        chart::svg(svg, &title, &series(peaks))?;
        out.info(&format!("wrote the chart to {}", svg.display()));
    }
    out.report(&report)?;
    Ok(())
}
