//! The autoscaler as a process: the router pods elect one leader with a Lease (`leader`), the
//! leader gathers every router pod's load (`gather`), decides per model Deployment (`scaler`, pure)
//! and writes replica counts through the scale subresource with Events (`run`).

pub mod annotations;
pub mod gather;
pub mod leader;
mod model;
pub mod router_scaler;
pub mod run;
pub mod scaler;

pub use model::{Action, Demand, Key, LastChange, Outcome, ServiceStatus, Tick};
pub use run::{Config, SharedStatus, Status, start};
