//! The workspace helpers attach uses: the core's, and which computes point at a cluster.

use aml_core::arm::ResourceId;
pub(crate) use aml_core::arm::workspace::{Workspace, get, no_compute};
use serde_json::Value;

/// The other computes that point at `cluster` (ARM ids compare case-insensitively).
pub(crate) fn using_cluster<'a>(
    computes: &'a [Value],
    cluster: &ResourceId,
    except: &str,
) -> Vec<&'a Value> {
    computes
        .iter()
        .filter(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| !n.eq_ignore_ascii_case(except))
        })
        .filter(|c| {
            c.pointer("/properties/resourceId")
                .and_then(Value::as_str)
                .and_then(|id| id.parse::<ResourceId>().ok())
                .is_some_and(|id| id == *cluster)
        })
        .collect()
}
