//! The autoscaler's decisions for every model Deployment, one tick at a time and without I/O: it
//! is fed what discovery sees, the load summed over the router pods and the clock, and answers the
//! scale writes, Events and log lines to make; the I/O layer reports each write's outcome back.
//!
//! Rules beside the policy's own (`autoscale::Policy`):
//! - our own write not yet seen in the watch is waited for, not taken for someone else's;
//! - a replica count changed by someone else is adopted (the policy restarts from it, so it holds
//!   for a window unless the load asks for more), or brought back at once if outside min/max;
//! - never a scale-down on a tick missing some router pod's counts;
//! - not touched at all: `autoscale: false`, a HorizontalPodAutoscaler on it, bad annotations;
//! - a refused or failed write backs off (1 s, doubling to 5 min): no retry storm.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use jiff::Timestamp;

use super::annotations;
pub use super::model::{Action, Demand, Key, LastChange, Outcome, ServiceStatus, Tick};
use crate::autoscale::{Observation, Policy, Reason, Settings};
use crate::router::contract::PodState;

struct Tracked {
    settings: Settings,
    policy: Policy,
    /// The count we expect `spec.replicas` to say: ours, or the last one adopted.
    expected: u32,
    /// The version our write was conditioned on, until the watch shows a newer one.
    pending: Option<Option<String>>,
    next_eval: Duration,
    backoff_until: Duration,
    failures: u32,
    cluster_full: bool,
    minute: VecDeque<(Duration, f64)>,
}

/// How often the I/O loop calls [`Scaler::tick`].
pub const LOOP_PERIOD: Duration = Duration::from_secs(1);

/// The decisions' memory across ticks.
#[derive(Default)]
pub struct Scaler {
    window: Duration,
    tracked: HashMap<Key, Tracked>,
    /// Event texts posted, so each is posted once.
    reported: HashSet<String>,
    status: BTreeMap<Key, ServiceStatus>,
}

