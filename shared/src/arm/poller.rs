//! One poller for ARM's long-running operations: `Azure-AsyncOperation` (status body), then
//! `Location` (202 until done), then the resource's own `provisioningState`; `Retry-After` between
//! polls, terminal states compared case-insensitively, the command's `--timeout`, progress for a
//! terminal.

use http::Method;
use serde_json::Value;
use tokio::time::Instant;

use super::error::ArmFailureError;
use super::request::failure_from;
use super::{ArmClient, ArmRequest, ArmResponse, Error};

/// An operation still running, to check on later (`--no-wait`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// `Azure-AsyncOperation` or `Location`.
    pub header: &'static str,
    /// The URL to poll.
    pub url: String,
}

/// The operation a first answer started, if it did not finish at once.
pub fn pending(first: &ArmResponse) -> Option<Pending> {
    if !matches!(first.status, 201 | 202) {
        return None;
    }
    for header in ["Azure-AsyncOperation", "Location"] {
        if let Some(url) = first.header(header) {
            return Some(Pending {
                header,
                url: url.to_string(),
            });
        }
    }
    None
}

fn terminal(status: &str) -> Option<bool> {
    match status.to_ascii_lowercase().as_str() {
        "succeeded" => Some(true),
        "failed" | "canceled" | "cancelled" => Some(false),
        _ => None,
    }
}

