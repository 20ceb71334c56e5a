//! The verbs on a collection: list (selectors, `limit`/`continue` paging), create, delete-collection.

use base64::Engine;
use http::Method;
use serde_json::{Value, json};

use super::deletion::Propagation;
use super::kinds::KindDef;
use super::ownership::Ownership;
use super::selectors::{FieldSelector, LabelSelector};
use super::server::{Call, Shared};
use super::status::{self, ApiError};
use super::store::Store;
use super::verbs::Answer;

/// Verbs on `/…/{plural}`.
pub fn collection(
    shared: &Shared,
    call: &Call,
    kind: &'static KindDef,
    namespace: Option<&str>,
) -> Answer {
    let mut store = shared.store.lock().expect("store");
    match call.method {
        Method::GET => list(&store, call, kind, namespace),
        Method::POST => {
            let namespace = match (kind.namespaced, namespace) {
                (true, Some(ns)) => ns,
                (true, None) => return Err(status::method_not_allowed("POST")),
                (false, _) => "",
            };
            let created = store.create(
                kind,
                namespace,
                call.json()?,
                Ownership::Update(&call.manager()),
                call.dry_run(),
            )?;
            Ok((201, created))
        }
        Method::DELETE => {
            let (_, listed) = list(&store, call, kind, namespace)?;
            let mut deleted = Vec::new();
            for item in listed["items"].as_array().into_iter().flatten() {
                let ns = item["metadata"]["namespace"].as_str().unwrap_or("");
                let name = item["metadata"]["name"].as_str().unwrap_or("");
                deleted.push(store.delete(
                    kind,
                    ns,
                    name,
                    Propagation::Background,
                    (None, None),
                    call.dry_run(),
                )?);
            }
            Ok((
                200,
                list_document(kind, store.resource_version(), deleted, None),
            ))
        }
        _ => Err(status::method_not_allowed(call.method.as_str())),
    }
}

fn list_document(
    kind: &KindDef,
    rv: u64,
    items: Vec<Value>,
    page: Option<(String, usize)>,
) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some((token, remaining)) = page {
        metadata["continue"] = json!(token);
        metadata["remainingItemCount"] = json!(remaining);
    }
    // Items in a list carry no apiVersion/kind: the list's own says what they are.
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut i| {
            if let Some(map) = i.as_object_mut() {
                map.remove("apiVersion");
                map.remove("kind");
            }
            i
        })
        .collect();
    json!({"kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(), "metadata": metadata, "items": items})
}

fn list(store: &Store, call: &Call, kind: &'static KindDef, namespace: Option<&str>) -> Answer {
    let labels = LabelSelector::parse(call.param("labelSelector").unwrap_or(""))
        .map_err(status::bad_request)?;
    let fields = FieldSelector::parse(call.param("fieldSelector").unwrap_or(""), kind)
        .map_err(status::bad_request)?;
    let limit: usize = match call.param("limit") {
        Some(l) => l
            .parse()
            .map_err(|_| status::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
    };
    let after = match call.param("continue").filter(|c| !c.is_empty()) {
        Some(token) => Some(decode_continue(token)?),
        None => None,
    };
    let key = |o: &Value| {
        format!(
            "{}/{}",
            o["metadata"]["namespace"].as_str().unwrap_or(""),
            o["metadata"]["name"].as_str().unwrap_or("")
        )
    };
    let matching: Vec<&Value> = store
        .list(kind, namespace)
        .into_iter()
        .filter(|o| labels.matches(o["metadata"]["labels"].as_object()) && fields.matches(o))
        .filter(|o| after.as_ref().is_none_or(|a| key(o) > *a))
        .collect();
    let take = if limit == 0 {
        matching.len()
    } else {
        limit.min(matching.len())
    };
    let page = (take < matching.len()).then(|| {
        (
            encode_continue(&key(matching[take - 1])),
            matching.len() - take,
        )
    });
    let items = matching[..take].iter().map(|o| (*o).clone()).collect();
    Ok((
        200,
        list_document(kind, store.resource_version(), items, page),
    ))
}

fn encode_continue(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"v": "meta.k8s.io/v1", "start": last}).to_string())
}

fn decode_continue(token: &str) -> Result<String, ApiError> {
    let invalid = || {
        status::bad_request("continue key is not valid: incorrect encoded start resourceVersion")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    value["start"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(invalid)
}
