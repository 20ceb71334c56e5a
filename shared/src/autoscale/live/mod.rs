//! The autoscaler as a process: the router pods elect one leader with a Lease (`leader`), the
//! leader gathers every router pod's load (`gather`), decides per model Deployment (`scaler`, pure)
//! and writes replica counts through the scale subresource with Events (`run`).

pub mod annotations;
pub mod leader;
mod model;
pub mod scaler;
