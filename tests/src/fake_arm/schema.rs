//! Checks a request against its operation in the official spec: path and query parameters, and
//! the body's types, required and read-only properties, enums, patterns and ranges, with
//! `allOf` inheritance and `discriminator` subtypes (a compute's `computeType`).
//!
//! Stricter than ARM in one way, on purpose: a property the schema does not declare is refused.
//! The real resource providers mostly ignore such a property, which would hide a misspelt field
//! in our own bodies.

use std::collections::{HashMap, HashSet};

use regex::Regex;
use serde_json::Value;

use super::spec::{Node, Operation, Specs};

/// What an object schema allows, gathered through `allOf`.
#[derive(Default)]
struct Shape<'a> {
    properties: Vec<(&'a str, Node<'a>)>,
    required: HashSet<&'a str>,
    additional: Option<Node<'a>>,
    free_form: bool,
    discriminator: Option<(&'a str, Node<'a>)>,
}

/// Checks path, query and body; returns every problem found.
pub fn check_request(
    specs: &Specs,
    operation: &Operation<'_>,
    query: &HashMap<String, String>,
    body: Option<&Value>,
) -> Vec<String> {
    let mut problems = vec![];
    for parameter in &operation.parameters {
        let p = parameter.value;
        let name = p["name"].as_str().unwrap_or("");
        let required = p["required"].as_bool().unwrap_or(false);
        match p["in"].as_str() {
            Some("path") => {
                if let Some(value) = operation.path_values.get(name) {
                    check_scalar(p, &Value::String(value.clone()), name, &mut problems);
                }
            }
            Some("query") => match query.get(name) {
                Some(value) => check_scalar(p, &Value::String(value.clone()), name, &mut problems),
                None if required => {
                    problems.push(format!("the query parameter `{name}` is required"))
                }
                None => {}
            },
            Some("body") => match body {
                Some(value) if !value.is_null() => {
                    let schema = Node {
                        value: &p["schema"],
                        ..*parameter
                    };
                    validate(specs, schema, value, "", &mut problems);
                }
                _ if required => problems.push("a request body is required".into()),
                _ => {}
            },
            _ => {}
        }
    }
    problems
}

fn at(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn nullable(node: &Value) -> bool {
    node["x-nullable"].as_bool().unwrap_or(false)
}

fn read_only(node: &Value) -> bool {
    node["readOnly"].as_bool().unwrap_or(false)
        || node["x-ms-mutability"]
            .as_array()
            .is_some_and(|m| m.len() == 1 && m[0] == "read")
}

/// Validates `value` against the schema at `node`, adding problems found under `path`.
fn validate(specs: &Specs, node: Node<'_>, value: &Value, path: &str, out: &mut Vec<String>) {
    let wrapper_nullable = nullable(node.value);
    let node = specs.deref(node);
    if value.is_null() {
        if !(wrapper_nullable || nullable(node.value)) {
            out.push(format!("{path}: null is not allowed"));
        }
        return;
    }
    let schema = node.value;
    // A declared type wins: some string enums carry a stray `additionalProperties: false`.
    let is_object = match schema["type"].as_str() {
        Some(kind) => kind == "object",
        None => {
            schema.get("properties").is_some()
                || schema.get("allOf").is_some()
                || schema["additionalProperties"].is_object()
        }
    };
    if is_object {
        let Some(object) = value.as_object() else {
            out.push(format!("{path}: expected an object, got {value}"));
            return;
        };
        let mut shape = Shape::default();
        gather(specs, node, &mut shape);
        if let Some((field, base)) = shape.discriminator
            && let Some(kind) = object.get(field).and_then(Value::as_str)
        {
            match subtype(specs, base, kind) {
                Some(sub) => {
                    shape = Shape::default();
                    gather(specs, sub, &mut shape);
                }
                None => out.push(format!("{}: unknown {field} `{kind}`", at(path, field))),
            }
        }
        check_object(specs, &shape, object, path, out);
        return;
    }
    check_scalar(schema, value, path, out);
    if schema["type"] == "array"
        && let Some(items) = value.as_array()
    {
        let item = Node {
            value: &schema["items"],
            ..node
        };
        for (i, v) in items.iter().enumerate() {
            validate(specs, item, v, &format!("{path}[{i}]"), out);
        }
    }
}

fn check_object(
    specs: &Specs,
    shape: &Shape<'_>,
    object: &serde_json::Map<String, Value>,
    path: &str,
    out: &mut Vec<String>,
) {
    for name in &shape.required {
        if object.get(*name).is_none_or(Value::is_null) {
            out.push(format!("{}: required", at(path, name)));
        }
    }
    for (key, v) in object {
        let here = at(path, key);
        if let Some((_, property)) = shape.properties.iter().find(|(n, _)| n == key) {
            if read_only(property.value) || read_only(specs.deref(*property).value) {
                out.push(format!("{here}: read-only, must not be sent"));
            } else {
                validate(specs, *property, v, &here, out);
            }
        } else if let Some(additional) = shape.additional {
            validate(specs, additional, v, &here, out);
        } else if !shape.free_form {
            out.push(format!("{here}: not a property of this schema"));
        }
    }
}

/// Collects properties, required names and the discriminator through `allOf`.
fn gather<'a>(specs: &'a Specs, node: Node<'a>, shape: &mut Shape<'a>) {
    let node = specs.deref(node);
    let schema = node.value;
    for part in schema["allOf"].as_array().into_iter().flatten() {
        gather(
            specs,
            Node {
                value: part,
                name: None,
                ..node
            },
            shape,
        );
    }
    if let Some(field) = schema["discriminator"].as_str() {
        shape.discriminator = Some((field, node));
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        shape.properties.retain(|(n, _)| n != name);
        shape.properties.push((
            name.as_str(),
            Node {
                value: property,
                name: None,
                ..node
            },
        ));
    }
    for name in schema["required"].as_array().into_iter().flatten() {
        shape.required.extend(name.as_str());
    }
    match &schema["additionalProperties"] {
        Value::Bool(true) => shape.free_form = true,
        Value::Object(_) => {
            shape.additional = Some(Node {
                value: &schema["additionalProperties"],
                name: None,
                ..node
            })
        }
        _ => {}
    }
    if schema["type"] == "object"
        && schema.get("properties").is_none()
        && schema.get("allOf").is_none()
        && schema.get("additionalProperties").is_none()
    {
        shape.free_form = true;
    }
}

