//! Leader election on a Lease, decided without I/O (clocks injected), as client-go's
//! leaderelection decides it:
//!
//! - a Lease held by another is taken over only once it has not changed for its whole duration,
//!   judged by when *we* saw it change (our clock, never a comparison of two machines' clocks);
//! - the leader renews every `renew_every`, and acts only while its last successful renewal is
//!   younger than `renew_deadline` (< the duration): a leader cut off from the API server stops
//!   before anyone else can have taken over — never two writers.

use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

/// The Lease fields the election reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Who holds it; `None` (or empty) when released.
    pub holder: Option<String>,
    /// How long a renewal holds.
    pub duration: Duration,
    /// When the holder took it.
    pub acquired: Option<Timestamp>,
    /// When the holder last renewed it.
    pub renewed: Option<Timestamp>,
    /// How many times it changed hands.
    pub transitions: i32,
}

/// Timing of the election (defaults: 15 s lease, renewed every 5 s, acted on for 10 s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// The Lease's duration.
    pub duration: Duration,
    /// How often the leader renews (and followers look).
    pub renew_every: Duration,
    /// How long after its last renewal a leader still acts.
    pub renew_deadline: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
            renew_deadline: Duration::from_secs(10),
        }
    }
}

/// What to do with the Lease, given what it says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// There is none: create it, held by us.
    Create(Record),
    /// Write this (a renewal, or a takeover of an expired or released Lease), only if the Lease
    /// is still the version read.
    Update(Record),
    /// Someone else holds it and it is alive: follow.
    Follow {
        /// The leader.
        holder: String,
    },
}

/// One participant's view of the election.
#[derive(Debug, Clone)]
pub struct Elector {
    identity: String,
    timing: Timing,
    /// The last record read and when we saw it change.
    observed: Option<(Record, Instant)>,
    /// When our last write as holder succeeded.
    renewed_at: Option<Instant>,
}

impl Elector {
    /// A participant named `identity`.
    pub fn new(identity: impl Into<String>, timing: Timing) -> Self {
        Self {
            identity: identity.into(),
            timing,
            observed: None,
            renewed_at: None,
        }
    }

    /// Our name.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The timing.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    fn mine(&self, wall: Timestamp, acquired: Option<Timestamp>, transitions: i32) -> Record {
        Record {
            holder: Some(self.identity.clone()),
            duration: self.timing.duration,
            acquired: acquired.or(Some(wall)),
            renewed: Some(wall),
            transitions,
        }
    }

    /// Decides from the Lease as read at `now` (`wall` is the time written into it).
    pub fn plan(&mut self, current: Option<&Record>, now: Instant, wall: Timestamp) -> Plan {
        let Some(current) = current else {
            return Plan::Create(self.mine(wall, None, 0));
        };
        if self
            .observed
            .as_ref()
            .is_none_or(|(seen, _)| seen != current)
        {
            self.observed = Some((current.clone(), now));
        }
        let holder = current.holder.as_deref().filter(|h| !h.is_empty());
        match holder {
            Some(me) if me == self.identity => {
                Plan::Update(self.mine(wall, current.acquired, current.transitions))
            }
            Some(other) => {
                let seen_at = self.observed.as_ref().map_or(now, |(_, at)| *at);
                if now.saturating_duration_since(seen_at) < current.duration {
                    self.renewed_at = None;
                    Plan::Follow {
                        holder: other.to_string(),
                    }
                } else {
                    Plan::Update(self.mine(wall, None, current.transitions + 1))
                }
            }
            None => Plan::Update(self.mine(wall, None, current.transitions + 1)),
        }
    }

    /// Our write (create, renewal or takeover) went through at `now`.
    pub fn written(&mut self, record: Record, now: Instant) {
        self.observed = Some((record, now));
        self.renewed_at = Some(now);
    }

    /// Our write failed (a conflict, an error): we lead only as long as the last renewal allows.
    pub fn write_failed(&mut self) {
        self.observed = None;
    }

    /// Whether we may act as leader at `now`.
    pub fn leading(&self, now: Instant) -> bool {
        self.renewed_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.timing.renew_deadline)
    }

    /// How long after `now` we stop leading, unless renewed.
    pub fn leading_for(&self, now: Instant) -> Duration {
        self.renewed_at.map_or(Duration::ZERO, |at| {
            self.timing
                .renew_deadline
                .saturating_sub(now.saturating_duration_since(at))
        })
    }
}

#[cfg(test)]
mod tests;
