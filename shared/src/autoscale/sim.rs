//! A small deterministic cluster for trying scaling policies on a load trace, one second a step:
//! concurrent demand by Little's law (rps × request time), replicas ready after a start-up delay,
//! replicas beyond the cluster's capacity left unschedulable, and the numbers that compare policies.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use super::{Observation, Policy};

/// Load at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Requests per second.
    pub rps: f64,
    /// Seconds each request takes.
    pub request_seconds: f64,
}

/// A load trace: each row holds from its second until the next row's.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    rows: Vec<(u64, Load)>,
    end: u64,
}

impl Trace {
    /// Parses CSV with the header `seconds,rps,request_seconds`; rows in increasing time order, each
    /// holding until the next; the last row's second is where the trace ends. `#` lines are comments.
    /// Errors name the line.
    pub fn parse_csv(text: &str) -> Result<Self, String> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        let (line, header) = lines
            .next()
            .map(|(i, h)| (i + 1, h.replace(' ', "")))
            .unwrap_or((1, String::new()));
        if header != "seconds,rps,request_seconds" {
            return Err(format!(
                "line {line}: the header must be `seconds,rps,request_seconds`, not `{header}`"
            ));
        }
        let mut rows: Vec<(u64, Load)> = Vec::new();
        for (index, line) in lines {
            let number = index + 1;
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [seconds, rps, request_seconds] = fields[..] else {
                return Err(format!(
                    "line {number}: expected 3 fields, found {}",
                    fields.len()
                ));
            };
            let seconds: u64 = seconds.parse().map_err(|_| {
                format!("line {number}: `{seconds}` is not a whole number of seconds")
            })?;
            let number_of = |text: &str, what: &str| -> Result<f64, String> {
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                    _ => Err(format!("line {number}: `{text}` is not a valid {what}")),
                }
            };
            let load = Load {
                rps: number_of(rps, "rps")?,
                request_seconds: number_of(request_seconds, "request time")?,
            };
            if load.request_seconds == 0.0 && load.rps > 0.0 {
                return Err(format!("line {number}: requests cannot take 0 seconds"));
            }
            if rows.last().is_some_and(|(last, _)| seconds <= *last) {
                return Err(format!(
                    "line {number}: seconds must increase ({seconds} follows {})",
                    rows.last().map(|r| r.0).unwrap_or(0)
                ));
            }
            rows.push((seconds, load));
        }
        let Some(&(last, _)) = rows.last() else {
            return Err("the trace has no rows".into());
        };
        // The last row marks the end: its second is the trace's last.
        Ok(Self {
            rows,
            end: last + 1,
        })
    }

    /// A trace from rows, for tests; the last row holds for `tail` seconds.
    pub fn from_rows(rows: Vec<(u64, Load)>, tail: u64) -> Self {
        let end = rows.last().map(|r| r.0 + tail).unwrap_or(0);
        Self { rows, end }
    }

    /// Seconds the trace covers.
    pub fn duration(&self) -> u64 {
        self.end
    }

    /// The load at a second (the last row at or before it).
    pub fn at(&self, second: u64) -> Load {
        let index = self.rows.partition_point(|(s, _)| *s <= second);
        self.rows[index.saturating_sub(1)].1
    }
}

/// The simulated cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterModel {
    /// Seconds from scheduling a replica to it serving (default 10).
    pub startup: u64,
    /// Most replicas the cluster can run; more stay unschedulable (default: no limit).
    pub capacity: Option<u32>,
    /// Concurrent requests one replica serves.
    pub per_replica: u32,
    /// Replicas at the start.
    pub initial: u32,
}

/// A policy under test: sees every second, changes the desired count when it decides to.
pub trait Scaler {
    /// Its name in reports.
    fn name(&self) -> &str;
    /// Called every second; `Some(n)` sets the desired replicas.
    fn tick(&mut self, observation: &Observation) -> Option<u32>;
}

/// azureml-fe's policy as a [`Scaler`].
pub struct ModelPolicy(pub Policy);

impl Scaler for ModelPolicy {
    fn name(&self) -> &str {
        "azureml-fe policy"
    }

    fn tick(&mut self, o: &Observation) -> Option<u32> {
        let tick = self.0.settings().tick.as_secs().max(1);
        o.at.as_secs()
            .is_multiple_of(tick)
            .then(|| self.0.observe(o).desired)
    }
}

/// One second of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// The second.
    pub second: u64,
    /// Offered load.
    pub rps: f64,
    /// Concurrent requests wanted (rps × request time).
    pub demand: f64,
    /// Replicas serving.
    pub ready: u32,
    /// Replicas starting.
    pub starting: u32,
    /// Replicas the cluster cannot schedule.
    pub unschedulable: u32,
    /// The policy's desired count after this second.
    pub desired: u32,
    /// Demand over serving capacity (demand / (ready × per replica); demand itself with none ready).
    pub utilisation: f64,
}

/// How a policy did over a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The policy.
    pub policy: String,
    /// Seconds with utilisation above the target.
    pub seconds_above_target: u64,
    /// Highest utilisation seen.
    pub peak_utilisation: f64,
    /// Requests that could not be served at once (they wait in the router past its limit).
    pub queued_beyond_wait: f64,
    /// Replica-seconds spent (ready and starting replicas).
    pub replica_seconds: u64,
    /// Times the desired count turned from rising to falling or back.
    pub direction_changes: u32,
    /// Most replicas desired.
    pub max_replicas: u32,
}

