//! Two well-known autoscalers, modelled just enough to compare with azureml-fe's policy on the
//! same trace (defaults from `../shared/facts/performance-anchors.md` §1):
//!
//! - HPA-like: every 15 s, `ceil(ready × utilisation / target)` unless within the 10 % tolerance;
//!   the metric is CPU-style — the busy share of ready replicas, which cannot exceed 100 % and does
//!   not see requests queued in the router; up at most max(4 pods, 100 %) per sync; down to the
//!   highest recommendation of the last 300 s.
//! - KPA-like (Knative): every 2 s, concurrency (busy + queued) averaged over a 60 s stable window
//!   and a 6 s panic window; panic when the panic window wants twice the ready replicas, and then
//!   never scale down until a stable window passes without panic; up at most 1000 × ready, down at
//!   most to half.

use aml_core::autoscale::Observation;
use aml_core::autoscale::ceil;
use aml_core::autoscale::sim::Scaler;
use std::collections::VecDeque;

/// The limits every baseline respects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub min: u32,
    pub max: u32,
    pub target: f64,
    pub per_replica: u32,
}

impl Bounds {
    fn clamp(&self, replicas: u64) -> u32 {
        u32::try_from(replicas)
            .unwrap_or(u32::MAX)
            .clamp(self.min, self.max)
    }
}

/// The HPA-like baseline.
pub(crate) struct Hpa {
    bounds: Bounds,
    busy_share: VecDeque<f64>,
    recommendations: VecDeque<(u64, u32)>,
}

impl Hpa {
    const SYNC: u64 = 15;
    const TOLERANCE: f64 = 0.1;
    const STABILIZATION: u64 = 300;

    pub(crate) fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            busy_share: VecDeque::new(),
            recommendations: VecDeque::new(),
        }
    }
}

impl Scaler for Hpa {
    fn name(&self) -> &str {
        "HPA-like"
    }

    fn tick(&mut self, o: &Observation) -> Option<u32> {
        // A CPU-style signal: how busy the ready replicas are, averaged like a metrics window.
        let share = if o.ready > 0 {
            (o.busy / f64::from(o.ready)).min(1.0)
        } else {
            0.0
        };
        self.busy_share.push_back(share);
        if self.busy_share.len() > Self::SYNC as usize {
            self.busy_share.pop_front();
        }
        let now = o.at.as_secs();
        if !now.is_multiple_of(Self::SYNC) {
            return None;
        }
        let current = o.ready + o.starting + o.unschedulable;
        let utilisation = self.busy_share.iter().sum::<f64>() / self.busy_share.len() as f64;
        let ratio = utilisation / self.bounds.target;
        let mut recommendation = if (ratio - 1.0).abs() <= Self::TOLERANCE || o.ready == 0 {
            current
        } else {
            self.bounds.clamp(ceil(f64::from(o.ready) * ratio))
        };
        if recommendation > current {
            let limit = (current + 4).max(current * 2);
            recommendation = recommendation.min(limit);
        }
        self.recommendations.push_back((now, recommendation));
        while self
            .recommendations
            .front()
            .is_some_and(|(t, _)| now - t >= Self::STABILIZATION)
        {
            self.recommendations.pop_front();
        }
        // Scale-down stabilisation: the highest recommendation of the window wins.
        let held = self
            .recommendations
            .iter()
            .map(|(_, r)| *r)
            .max()
            .unwrap_or(recommendation);
        Some(if recommendation >= current {
            recommendation
        } else {
            held.min(current)
        })
    }
}

/// The KPA-like baseline.
pub(crate) struct Kpa {
    bounds: Bounds,
    concurrency: VecDeque<f64>,
    panic_since: Option<u64>,
    panic_desired: u32,
}

impl Kpa {
    const TICK: u64 = 2;
    const STABLE: usize = 60;
    const PANIC: usize = 6;
    const PANIC_THRESHOLD: f64 = 2.0;
    const MAX_UP_RATE: f64 = 1000.0;
    const MAX_DOWN_RATE: f64 = 2.0;

    pub(crate) fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            concurrency: VecDeque::new(),
            panic_since: None,
            panic_desired: 0,
        }
    }

    fn average(&self, seconds: usize) -> f64 {
        let recent: Vec<f64> = self
            .concurrency
            .iter()
            .rev()
            .take(seconds)
            .copied()
            .collect();
        recent.iter().sum::<f64>() / recent.len().max(1) as f64
    }
}

impl Scaler for Kpa {
    fn name(&self) -> &str {
        "KPA-like"
    }

    fn tick(&mut self, o: &Observation) -> Option<u32> {
        // Knative counts requests in flight plus those waiting in its queue-proxy/activator.
        self.concurrency
            .push_back(o.busy * f64::from(self.bounds.per_replica) + o.queued);
        if self.concurrency.len() > Self::STABLE {
            self.concurrency.pop_front();
        }
        let now = o.at.as_secs();
        if !now.is_multiple_of(Self::TICK) {
            return None;
        }
        let per_pod = f64::from(self.bounds.per_replica) * self.bounds.target;
        let ready = f64::from(o.ready.max(1));
        let max_up = ceil(Self::MAX_UP_RATE * ready) as f64;
        let max_down = (ready / Self::MAX_DOWN_RATE).floor();
        let stable =
            (ceil(self.average(Self::STABLE) / per_pod) as f64).clamp(max_down, max_up) as u64;
        let panic =
            (ceil(self.average(Self::PANIC) / per_pod) as f64).clamp(max_down, max_up) as u64;
        if panic as f64 / ready >= Self::PANIC_THRESHOLD {
            self.panic_since = Some(now);
        } else if self
            .panic_since
            .is_some_and(|since| now - since >= Self::STABLE as u64)
        {
            self.panic_since = None;
            self.panic_desired = 0;
        }
        let desired = if self.panic_since.is_some() {
            // In panic the count only grows.
            self.panic_desired = self.panic_desired.max(self.bounds.clamp(stable.max(panic)));
            self.panic_desired
        } else {
            self.bounds.clamp(stable)
        };
        Some(desired)
    }
}
