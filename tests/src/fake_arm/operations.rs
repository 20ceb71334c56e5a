//! Long-running operations of the fake ARM: starting one and answering in the configured completion
//! pattern, and its status (`Azure-AsyncOperation`) and result (`Location`) URLs, which end it after
//! the configured number of polls.

use serde_json::{Value, json};

use super::Completion;
use super::routes::now;
use super::server::{Reply, Shared, arm_error};
use super::state::{Effect, Operation, State};

/// Which resource provider family answers: computes and the online-endpoint front end (`mfe`) use
/// different status URLs and, per the spec, different headers on DELETE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `computeOperationsStatus` / `computeOperationsResults`; DELETE gives both headers.
    Compute,
    /// `mfeOperationsStatus` / `mfeOperationResults`; DELETE and POST actions give `Location` only.
    Mfe,
}

/// How the first answer looks.
pub struct Answer<'a> {
    /// Operation family.
    pub family: Family,
    /// A create (PUT): 201 with the resource; else 202 without a body.
    pub create: bool,
    /// The resource as it stands, for the body of a create's answer.
    pub resource: &'a dyn Fn(&State) -> Value,
}

/// Starts an operation and answers in the configured completion pattern.
pub fn start(
    shared: &Shared,
    state: &mut State,
    location: &str,
    effect: Effect,
    failure: Option<(String, String)>,
    answer: Answer<'_>,
) -> Reply {
    let id = state.fresh_id();
    let completion = *shared.completion.lock().expect("completion");
    let subscription = super::state::SUBSCRIPTION;
    state.operations.insert(
        id.clone(),
        Operation {
            polls_left: shared.polls,
            failure,
            effect,
            done: false,
        },
    );
    if completion == Completion::Immediate {
        state.finish(&id);
        let failed = state.operations[&id].failure.clone();
        if let Some((code, message)) = failed {
            return arm_error(400, &code, &message);
        }
        return if answer.create {
            Reply::ok(200, (answer.resource)(state))
        } else {
            Reply::empty(200)
        };
    }
    let base = format!(
        "{}/subscriptions/{subscription}/providers/Microsoft.MachineLearningServices/locations/{location}",
        shared.base_url(),
    );
    let (status, result) = match answer.family {
        Family::Compute => ("computeOperationsStatus", "computeOperationsResults"),
        Family::Mfe => ("mfeOperationsStatus", "mfeOperationResults"),
    };
    let status_url = format!("{base}/{status}/{id}?api-version=2024-04-01&type=async");
    let result_url = format!("{base}/{result}/{id}?api-version=2024-04-01&type=location");
    let mut reply = if answer.create {
        Reply::ok(201, (answer.resource)(state))
    } else {
        Reply::empty(202)
    };
    match completion {
        Completion::AsyncOperation if answer.create => {
            reply.headers.push(("Azure-AsyncOperation", status_url))
        }
        Completion::AsyncOperation if answer.family == Family::Compute => {
            reply.headers.push(("Azure-AsyncOperation", status_url));
            reply.headers.push(("Location", result_url));
        }
        Completion::AsyncOperation | Completion::Location => {
            reply.headers.push(("Location", result_url))
        }
        Completion::ResourceState | Completion::Immediate => {}
    }
    if let Some(seconds) = shared.retry_after {
        reply.headers.push(("Retry-After", seconds.to_string()));
    }
    reply
}

/// Answers a poll of operation `id` (`status`: the `Azure-AsyncOperation` URL, else `Location`).
pub fn poll(shared: &Shared, state: &mut State, id: &str, status: bool) -> Reply {
    let Some(op) = state.operations.get_mut(id) else {
        return arm_error(404, "NotFound", &format!("operation {id} not found"));
    };
    if !op.done {
        if op.polls_left == 0 {
            state.finish(id);
        } else {
            op.polls_left -= 1;
        }
    }
    let op = &state.operations[id];
    let mut reply = match (status, op.done, &op.failure) {
        (true, false, _) => Reply::ok(
            200,
            json!({"name": id, "status": "InProgress", "startTime": now()}),
        ),
        (true, true, None) => Reply::ok(
            200,
            json!({"name": id, "status": "Succeeded", "endTime": now()}),
        ),
        (true, true, Some((code, message))) => Reply::ok(
            200,
            json!({"name": id, "status": "Failed",
            "error": {"code": code, "message": message, "details": [{"code": "OperationFailed", "message": message}]}}),
        ),
        (false, false, _) => Reply::empty(202),
        (false, true, None) => Reply::empty(200),
        (false, true, Some((code, message))) => arm_error(400, code, message),
    };
    if !op.done
        && let Some(seconds) = shared.retry_after
    {
        reply.headers.push(("Retry-After", seconds.to_string()));
    }
    reply
}