/// Waits for the operation `request` started with `first`, within the client's `--timeout`, and
/// returns the final answer: for PUT and PATCH the resource itself, otherwise the operation's last
/// answer. `progress` gets a short status line on each poll. Running out of time, or polls that keep
/// failing, end in an error carrying the operation's URL (it may still finish).
pub async fn wait(
    client: &ArmClient,
    request: &ArmRequest,
    first: ArmResponse,
    what: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<ArmResponse, Error> {
    let started = Instant::now();
    let deadline = client.options().deadline;
    let operation = pending(&first);
    let creates = matches!(request.method, Method::PUT | Method::PATCH);
    if operation.is_none() && !(creates && first.status == 201) {
        return Ok(first);
    }
    let url = operation.as_ref().map(|o| o.url.clone());
    let timed_out = || Error::Timeout {
        what: what.to_string(),
        after: deadline.map(|d| d.limit).unwrap_or_default(),
        operation: url.clone(),
    };
    // A check that fails: out of time is a timeout; anything else says the operation's URL.
    let check_failed = |e: Error| match e {
        Error::CommandTimeout { .. } => timed_out(),
        e => match &url {
            Some(operation) => Error::PollFailed {
                what: what.to_string(),
                operation: operation.clone(),
                source: Box::new(e),
            },
            None => e,
        },
    };
    let mut delay = first
        .retry_after()
        .unwrap_or(client.options().poll_interval);
    loop {
        let pause = delay.min(client.options().max_delay);
        if deadline.is_some_and(|d| d.passes_within(pause)) {
            return Err(timed_out());
        }
        tokio::time::sleep(pause).await;
        let elapsed = started.elapsed().as_secs();
        let done = match &operation {
            Some(Pending {
                header: "Azure-AsyncOperation",
                url,
            }) => {
                let answer = client
                    .send(&ArmRequest::get(url.clone()))
                    .await
                    .map_err(check_failed)?;
                let status = answer.body["status"]
                    .as_str()
                    .unwrap_or("InProgress")
                    .to_string();
                progress(&format!("{what}: {status} ({elapsed}s)"));
                delay = answer
                    .retry_after()
                    .unwrap_or(client.options().poll_interval);
                match terminal(&status) {
                    Some(true) => Some(answer),
                    Some(false) => {
                        let failure = (!answer.body["error"].is_null()).then(|| {
                            Box::new(ArmFailureError(failure_from(
                                &answer.body,
                                200,
                                "GET",
                                url,
                                None,
                            )))
                        });
                        return Err(Error::OperationFailed {
                            what: what.to_string(),
                            status,
                            error: failure,
                        });
                    }
                    None => None,
                }
            }
            Some(Pending { url, .. }) => {
                let answer = client
                    .send(&ArmRequest::get(url.clone()))
                    .await
                    .map_err(check_failed)?;
                progress(&format!(
                    "{what}: {} ({elapsed}s)",
                    if answer.status == 202 {
                        "in progress"
                    } else {
                        "done"
                    }
                ));
                delay = answer
                    .retry_after()
                    .unwrap_or(client.options().poll_interval);
                (answer.status != 202).then_some(answer)
            }
            None => {
                // No operation to poll: the resource's provisioningState tells.
                let answer = client
                    .send(&ArmRequest::get(request.url.clone()))
                    .await
                    .map_err(check_failed)?;
                let state = answer
                    .body
                    .pointer("/properties/provisioningState")
                    .and_then(Value::as_str)
                    .unwrap_or("Succeeded")
                    .to_string();
                progress(&format!("{what}: {state} ({elapsed}s)"));
                match terminal(&state) {
                    Some(true) => return Ok(answer),
                    Some(false) => {
                        return Err(Error::OperationFailed {
                            what: what.to_string(),
                            status: state,
                            error: None,
                        });
                    }
                    None => None,
                }
            }
        };
        if let Some(answer) = done {
            return if creates {
                client
                    .send(&ArmRequest::get(request.url.clone()))
                    .await
                    .map_err(check_failed)
            } else {
                Ok(answer)
            };
        }
    }
}

/// Whether a resource's `provisioningState` is still going (not Succeeded, Failed or Canceled).
pub fn provisioning(resource: &Value) -> bool {
    let state = resource
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or("Succeeded");
    terminal(state).is_none()
}

/// `resource` (as read from `url`) once its provisioning has ended, within `--timeout`: what an
/// earlier run started and a re-run waits for.
pub async fn wait_provisioned(
    client: &ArmClient,
    url: &str,
    resource: Value,
    what: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<Value, Error> {
    if !provisioning(&resource) {
        return Ok(resource);
    }
    // A PUT answered 201 without an operation is waited for on the resource's own state.
    let request = ArmRequest::put(url.to_string(), Value::Null);
    let first = ArmResponse {
        status: 201,
        headers: http::HeaderMap::new(),
        body: resource,
    };
    Ok(wait(client, &request, first, what, progress).await?.body)
}

/// Waits, within the client's `--timeout`, until the resource at `url` is gone (404): an earlier
/// run's delete that is still going. `progress` gets its state on each look.
pub async fn wait_gone(
    client: &ArmClient,
    url: &str,
    what: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(), Error> {
    let options = client.options();
    let started = Instant::now();
    loop {
        let pause = options.poll_interval.min(options.max_delay);
        if options.deadline.is_some_and(|d| d.passes_within(pause)) {
            return Err(Error::Timeout {
                what: what.to_string(),
                after: options.deadline.map(|d| d.limit).unwrap_or_default(),
                operation: None,
            });
        }
        tokio::time::sleep(pause).await;
        let Some(resource) = client.get_opt(url.to_string()).await? else {
            return Ok(());
        };
        let state = resource
            .pointer("/properties/provisioningState")
            .and_then(Value::as_str)
            .unwrap_or("Unknown");
        progress(&format!(
            "{what}: {state} ({}s)",
            started.elapsed().as_secs()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&'static str, &str)]) -> ArmResponse {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        ArmResponse {
            status,
            headers: map,
            body: Value::Null,
        }
    }

    #[test]
    fn the_operation_header_is_found_in_arm_order() {
        assert_eq!(
            pending(&response(200, &[("Azure-AsyncOperation", "a")])),
            None,
            "200 is done"
        );
        let both = response(202, &[("Azure-AsyncOperation", "a"), ("Location", "l")]);
        assert_eq!(
            pending(&both).unwrap(),
            Pending {
                header: "Azure-AsyncOperation",
                url: "a".into()
            }
        );
        assert_eq!(
            pending(&response(202, &[("Location", "l")]))
                .unwrap()
                .header,
            "Location"
        );
        assert_eq!(pending(&response(201, &[])), None);
    }

    #[test]
    fn terminal_states_ignore_case_and_spelling() {
        assert_eq!(terminal("SUCCEEDED"), Some(true));
        assert_eq!(terminal("Cancelled"), Some(false));
        assert_eq!(terminal("canceled"), Some(false));
        assert_eq!(terminal("InProgress"), None);
    }
}