/// The definition deriving from `base` whose discriminator value is `kind` (case-insensitive).
fn subtype<'a>(specs: &'a Specs, base: Node<'a>, kind: &str) -> Option<Node<'a>> {
    let base_name = base.name?;
    let reference = format!("#/definitions/{base_name}");
    specs.definitions(base.file).find_map(|(name, def)| {
        let derives = def.value["allOf"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["$ref"].as_str() == Some(reference.as_str()));
        let value = def.value["x-ms-discriminator-value"]
            .as_str()
            .unwrap_or(name);
        (derives && value.eq_ignore_ascii_case(kind)).then_some(def)
    })
}

/// Type, enum, pattern, length, range and format of a scalar (or a path/query parameter).
fn check_scalar(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let kind = schema["type"].as_str().unwrap_or("");
    let ok = match kind {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        _ => true,
    };
    if !ok {
        out.push(format!("{path}: expected {kind}, got {value}"));
        return;
    }
    if let Some(options) = schema["enum"].as_array() {
        // ARM compares enum values without regard to case (the v2 SDK sends `Systemassigned`).
        let matches = |o: &Value| match (o.as_str(), value.as_str()) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => o == value,
        };
        if !options.iter().any(matches) {
            let list: Vec<String> = options.iter().map(|o| o.to_string()).collect();
            out.push(format!("{path}: {value} is not one of {}", list.join(", ")));
        }
    }
    if let Some(text) = value.as_str() {
        if let Some(pattern) = schema["pattern"].as_str() {
            let regex = Regex::new(pattern).expect("spec pattern");
            if !regex.is_match(text) {
                out.push(format!("{path}: `{text}` does not match {pattern}"));
            }
        }
        let length = text.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|min| length < min) {
            out.push(format!("{path}: shorter than {}", schema["minLength"]));
        }
        if schema["maxLength"].as_u64().is_some_and(|max| length > max) {
            out.push(format!("{path}: longer than {}", schema["maxLength"]));
        }
        if schema["format"] == "uuid" && !is_uuid(text) {
            out.push(format!("{path}: `{text}` is not a UUID"));
        }
    }
    if let Some(n) = value.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|min| n < min) {
            out.push(format!("{path}: below the minimum {}", schema["minimum"]));
        }
        if schema["maximum"].as_f64().is_some_and(|max| n > max) {
            out.push(format!("{path}: above the maximum {}", schema["maximum"]));
        }
        if schema["format"] == "int32" && (n < i32::MIN as f64 || n > i32::MAX as f64) {
            out.push(format!("{path}: outside int32"));
        }
    }
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests;
