//! The router's own scaling, as the docs describe azureml-fe's: when routing gets slow, first more
//! CPU per pod (vertical; pods restart), then more pods; when CPU is idle, first less CPU, then
//! fewer pods; growth only when the cluster has room; never on DevTest clusters.

use std::fmt;
use std::time::Duration;

/// What the cluster is for (the compute's `clusterPurpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterPurpose {
    /// Dev-test: no self-scaling.
    DevTest,
    /// Production.
    FastProd,
    /// Dense production.
    DenseProd,
}

/// Tuning.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterSettings {
    /// The cluster's purpose.
    pub purpose: ClusterPurpose,
    /// Routing time (a high quantile) above which the router grows (default 15 ms, the docs' p99).
    pub routing_threshold: Duration,
    /// vCPU sizes a router pod can have, smallest first (default 1, 2, 4).
    pub cpu_steps: Vec<f64>,
    /// Fewest router pods (default 1).
    pub min_pods: u32,
    /// Most router pods (default 10).
    pub max_pods: u32,
    /// CPU utilisation below which the router shrinks (default 0.3).
    pub cpu_low: f64,
    /// Time after a change before the next one, so its effect shows (default 60 s).
    pub cooldown: Duration,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            purpose: ClusterPurpose::FastProd,
            routing_threshold: Duration::from_millis(15),
            cpu_steps: vec![1.0, 2.0, 4.0],
            min_pods: 1,
            max_pods: 10,
            cpu_low: 0.3,
            cooldown: Duration::from_secs(60),
        }
    }
}

/// One tick's view of the router.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouterObservation {
    /// When, on the injected clock.
    pub at: Duration,
    /// Routing time at the high quantile the threshold is about.
    pub routing_time: Duration,
    /// CPU utilisation of the router pods, 0–1.
    pub cpu_utilisation: f64,
    /// Router pods.
    pub pods: u32,
    /// vCPU per router pod.
    pub cpu_per_pod: f64,
    /// Whether the cluster can take a bigger or an extra pod.
    pub cluster_has_room: bool,
}

/// What the router should do.
#[derive(Debug, Clone, PartialEq)]
pub enum RouterAction {
    /// Nothing, and why.
    Hold(&'static str),
    /// More CPU per pod (pods restart).
    ScaleUp {
        /// New vCPU per pod.
        cpu: f64,
    },
    /// More pods.
    ScaleOut {
        /// New pod count.
        pods: u32,
    },
    /// Less CPU per pod (pods restart).
    ScaleDown {
        /// New vCPU per pod.
        cpu: f64,
    },
    /// Fewer pods.
    ScaleIn {
        /// New pod count.
        pods: u32,
    },
}

impl fmt::Display for RouterAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hold(why) => write!(f, "hold: {why}"),
            Self::ScaleUp { cpu } => write!(f, "scale up to {cpu} vCPU per pod"),
            Self::ScaleOut { pods } => write!(f, "scale out to {pods} pods"),
            Self::ScaleDown { cpu } => write!(f, "scale down to {cpu} vCPU per pod"),
            Self::ScaleIn { pods } => write!(f, "scale in to {pods} pods"),
        }
    }
}

/// The router's self-scaling state: when it last changed.
#[derive(Debug, Clone)]
pub struct RouterPolicy {
    settings: RouterSettings,
    last_change: Option<Duration>,
}

impl RouterPolicy {
    /// A policy with no change made yet.
    pub fn new(settings: RouterSettings) -> Self {
        Self {
            settings,
            last_change: None,
        }
    }