impl Scaler {
    /// A scaler whose scale-downs wait for `window` of lower demand.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            ..Self::default()
        }
    }

    /// Forgets every policy (leadership was lost or newly won: start over from the counts as they are).
    pub fn reset(&mut self) {
        self.tracked.clear();
    }

    /// Every Deployment's status at the last tick.
    pub fn status(&self) -> Vec<ServiceStatus> {
        self.status.values().cloned().collect()
    }

    /// Decides for every model Deployment.
    pub fn tick(&mut self, tick: &Tick<'_>) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut seen = HashSet::new();
        for deployment in &tick.view.deployments {
            let key: Key = (deployment.key.namespace.clone(), deployment.name.clone());
            seen.insert(key.clone());
            let current = deployment.replicas.max(0) as u32;
            let pods = tick.view.pods.iter().filter(|p| p.key == deployment.key);
            let count = |state: PodState| pods.clone().filter(|p| p.state == state).count() as u32;
            let (ready, starting_pods, unschedulable) = (
                count(PodState::Ready),
                count(PodState::Starting),
                count(PodState::Unschedulable),
            );
            let status = self
                .status
                .entry(key.clone())
                .or_insert_with(|| ServiceStatus {
                    namespace: key.0.clone(),
                    deployment: key.1.clone(),
                    ready,
                    desired: current,
                    min: None,
                    max: None,
                    target: None,
                    utilisation: None,
                    utilisation_minute: None,
                    last_change: None,
                    reason: None,
                    not_scaled: None,
                });
            status.ready = ready;
            status.desired = current;
            let uid = &deployment.uid;
            let spec = match annotations::spec(
                &deployment.annotations,
                deployment.settings.max_concurrent,
                self.window,
            ) {
                Ok(spec) => spec,
                Err(problems) => {
                    let text = problems
                        .iter()
                        .map(|p| format!("{}: {}", p.annotation, p.reason))
                        .collect::<Vec<_>>()
                        .join("; ");
                    status.not_scaled = Some(format!("bad annotations ({text})"));
                    self.tracked.remove(&key);
                    report(
                        &mut self.reported,
                        &mut actions,
                        &key,
                        uid,
                        "BadAnnotation",
                        format!("not autoscaled: {text}"),
                    );
                    continue;
                }
            };
            if !spec.enabled {
                status.not_scaled = Some("kubectl-aml.io/autoscale is false".into());
                self.tracked.remove(&key);
                continue;
            }
            if let Some(hpa) = tick.hpas.get(&key) {
                status.not_scaled = Some(format!("HorizontalPodAutoscaler {hpa} scales it"));
                self.tracked.remove(&key);
                let message = format!(
                    "HorizontalPodAutoscaler {hpa} targets this Deployment: azureml-fe leaves it alone (the docs: never both)"
                );
                report(
                    &mut self.reported,
                    &mut actions,
                    &key,
                    uid,
                    "AutoscalerConflict",
                    message,
                );
                continue;
            }
            let settings = spec.settings;
            status.not_scaled = None;
            (status.min, status.max) = (Some(settings.min), Some(settings.max));
            status.target = Some((settings.target * 100.0).round() as u32);
            let tracked = self.tracked.entry(key.clone()).or_insert_with(|| Tracked {
                settings: settings.clone(),
                policy: Policy::new(settings.clone(), tick.at, current),
                expected: current,
                pending: None,
                next_eval: tick.at,
                backoff_until: tick.at,
                failures: 0,
                cluster_full: false,
                minute: VecDeque::new(),
            });
            if tracked.settings != settings {
                tracked.policy = Policy::new(settings.clone(), tick.at, current);
                tracked.settings = settings.clone();
                tracked.next_eval = tick.at;
            }
            if let Some(version) = &tracked.pending {
                if *version == deployment.resource_version {
                    continue;
                }
                tracked.pending = None;
            }
            if current != tracked.expected {
                actions.push(Action::Log(format!(
                    "{}/{} was scaled to {current} by someone else; adopting it",
                    key.0, key.1
                )));
                tracked.policy = Policy::new(settings.clone(), tick.at, current);
                tracked.expected = current;
                tracked.next_eval = tick.at;
            }
            if tick.at < tracked.next_eval || tick.at < tracked.backoff_until {
                continue;
            }
            // Half a loop period early: the loop's ticks jitter by a few milliseconds, and a
            // due time a hair after the next tick would skip it (a 1 s refresh every 2 s).
            tracked.next_eval = tick.at + settings.tick.saturating_sub(LOOP_PERIOD / 2);
            let demand = tick.load.get(&key).copied().unwrap_or_default();
            // Replicas asked for but without a pod yet count as starting: the policy sees what
            // was asked, not only what exists (or it would undo a fresh scale-up).
            let starting = starting_pods.max(current.saturating_sub(ready + unschedulable));
            let observation = Observation {
                at: tick.at,
                busy: demand.busy,
                queued: demand.queued,
                ready,
                starting,
                unschedulable,
            };
            let decision = tracked.policy.observe(&observation);
            let percent = decision
                .utilisation
                .is_finite()
                .then_some(decision.utilisation * 100.0);
            tracked
                .minute
                .push_back((tick.at, percent.unwrap_or(f64::INFINITY)));
            while tracked
                .minute
                .front()
                .is_some_and(|(at, _)| tick.at.saturating_sub(*at) > Duration::from_secs(60))
            {
                tracked.minute.pop_front();
            }
            let average =
                tracked.minute.iter().map(|(_, u)| u).sum::<f64>() / tracked.minute.len() as f64;
            status.utilisation = percent;
            status.utilisation_minute = average.is_finite().then_some(average);
            status.reason = Some(decision.reason.to_string());
            let full = matches!(decision.reason, Reason::ClusterFull { .. });
            let report_full = full && !tracked.cluster_full;
            tracked.cluster_full = full;
            let utilisation = percent.map_or("∞".to_string(), |p| format!("{p:.0} %"));
            let details = format!(
                "utilisation {utilisation} of target {:.0} %; busy {:.2}, queued {:.2}, ready {ready}; scale-down window {} s",
                settings.target * 100.0,
                demand.busy,
                demand.queued,
                settings.scale_down_window.as_secs()
            );
            if report_full {
                let message = format!("{}; {details}", decision.reason);
                actions.push(Action::Event {
                    key: key.clone(),
                    uid: uid.clone(),
                    warning: true,
                    reason: "ClusterFull",
                    message,
                });
            }
            let desired = decision.desired;
            if desired == current {
                continue;
            }
            if desired < current && !tick.complete {
                actions.push(Action::Log(format!(
                    "not scaling {}/{} down to {desired}: this tick lacks some router pods' counts",
                    key.0, key.1
                )));
                continue;
            }
            let (reason, verb) = if desired > current {
                ("ScaledUp", "up")
            } else {
                ("ScaledDown", "down")
            };
            actions.push(Action::Scale {
                key: key.clone(),
                uid: uid.clone(),
                from: current,
                to: desired,
                version: deployment.resource_version.clone(),
                reason,
                message: format!(
                    "scaled {verb} from {current} to {desired} replicas: {}; {details}",
                    decision.reason
                ),
            });
        }
        self.tracked.retain(|key, _| seen.contains(key));
        self.status.retain(|key, _| seen.contains(key));
        actions
    }

    /// Records how a scale write ended; answers what else to do (an Event when it was refused).
    pub fn outcome(
        &mut self,
        action: &Action,
        outcome: &Outcome,
        at: Duration,
        wall: Timestamp,
    ) -> Vec<Action> {
        let Action::Scale {
            key,
            uid,
            from,
            to,
            version,
            message,
            ..
        } = action
        else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        let Some(tracked) = self.tracked.get_mut(key) else {
            return actions;
        };
        match outcome {
            Outcome::Written => {
                tracked.expected = *to;
                tracked.pending = Some(version.clone());
                tracked.failures = 0;
                if let Some(status) = self.status.get_mut(key) {
                    status.desired = *to;
                    status.last_change = Some(LastChange {
                        at: wall,
                        from: *from,
                        to: *to,
                        reason: message.clone(),
                    });
                }
            }
            Outcome::Conflict => {}
            Outcome::Forbidden | Outcome::Failed(_) => {
                tracked.failures += 1;
                let delay = Duration::from_secs(1u64 << tracked.failures.min(9))
                    .min(Duration::from_secs(300));
                tracked.backoff_until = at + delay;
                if *outcome == Outcome::Forbidden {
                    let text = "cannot write the replica count: the router's role needs `patch` on `deployments/scale` (apps)";
                    let (key, uid) = (key.clone(), uid.clone());
                    report(
                        &mut self.reported,
                        &mut actions,
                        &key,
                        &uid,
                        "ScaleForbidden",
                        text.to_string(),
                    );
                }
            }
        }
        actions
    }
}

/// Adds a Warning Event unless the same one was posted before.
fn report(
    reported: &mut HashSet<String>,
    actions: &mut Vec<Action>,
    key: &Key,
    uid: &Option<String>,
    reason: &'static str,
    message: String,
) {
    if reported.insert(format!("{}/{} {reason} {message}", key.0, key.1)) {
        let (key, uid) = (key.clone(), uid.clone());
        actions.push(Action::Event {
            key,
            uid,
            warning: true,
            reason,
            message,
        });
    }
}

#[cfg(test)]
mod tests;
