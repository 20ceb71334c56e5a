//! What the API server does to an object on its way in: identity checks, name validation,
//! defaulting, and the controllers the fake simulates (Deployment status, Service cluster IPs).

use base64::Engine;
use serde_json::{Map, Value, json};

use super::kinds::KindDef;
use super::status::{self, ApiError};

fn check_type(kind: &KindDef, object: &Value) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(status::bad_request("the request body is not a JSON object"));
    }
    match object.get("kind").and_then(Value::as_str) {
        None => {
            return Err(status::bad_request(format!(
                "Object 'Kind' is missing in '{object}'"
            )));
        }
        Some(k) if k != kind.kind => {
            return Err(status::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                kind.kind
            )));
        }
        Some(_) => {}
    }
    match object.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v == kind.api_version() => Ok(()),
        other => Err(status::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({})",
            other.unwrap_or(""),
            kind.api_version()
        ))),
    }
}

fn set_namespace(kind: &KindDef, namespace: &str, object: &mut Value) -> Result<(), ApiError> {
    let meta = object
        .as_object_mut()
        .expect("object")
        .entry("metadata")
        .or_insert_with(|| json!({}));
    let meta = meta
        .as_object_mut()
        .ok_or_else(|| status::bad_request("metadata must be an object"))?;
    if kind.namespaced {
        if let Some(ns) = meta.get("namespace").and_then(Value::as_str)
            && !ns.is_empty()
            && ns != namespace
        {
            return Err(status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        meta.insert("namespace".into(), json!(namespace));
    } else {
        meta.remove("namespace");
    }
    Ok(())
}

/// Checks and fills a new object: kind, namespace, name (or generateName), kind-specific rules.
pub fn prepare_new(kind: &KindDef, namespace: &str, object: &mut Value) -> Result<(), ApiError> {
    check_type(kind, object)?;
    set_namespace(kind, namespace, object)?;
    let meta = object["metadata"].as_object_mut().expect("metadata");
    if meta
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        match meta.get("generateName").and_then(Value::as_str) {
            Some(prefix) => {
                let suffix = format!(
                    "{:05x}",
                    jiff::Timestamp::now().subsec_nanosecond() as u32 % 0xfffff
                );
                meta.insert("name".into(), json!(format!("{prefix}{suffix}")));
            }
            None => {
                return Err(status::invalid(
                    kind,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
        }
    }
    let name = meta["name"].as_str().unwrap_or_default().to_string();
    validate_name(kind, &name)?;
    // Status is the controllers' business: the server drops it on create.
    if kind.subresources.contains(&"status") {
        object.as_object_mut().expect("object").remove("status");
    }
    validate(kind, &name, object)
}

/// Checks an object sent to replace `name`.
pub fn prepare_update(
    kind: &KindDef,
    namespace: &str,
    name: &str,
    object: &mut Value,
) -> Result<(), ApiError> {
    check_type(kind, object)?;
    set_namespace(kind, namespace, object)?;
    match object["metadata"].get("name").and_then(Value::as_str) {
        Some(n) if n == name => {}
        Some(n) => {
            return Err(status::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        None => {
            object["metadata"]["name"] = json!(name);
        }
    }
    validate(kind, name, object)
}

fn validate_name(kind: &KindDef, name: &str) -> Result<(), ApiError> {
    let label = |max: usize, first_alpha: bool| {
        name.len() <= max
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && name.chars().next().is_some_and(|c| {
                if first_alpha {
                    c.is_ascii_lowercase()
                } else {
                    c.is_ascii_alphanumeric()
                }
            })
            && name
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric())
    };
    let (ok, rule) = match kind.kind {
        "Service" => (
            label(63, true),
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        ),
        "Namespace" => (
            label(63, false),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        ),
        // RBAC names are path segments: anything but '/' and '%'.
        "ClusterRole" | "ClusterRoleBinding" => (
            !name.contains(['/', '%']) && name != "." && name != "..",
            "may not contain '/' or '%'",
        ),
        _ => (
            name.len() <= 253
                && name.split('.').all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        && !part.starts_with('-')
                        && !part.ends_with('-')
                }),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(status::invalid(
            kind,
            name,
            "metadata.name",
            &format!("Invalid value: \"{name}\": {rule}"),
        ))
    }
}

fn validate(kind: &KindDef, name: &str, object: &Value) -> Result<(), ApiError> {
    if kind.kind == "Deployment" {
        let Some(selector) = object.pointer("/spec/selector") else {
            return Err(status::invalid(
                kind,
                name,
                "spec.selector",
                "Required value",
            ));
        };
        let labels = object
            .pointer("/spec/template/metadata/labels")
            .and_then(Value::as_object);
        let wanted = selector.get("matchLabels").and_then(Value::as_object);
        let matches = wanted.is_none_or(|w| {
            w.iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        });
        if !matches {
            return Err(status::invalid(
                kind,
                name,
                "spec.template.metadata.labels",
                "Invalid value: `selector` does not match template `labels`",
            ));
        }
    }
    Ok(())
}

/// Defaults and simulated controllers, applied after every write.
pub fn reconcile(kind: &KindDef, object: &mut Value, auto_ready: bool, next_ip: &mut u32) {
    let obj = object.as_object_mut().expect("object");
    match kind.kind {
        "Deployment" => {
            let spec = obj.entry("spec").or_insert_with(|| json!({}));
            let replicas = spec.get("replicas").and_then(Value::as_i64).unwrap_or(1);
            spec["replicas"] = json!(replicas);
            if auto_ready {
                let generation = obj["metadata"]["generation"].clone();
                let mut status = json!({
                    "observedGeneration": generation,
                    "conditions": [
                        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
                    ]
                });
                if replicas > 0 {
                    for field in [
                        "replicas",
                        "updatedReplicas",
                        "readyReplicas",
                        "availableReplicas",
                    ] {
                        status[field] = json!(replicas);
                    }
                }
                obj.insert("status".into(), status);
            }
        }
        "Service" => {
            let spec = obj.entry("spec").or_insert_with(|| json!({}));
            let kind_of_service = spec
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP")
                .to_string();
            spec["type"] = json!(kind_of_service);
            if kind_of_service != "ExternalName" && spec.get("clusterIP").is_none() {
                *next_ip += 1;
                let ip = format!("10.96.{}.{}", *next_ip / 256, *next_ip % 256);
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            }
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports {
                    let number = port.get("port").cloned().unwrap_or(Value::Null);
                    let p = port.as_object_mut().expect("port");
                    p.entry("protocol").or_insert_with(|| json!("TCP"));
                    p.entry("targetPort").or_insert(number);
                }
            }
            if kind_of_service == "LoadBalancer" {
                obj.entry("status")
                    .or_insert_with(|| json!({"loadBalancer": {}}));
            }
        }
        "Secret" => {
            if let Some(Value::Object(plain)) = obj.remove("stringData") {
                let data = obj
                    .entry("data")
                    .or_insert_with(|| Value::Object(Map::new()));
                for (k, v) in plain {
                    let encoded = base64::engine::general_purpose::STANDARD
                        .encode(v.as_str().unwrap_or_default());
                    data[k.as_str()] = json!(encoded);
                }
            }
            obj.entry("type").or_insert_with(|| json!("Opaque"));
        }
        "Namespace" => {
            obj.insert("status".into(), json!({"phase": "Active"}));
        }
        _ => {}
    }
}
