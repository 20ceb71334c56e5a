//! The actions on online endpoints and deployments in the fake ARM: keys, key regeneration
//! (202 + `Location`), tokens and logs, refused when the endpoint uses the other auth mode.

use serde_json::json;

use super::endpoints::{busy, conflict, missing, operate};
use super::server::{Call, Reply, Shared, arm_error};
use super::state::{Effect, State};

fn auth_mode(state: &State, key: &str) -> Option<String> {
    state
        .endpoints
        .get(key)?
        .pointer("/properties/authMode")?
        .as_str()
        .map(str::to_string)
}

/// POST `listKeys`, `regenerateKeys` or `token` on an endpoint.
pub(super) fn action(
    shared: &Shared,
    state: &mut State,
    call: &Call,
    endpoint_path: &str,
    action: &str,
) -> Reply {
    let key = endpoint_path.to_ascii_lowercase();
    let name = endpoint_path.rsplit('/').next().unwrap_or("").to_string();
    let Some(mode) = auth_mode(state, &key) else {
        return missing("Online endpoint", &name);
    };
    let wrong = |wanted: &str| {
        arm_error(
            400,
            "BadRequest",
            &format!("Endpoint '{name}' uses {mode} authentication; this needs {wanted}."),
        )
    };
    match action {
        "listkeys" if mode.eq_ignore_ascii_case("Key") => {
            let (primary, secondary) = state.keys.get(&key).cloned().unwrap_or_default();
            Reply::ok(
                200,
                json!({"primaryKey": primary, "secondaryKey": secondary}),
            )
        }
        "regeneratekeys" if mode.eq_ignore_ascii_case("Key") => {
            if busy(state, &key) {
                return conflict(&name);
            }
            let body = call.json();
            let primary = body["keyType"]
                .as_str()
                .is_some_and(|k| k.eq_ignore_ascii_case("Primary"));
            let value = body["keyValue"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| state.fresh_id().replace('-', ""));
            operate(
                shared,
                state,
                call,
                &key,
                Effect::KeyRegenerated(key.clone(), primary, value),
                false,
            )
        }
        "token" if mode.eq_ignore_ascii_case("AMLToken") => {
            let now = jiff::Timestamp::now().as_second();
            Reply::ok(
                200,
                json!({"accessToken": shared.signer.sign(&name, now, 3600), "tokenType": "Bearer",
                "expiryTimeUtc": now + 3600, "refreshAfterTimeUtc": now + 1800}),
            )
        }
        "listkeys" | "regeneratekeys" => wrong("Key"),
        _ => wrong("AMLToken"),
    }
}

/// POST `getLogs` on a deployment: the last `tail` lines of the chosen container.
pub(super) fn logs(state: &State, call: &Call, deployment_path: &str) -> Reply {
    let key = deployment_path.to_ascii_lowercase();
    if !state.endpoints.contains_key(&key) {
        return missing(
            "Deployment",
            deployment_path.rsplit('/').next().unwrap_or(""),
        );
    }
    let body = call.json();
    let container = body["containerType"].as_str().unwrap_or("InferenceServer");
    let lines: Vec<String> = (1..=50)
        .map(|i| format!("{container} log line {i}"))
        .collect();
    let tail = body["tail"]
        .as_u64()
        .map(|t| t as usize)
        .unwrap_or(lines.len());
    let content = lines[lines.len().saturating_sub(tail)..].join("\n");
    Reply::ok(200, json!({ "content": content }))
}