/// Runs one policy over a trace; `target` only decides what counts as above target.
pub fn run(
    trace: &Trace,
    model: &ClusterModel,
    scaler: &mut dyn Scaler,
    target: f64,
) -> (Vec<Sample>, Summary) {
    // Each scheduled replica with the second it becomes ready; unschedulable ones wait for room.
    let mut scheduled: VecDeque<u64> = (0..model.initial).map(|_| 0).collect();
    let mut unschedulable = 0u32;
    let per_replica = f64::from(model.per_replica.max(1));
    let mut samples = Vec::new();
    let mut summary = Summary {
        policy: scaler.name().to_string(),
        seconds_above_target: 0,
        peak_utilisation: 0.0,
        queued_beyond_wait: 0.0,
        replica_seconds: 0,
        direction_changes: 0,
        max_replicas: model.initial,
    };
    let (mut desired, mut last_direction) = (model.initial, 0i8);
    for second in 0..trace.duration() {
        // Room freed by scale-downs lets waiting replicas in.
        while unschedulable > 0 && model.capacity.is_none_or(|c| (scheduled.len() as u32) < c) {
            unschedulable -= 1;
            scheduled.push_back(second + model.startup);
        }
        let load = trace.at(second);
        let demand = load.rps * load.request_seconds;
        let ready = scheduled.iter().filter(|r| **r <= second).count() as u32;
        let starting = scheduled.len() as u32 - ready;
        let capacity = f64::from(ready) * per_replica;
        let serving = demand.min(capacity);
        let queued = demand - serving;
        let utilisation = if ready > 0 { demand / capacity } else { demand };
        if utilisation > target {
            summary.seconds_above_target += 1;
        }
        summary.peak_utilisation = summary.peak_utilisation.max(utilisation);
        if load.request_seconds > 0.0 {
            summary.queued_beyond_wait += queued / load.request_seconds;
        }
        summary.replica_seconds += u64::from(ready + starting);
        let observation = Observation {
            at: Duration::from_secs(second),
            busy: serving / per_replica,
            queued,
            ready,
            starting,
            unschedulable,
        };
        if let Some(next) = scaler.tick(&observation) {
            let direction = (next as i64 - desired as i64).signum() as i8;
            if direction != 0 {
                if last_direction != 0 && direction != last_direction {
                    summary.direction_changes += 1;
                }
                last_direction = direction;
            }
            desired = next;
            apply(&mut scheduled, &mut unschedulable, desired, second, model);
        }
        summary.max_replicas = summary.max_replicas.max(desired);
        samples.push(Sample {
            second,
            rps: load.rps,
            demand,
            ready,
            starting,
            unschedulable,
            desired,
            utilisation,
        });
    }
    (samples, summary)
}

/// Brings the replica set to `desired`: new ones start now (or wait for room); removal takes the
/// unschedulable first, then the newest.
fn apply(
    scheduled: &mut VecDeque<u64>,
    unschedulable: &mut u32,
    desired: u32,
    second: u64,
    model: &ClusterModel,
) {
    let total = scheduled.len() as u32 + *unschedulable;
    if desired > total {
        for _ in total..desired {
            if model.capacity.is_none_or(|c| (scheduled.len() as u32) < c) {
                scheduled.push_back(second + model.startup);
            } else {
                *unschedulable += 1;
            }
        }
    } else {
        let mut excess = total - desired;
        let dropped = excess.min(*unschedulable);
        *unschedulable -= dropped;
        excess -= dropped;
        for _ in 0..excess {
            scheduled.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_hold_each_row_until_the_next_and_end_at_the_last() {
        let trace =
            Trace::parse_csv("# a comment\nseconds,rps,request_seconds\n0,2,0.5\n10,4,1\n20,0,1\n")
                .unwrap();
        assert_eq!(trace.duration(), 21);
        assert_eq!(
            trace.at(9),
            Load {
                rps: 2.0,
                request_seconds: 0.5
            }
        );
        assert_eq!(
            trace.at(10),
            Load {
                rps: 4.0,
                request_seconds: 1.0
            }
        );
        assert_eq!(trace.at(20).rps, 0.0);
    }

    #[test]
    fn trace_errors_name_the_line() {
        let cases = [
            (
                "secs,rps\n0,1,1\n",
                "line 1: the header must be `seconds,rps,request_seconds`, not `secs,rps`",
            ),
            (
                "# a note\nsecs\n",
                "line 2: the header must be `seconds,rps,request_seconds`, not `secs`",
            ),
            (
                "seconds,rps,request_seconds\n0,1\n",
                "line 2: expected 3 fields, found 2",
            ),
            (
                "seconds,rps,request_seconds\n0,1,1\n0,2,1\n",
                "line 3: seconds must increase (0 follows 0)",
            ),
            (
                "seconds,rps,request_seconds\n0,-1,1\n",
                "line 2: `-1` is not a valid rps",
            ),
            (
                "seconds,rps,request_seconds\n0,1,0\n",
                "line 2: requests cannot take 0 seconds",
            ),
            (
                "seconds,rps,request_seconds\nx,1,1\n",
                "line 2: `x` is not a whole number of seconds",
            ),
            ("seconds,rps,request_seconds\n", "the trace has no rows"),
        ];
        for (text, error) in cases {
            assert_eq!(Trace::parse_csv(text).unwrap_err(), error);
        }
    }
}
