//! `kubectl aml scale plan`: the docs' replica formula, and its inverse.

use aml_core::Error;
use aml_core::autoscale::{replicas_for, sim, sustained_rps};
use aml_core::cli::{Printer, Report, Table};
use serde::Serialize;

use crate::cli::PlanArgs;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanReport {
    /// What was computed: `replicas` from a load, or `rps` from replicas.
    solved_for: &'static str,
    rps: f64,
    request_seconds: f64,
    max_concurrent: u32,
    target_utilization: u8,
    concurrent_requests: f64,
    replicas: u64,
}

impl Report for PlanReport {
    fn tables(&self, _wide: bool) -> Vec<Table> {
        let mut t = Table::new([
            "RPS",
            "REQUEST TIME",
            "CONCURRENT",
            "MAX CONCURRENT",
            "TARGET",
            "REPLICAS",
        ]);
        t.row([
            format_number(self.rps),
            format!("{}s", format_number(self.request_seconds)),
            format_number(self.concurrent_requests),
            self.max_concurrent.to_string(),
            format!("{}%", self.target_utilization),
            self.replicas.to_string(),
        ]);
        vec![t]
    }

    fn names(&self) -> Vec<String> {
        vec![match self.solved_for {
            "rps" => format_number(self.rps),
            _ => self.replicas.to_string(),
        }]
    }
}

/// Up to three decimals, trailing zeros dropped: `20`, `20.02`, `0.25`.
fn format_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(crate) fn run(args: &PlanArgs, out: &mut Printer) -> anyhow::Result<()> {
    let request_seconds = args.request_time.as_secs_f64();
    if request_seconds <= 0.0 || request_seconds > sim::MAX_REQUEST_SECONDS {
        return Err(Error::usage(
            format!(
                "--request-time must be longer than 0 and at most {} s",
                sim::MAX_REQUEST_SECONDS
            ),
            "use a duration like 250ms or 10s",
        )
        .into());
    }
    let (target, per_replica) = (args.service.target(), args.service.max_concurrent);
    let (solved_for, rps, replicas) = match (args.rps, args.replicas) {
        (Some(rps), _) if !(rps.is_finite() && (0.0..=sim::MAX_RPS).contains(&rps)) => {
            return Err(Error::usage(
                format!(
                    "--rps must be 0 to {} requests per second, not `{}`",
                    sim::MAX_RPS,
                    if rps.abs() < 1e15 {
                        format!("{rps}")
                    } else {
                        format!("{rps:e}")
                    }
                ),
                "use e.g. --rps 20",
            )
            .into());
        }
        (Some(rps), _) => (
            "replicas",
            rps,
            replicas_for(rps, request_seconds, target, per_replica),
        ),
        (None, Some(replicas)) => (
            "rps",
            sustained_rps(replicas, request_seconds, target, per_replica),
            replicas,
        ),
        (None, None) => unreachable!("clap requires --rps or --replicas"),
    };
    let report = PlanReport {
        solved_for,
        rps,
        request_seconds,
        max_concurrent: per_replica,
        target_utilization: args.service.target_utilization,
        concurrent_requests: rps * request_seconds,
        replicas,
    };
    out.report(&report)?;
    Ok(())
}
