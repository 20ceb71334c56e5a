//! Autoscaling as azureml-fe describes it, made open and testable: replica maths (pure), the model
//! autoscaling policy and the router self-scaling policy (pure, clock injected), and a simulated
//! cluster to try policies on load traces. The process loop that acts on a cluster arrives with the
//! router.

pub mod lease;
pub mod live;
mod policy;
mod replicas;
mod router;
pub mod sim;
#[cfg(test)]
mod tests;

pub use policy::{Decision, Observation, Policy, Reason, Settings};
pub use replicas::{ceil, replicas_for, sustained_rps};
pub use router::{ClusterPurpose, RouterAction, RouterObservation, RouterPolicy, RouterSettings};