    /// Decides from one observation.
    pub fn observe(&mut self, o: &RouterObservation) -> RouterAction {
        let s = &self.settings;
        if s.purpose == ClusterPurpose::DevTest {
            return RouterAction::Hold("self-scaling is off for DevTest clusters");
        }
        if self
            .last_change
            .is_some_and(|at| o.at.saturating_sub(at) < s.cooldown)
        {
            return RouterAction::Hold("waiting for the last change to show its effect");
        }
        let bigger = s
            .cpu_steps
            .iter()
            .copied()
            .find(|c| *c > o.cpu_per_pod + 1e-9);
        let smaller = s
            .cpu_steps
            .iter()
            .copied()
            .rev()
            .find(|c| *c < o.cpu_per_pod - 1e-9);
        let action = if o.routing_time > s.routing_threshold {
            match (o.cluster_has_room, bigger) {
                (false, _) => RouterAction::Hold("routing is slow but the cluster has no room"),
                (true, Some(cpu)) => RouterAction::ScaleUp { cpu },
                (true, None) if o.pods < s.max_pods => RouterAction::ScaleOut { pods: o.pods + 1 },
                (true, None) => {
                    RouterAction::Hold("routing is slow and the router is at its largest")
                }
            }
        } else if o.cpu_utilisation < s.cpu_low {
            match smaller {
                Some(cpu) => RouterAction::ScaleDown { cpu },
                None if o.pods > s.min_pods => RouterAction::ScaleIn { pods: o.pods - 1 },
                None => RouterAction::Hold("idle, and the router is at its smallest"),
            }
        } else {
            RouterAction::Hold("routing time and CPU within thresholds")
        };
        if !matches!(action, RouterAction::Hold(_)) {
            self.last_change = Some(o.at);
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(
        seconds: u64,
        routing_ms: u64,
        cpu: f64,
        pods: u32,
        cpu_per_pod: f64,
        room: bool,
    ) -> RouterObservation {
        RouterObservation {
            at: Duration::from_secs(seconds),
            routing_time: Duration::from_millis(routing_ms),
            cpu_utilisation: cpu,
            pods,
            cpu_per_pod,
            cluster_has_room: room,
        }
    }

    #[test]
    fn slow_routing_grows_up_first_then_out() {
        let mut p = RouterPolicy::new(RouterSettings::default());
        assert_eq!(
            p.observe(&at(0, 40, 0.9, 3, 2.0, true)),
            RouterAction::ScaleUp { cpu: 4.0 }
        );
        assert!(
            matches!(
                p.observe(&at(30, 40, 0.9, 3, 4.0, true)),
                RouterAction::Hold(_)
            ),
            "cooldown"
        );
        assert_eq!(
            p.observe(&at(60, 40, 0.9, 3, 4.0, true)),
            RouterAction::ScaleOut { pods: 4 }
        );
        assert_eq!(
            p.observe(&at(120, 40, 0.9, 3, 4.0, false)),
            RouterAction::Hold("routing is slow but the cluster has no room")
        );
    }

    #[test]
    fn idle_cpu_shrinks_down_first_then_in() {
        let mut p = RouterPolicy::new(RouterSettings {
            cooldown: Duration::ZERO,
            ..RouterSettings::default()
        });
        assert_eq!(
            p.observe(&at(0, 2, 0.1, 3, 2.0, true)),
            RouterAction::ScaleDown { cpu: 1.0 }
        );
        assert_eq!(
            p.observe(&at(1, 2, 0.1, 3, 1.0, true)),
            RouterAction::ScaleIn { pods: 2 }
        );
        assert_eq!(
            p.observe(&at(2, 2, 0.1, 1, 1.0, true)),
            RouterAction::Hold("idle, and the router is at its smallest")
        );
        assert_eq!(
            p.observe(&at(3, 5, 0.5, 1, 1.0, true)),
            RouterAction::Hold("routing time and CPU within thresholds")
        );
    }

    #[test]
    fn dev_test_clusters_never_self_scale() {
        let mut p = RouterPolicy::new(RouterSettings {
            purpose: ClusterPurpose::DevTest,
            ..RouterSettings::default()
        });
        for o in [at(0, 400, 1.0, 1, 1.0, true), at(100, 1, 0.0, 5, 4.0, true)] {
            assert_eq!(
                p.observe(&o),
                RouterAction::Hold("self-scaling is off for DevTest clusters")
            );
        }
    }
}
