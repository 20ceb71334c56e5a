//! What the scaler reads each tick and what it answers: the load per Deployment, the actions to
//! carry out, how a write ended, and each Deployment's status for `kubectl aml scale status`.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::router::discovery::ClusterView;

/// A Deployment: namespace and name.
pub type Key = (String, String);

/// Load summed over the router pods for one Deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Demand {
    /// Replicas' worth of requests in flight.
    pub busy: f64,
    /// Requests waiting in the routers.
    pub queued: f64,
}

/// What one tick knows.
#[derive(Debug)]
pub struct Tick<'a> {
    /// The model Deployments and pods.
    pub view: &'a ClusterView,
    /// Load per Deployment.
    pub load: &'a HashMap<Key, Demand>,
    /// Whether every router pod's counts are in.
    pub complete: bool,
    /// HorizontalPodAutoscalers by the Deployment they target.
    pub hpas: &'a HashMap<Key, String>,
    /// The monotonic clock.
    pub at: Duration,
    /// The wall clock, for status.
    pub wall: Timestamp,
}

/// Something to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write the replica count through the scale subresource, if the Deployment is still `version`.
    Scale {
        /// The Deployment.
        key: Key,
        /// Its uid, for the Event.
        uid: Option<String>,
        /// Replicas now.
        from: u32,
        /// Replicas wanted.
        to: u32,
        /// The precondition.
        version: Option<String>,
        /// `ScaledUp` or `ScaledDown`.
        reason: &'static str,
        /// The Event's and log line's message.
        message: String,
    },
    /// Post an Event on the Deployment.
    Event {
        /// The Deployment.
        key: Key,
        /// Its uid.
        uid: Option<String>,
        /// Warning rather than Normal.
        warning: bool,
        /// Event reason.
        reason: &'static str,
        /// Its message.
        message: String,
    },
    /// Write a log line.
    Log(String),
}

/// How a scale write ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Written,
    /// The Deployment changed since it was read: someone else wins; read again next tick.
    Conflict,
    /// 403: the router's role lacks the verb.
    Forbidden,
    /// Anything else (unreachable, 5xx, timeout).
    Failed(String),
}

/// The last decision that changed a count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastChange {
    /// When.
    pub at: Timestamp,
    /// From how many replicas.
    pub from: u32,
    /// To how many.
    pub to: u32,
    /// Why, in words.
    pub reason: String,
}

/// One Deployment as the autoscaler sees it, for `kubectl aml scale status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// Namespace.
    pub namespace: String,
    /// Deployment.
    pub deployment: String,
    /// Ready replicas.
    pub ready: u32,
    /// Desired replicas (`spec.replicas`).
    pub desired: u32,
    /// Bounds and target, when autoscaled.
    pub min: Option<u32>,
    /// Most replicas.
    pub max: Option<u32>,
    /// Target utilisation, percent.
    pub target: Option<u32>,
    /// Utilisation at the last tick, percent (`None`: demand with no ready replica).
    pub utilisation: Option<f64>,
    /// Average utilisation over the last minute, percent.
    pub utilisation_minute: Option<f64>,
    /// The last decision that changed the count.
    pub last_change: Option<LastChange>,
    /// The policy's reason at the last tick.
    pub reason: Option<String>,
    /// Why it is not autoscaled, if it is not.
    pub not_scaled: Option<String>,
}
