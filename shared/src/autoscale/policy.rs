//! The model autoscaling policy the Azure docs describe for azureml-fe, open and deterministic:
//! fed one observation per tick (time included — no clock inside), it answers the desired replica
//! count and why.
//!
//! - Utilisation = (busy replicas + queued requests / requests per replica) / ready replicas.
//! - Up, eagerly, at the tick utilisation passes the target: to `ceil(demand / target)`, counting
//!   replicas already starting (a burst is not counted twice), at most `max_scale_up_rate` × ready.
//! - Down, conservatively: to the highest recommendation in force over the last `scale_down_window`
//!   (the one made at its start included: lower demand must be observed a whole window), where a
//!   recommendation keeps `tolerance` headroom (as the HPA's 10 %), so noise does not flap.
//! - Always within [min, max]; no additions while replicas cannot be scheduled (cluster full);
//!   a new policy starts from the current count and does not drop it for a whole window.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use super::replicas::ceil;

/// Tuning, with the docs' defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Target utilisation, (0, 1]: `autoscale_target_utilization` / 100 (default 0.7).
    pub target: f64,
    /// Fewest replicas (default 1).
    pub min: u32,
    /// Most replicas (default 10).
    pub max: u32,
    /// Concurrent requests one replica serves (`replica_max_concurrent_requests`, default 1).
    pub per_replica: u32,
    /// How often observations come (default 1 s, `autoscale_refresh_seconds`).
    pub tick: Duration,
    /// How long a higher recommendation holds a scale-down back (default 60 s).
    pub scale_down_window: Duration,
    /// A scale-up reaches at most this many times the ready replicas (default 10).
    pub max_scale_up_rate: f64,
    /// Headroom kept by scale-down recommendations (default 0.1).
    pub tolerance: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            target: 0.7,
            min: 1,
            max: 10,
            per_replica: 1,
            tick: Duration::from_secs(1),
            scale_down_window: Duration::from_secs(60),
            max_scale_up_rate: 10.0,
            tolerance: 0.1,
        }
    }
}

impl Settings {
    /// Every problem with the settings, one message each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.target > 0.0 && self.target <= 1.0) {
            problems.push(format!(
                "target utilisation must be within 1–100 %, not {:.0} %",
                self.target * 100.0
            ));
        }
        if self.min > self.max {
            problems.push(format!(
                "min replicas ({}) must not exceed max replicas ({})",
                self.min, self.max
            ));
        }
        if self.per_replica == 0 {
            problems.push("requests per replica must be at least 1".into());
        }
        if self.tick.is_zero() {
            problems.push("the tick must be longer than 0".into());
        }
        if self.max_scale_up_rate <= 1.0 {
            problems.push("the scale-up rate limit must be above 1".into());
        }
        if !(0.0..1.0).contains(&self.tolerance) {
            problems.push("the tolerance must be within [0, 1)".into());
        }
        problems
    }
}

/// One tick's view of the service.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observation {
    /// When, on the injected clock.
    pub at: Duration,
    /// Replicas busy with requests (replica units; may be fractional as an average).
    pub busy: f64,
    /// Requests waiting in the router.
    pub queued: f64,
    /// Replicas ready to serve.
    pub ready: u32,
    /// Replicas scheduled and starting.
    pub starting: u32,
    /// Replicas the cluster cannot schedule (pending for lack of room).
    pub unschedulable: u32,
}

impl Observation {
    /// Every replica asked for: ready, starting and unschedulable.
    pub fn current(&self) -> u32 {
        self.ready + self.starting + self.unschedulable
    }
}

