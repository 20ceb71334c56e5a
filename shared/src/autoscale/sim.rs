//! A small deterministic cluster for trying scaling policies on a load trace, one second a step:
//! concurrent demand by Little's law (rps × request time), replicas ready after a start-up delay,
//! replicas beyond the cluster's capacity left unschedulable, and the numbers that compare policies.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use super::{Observation, Policy};

/// The longest trace: 7 days (a week of diurnal load), one simulated step a second.
pub const MAX_TRACE_SECONDS: u64 = 7 * 24 * 3600;
/// The most replicas `scale plan --replicas` and the simulated cluster take (`--max-replicas`,
/// `--capacity`, …): far past one Deployment's practical size, small enough to stay instant.
pub const MAX_REPLICAS: u32 = 10_000;
/// The largest trace file read: 16 MiB, some 700 000 rows.
pub const MAX_TRACE_BYTES: u64 = 16 * 1024 * 1024;
/// The highest request rate a trace row may give.
pub const MAX_RPS: f64 = 1_000_000.0;
/// The longest request time a trace row may give (an hour, past any router timeout).
pub const MAX_REQUEST_SECONDS: f64 = 3600.0;

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
    /// Parses CSV with the header `seconds,rps,request_seconds` (or none); rows in increasing time order, each
    /// holding until the next; the last row's second is where the trace ends. `#` lines are comments.
    /// Errors name the line.
    pub fn parse_csv(text: &str) -> Result<Self, String> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .peekable();
        // The header is optional: a first line that starts with a number is already a row.
        let first = lines.peek().map(|(i, h)| (i + 1, h.replace(' ', "")));
        match first {
            Some((_, row)) if row.starts_with(|c: char| c.is_ascii_digit()) => {}
            Some((_, header)) if header == "seconds,rps,request_seconds" => {
                lines.next();
            }
            Some((line, header)) => {
                return Err(format!(
                    "line {line}: the header must be `seconds,rps,request_seconds` (or none), not `{header}`"
                ));
            }
            None => {}
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
            if seconds >= MAX_TRACE_SECONDS {
                return Err(format!(
                    "line {number}: second {seconds} is past the longest trace ({MAX_TRACE_SECONDS} s, 7 days)"
                ));
            }
            let number_of = |text: &str, what: &str, most: f64| -> Result<f64, String> {
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 && v <= most => Ok(v),
                    Ok(v) if v.is_finite() && v > most => Err(format!(
                        "line {number}: {what} `{text}` is over the limit ({most})"
                    )),
                    _ => Err(format!("line {number}: `{text}` is not a valid {what}")),
                }
            };
            let load = Load {
                rps: number_of(rps, "rps", MAX_RPS)?,
                request_seconds: number_of(request_seconds, "request time", MAX_REQUEST_SECONDS)?,
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

/// The simulated replica set: ready replicas and, oldest first, groups of starting ones with the
/// second they become ready — memory bounded by the start-up delay, not by the replica count.
#[derive(Debug, Default)]
struct ReplicaSet {
    ready: u32,
    starting: VecDeque<(u64, u32)>,
    unschedulable: u32,
}

impl ReplicaSet {
    fn scheduled(&self) -> u32 {
        self.ready + self.starting.iter().map(|g| g.1).sum::<u32>()
    }

    fn room(&self, model: &ClusterModel) -> u32 {
        model
            .capacity
            .map_or(u32::MAX, |c| c.saturating_sub(self.scheduled()))
    }

    /// Schedules `n` new replicas at `second` (as many as there is room for).
    fn start(&mut self, n: u32, second: u64, model: &ClusterModel) {
        let placed = n.min(self.room(model));
        self.unschedulable += n - placed;
        if placed == 0 {
            return;
        }
        let ready_at = second + model.startup;
        match self.starting.back_mut() {
            Some((at, count)) if *at == ready_at => *count += placed,
            _ => self.starting.push_back((ready_at, placed)),
        }
    }

    /// Replicas whose start-up ended by `second` become ready; waiting ones take freed room.
    fn advance(&mut self, second: u64, model: &ClusterModel) {
        let waiting = std::mem::take(&mut self.unschedulable);
        self.start(waiting, second, model);
        while let Some(&(at, count)) = self.starting.front()
            && at <= second
        {
            self.ready += count;
            self.starting.pop_front();
        }
    }

    /// Removes `n` replicas: the unschedulable first, then the newest.
    fn remove(&mut self, mut n: u32) {
        let dropped = n.min(self.unschedulable);
        self.unschedulable -= dropped;
        n -= dropped;
        while n > 0 {
            match self.starting.back_mut() {
                Some((_, count)) if *count > n => {
                    *count -= n;
                    n = 0;
                }
                Some((_, count)) => {
                    n -= *count;
                    self.starting.pop_back();
                }
                None => {
                    self.ready -= n.min(self.ready);
                    n = 0;
                }
            }
        }
    }

    /// Brings the set to `desired`.
    fn scale_to(&mut self, desired: u32, second: u64, model: &ClusterModel) {
        let total = self.scheduled() + self.unschedulable;
        if desired > total {
            self.start(desired - total, second, model);
        } else {
            self.remove(total - desired);
        }
    }
}

/// Runs one policy over a trace, handing each second's sample to `each` (nothing is kept: the
/// caller keeps what it prints); `target` only decides what counts as above target.
pub fn run(
    trace: &Trace,
    model: &ClusterModel,
    scaler: &mut dyn Scaler,
    target: f64,
    each: &mut dyn FnMut(&Sample),
) -> Summary {
    // The initial replicas are running already (whatever the capacity says).
    let mut replicas = ReplicaSet {
        ready: model.initial,
        ..ReplicaSet::default()
    };
    let per_replica = f64::from(model.per_replica.max(1));
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
        replicas.advance(second, model);
        let load = trace.at(second);
        let demand = load.rps * load.request_seconds;
        let ready = replicas.ready;
        let starting = replicas.scheduled() - ready;
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
            unschedulable: replicas.unschedulable,
        };
        if let Some(next) = scaler.tick(&observation) {
            let direction = (i64::from(next) - i64::from(desired)).signum() as i8;
            if direction != 0 {
                if last_direction != 0 && direction != last_direction {
                    summary.direction_changes += 1;
                }
                last_direction = direction;
            }
            desired = next;
            replicas.scale_to(desired, second, model);
        }
        summary.max_replicas = summary.max_replicas.max(desired);
        each(&Sample {
            second,
            rps: load.rps,
            demand,
            ready,
            starting,
            unschedulable: replicas.unschedulable,
            desired,
            utilisation,
        });
    }
    summary
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
    fn a_trace_without_its_header_is_the_same_trace() {
        let rows = "0,2,0.5\n10,4,1\n20,0,1\n";
        let with = Trace::parse_csv(&format!("seconds,rps,request_seconds\n{rows}")).unwrap();
        let without = Trace::parse_csv(&format!("# no header\n{rows}")).unwrap();
        assert_eq!(with.rows, without.rows);
        assert_eq!(with.duration(), without.duration());
    }

    #[test]
    fn trace_errors_name_the_line() {
        let cases = [
            (
                "secs,rps\n0,1,1\n",
                "line 1: the header must be `seconds,rps,request_seconds` (or none), not `secs,rps`",
            ),
            (
                "# a note\nsecs\n",
                "line 2: the header must be `seconds,rps,request_seconds` (or none), not `secs`",
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