/// Why the desired count is what it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Utilisation above target: more replicas.
    Up,
    /// More were needed than the rate limit allows in one step.
    UpRateLimited {
        /// Replicas needed at the target.
        needed: u32,
    },
    /// More were needed but replicas are unschedulable: the cluster is full.
    ClusterFull {
        /// Replicas needed at the target.
        needed: u32,
    },
    /// Lower demand has lasted a whole window: fewer replicas.
    Down,
    /// Demand is lower, but a higher recommendation within the window holds.
    Holding {
        /// The recommendation holding the count.
        window_max: u32,
    },
    /// Demand matches the replicas.
    Steady,
    /// Raised to the minimum.
    AtMin,
    /// Capped at the maximum.
    AtMax {
        /// Replicas needed at the target.
        needed: u32,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Up => write!(f, "utilisation above target: scaling up"),
            Self::UpRateLimited { needed } => {
                write!(f, "scaling up, limited by the rate limit ({needed} needed)")
            }
            Self::ClusterFull { needed } => {
                write!(
                    f,
                    "cluster full: replicas cannot be scheduled, not adding more ({needed} needed)"
                )
            }
            Self::Down => write!(f, "lower demand for a whole window: scaling down"),
            Self::Holding { window_max } => {
                write!(f, "below target, held at {window_max} by the window")
            }
            Self::Steady => write!(f, "steady"),
            Self::AtMin => write!(f, "at the minimum"),
            Self::AtMax { needed } => write!(f, "at the maximum ({needed} needed)"),
        }
    }
}

/// The answer to one observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Replicas the service should have.
    pub desired: u32,
    /// Why.
    pub reason: Reason,
    /// The utilisation observed (demand / ready; infinite with demand and no ready replica).
    pub utilisation: f64,
}

/// The policy's memory: recent recommendations, for the scale-down window.
#[derive(Debug, Clone)]
pub struct Policy {
    settings: Settings,
    recommendations: VecDeque<(Duration, u32)>,
}

impl Policy {
    /// A policy taking over a service that has `current` replicas at time `start`: it keeps them for
    /// at least one window (a restarted autoscaler never drops replicas on start).
    pub fn new(settings: Settings, start: Duration, current: u32) -> Self {
        Self {
            settings,
            recommendations: VecDeque::from([(start, current)]),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Decides from one observation.
    pub fn observe(&mut self, o: &Observation) -> Decision {
        let s = &self.settings;
        let demand = o.busy + o.queued / f64::from(s.per_replica);
        let utilisation = match (o.ready, demand > 0.0) {
            (0, true) => f64::INFINITY,
            (0, false) => 0.0,
            (ready, _) => demand / f64::from(ready),
        };
        let needed = u32::try_from(ceil(demand / s.target)).unwrap_or(u32::MAX);
        let headroom =
            u32::try_from(ceil(demand * (1.0 + s.tolerance) / s.target)).unwrap_or(u32::MAX);
        self.recommendations.push_back((o.at, headroom));
        let window = s.scale_down_window;
        // Keep the newest recommendation made at or before the window's start: it is the demand
        // in force when the window began, so a drop needs lower demand *observed* for a whole
        // window — a gap in observations (a stalled loop, skipped ticks) never counts as low.
        while self
            .recommendations
            .get(1)
            .is_some_and(|(at, _)| *at + window <= o.at)
        {
            self.recommendations.pop_front();
        }
        let window_max = self
            .recommendations
            .iter()
            .map(|(_, r)| *r)
            .max()
            .unwrap_or(0);
        let current = o.current();
        let (desired, reason) = if needed > current {
            let limit = u32::try_from(ceil(s.max_scale_up_rate * f64::from(o.ready.max(1))))
                .unwrap_or(u32::MAX);
            if o.unschedulable > 0 {
                (current, Reason::ClusterFull { needed })
            } else if needed > limit {
                (limit.max(current), Reason::UpRateLimited { needed })
            } else {
                (needed, Reason::Up)
            }
        } else if window_max < current {
            (window_max, Reason::Down)
        } else if needed < current {
            (current, Reason::Holding { window_max })
        } else {
            (current, Reason::Steady)
        };
        let (desired, reason) = if desired > s.max {
            (s.max, Reason::AtMax { needed })
        } else if desired < s.min {
            (s.min, Reason::AtMin)
        } else {
            (desired, reason)
        };
        Decision {
            desired,
            reason,
            utilisation,
        }
    }
}
