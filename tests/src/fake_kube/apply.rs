//! PATCH with `application/apply-patch+yaml`: server-side apply, creating the object if missing,
//! with field ownership and conflict answers as the real server words them.

use serde_json::{Value, json};

use super::managed::{self, display_path};
use super::ownership::{Ownership, Write};
use super::patch::strategic_merge;
use super::route::ObjectRef;
use super::server::Call;
use super::status;
use super::store::{Store, now};
use super::verbs::Answer;

pub(super) fn apply(store: &mut Store, call: &Call, object: &ObjectRef) -> Answer {
    let (kind, namespace, name) = (object.kind, object.namespace.as_str(), object.name.as_str());
    let Some(manager) = call.param("fieldManager").filter(|m| !m.is_empty()) else {
        return Err(status::failure(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            None,
        ));
    };
    if object.sub.is_some() {
        return Err(status::method_not_allowed("PATCH (apply) on a subresource"));
    }
    let text = std::str::from_utf8(&call.body)
        .map_err(|_| status::bad_request("the apply body is not UTF-8"))?;
    let mut config: Value = serde_saphyr::from_str(text)
        .map_err(|e| status::bad_request(format!("error decoding YAML: {e}")))?;
    if config["metadata"]["name"]
        .as_str()
        .is_some_and(|n| n != name)
    {
        let sent = config["metadata"]["name"].as_str().unwrap_or_default();
        return Err(status::bad_request(format!(
            "the name of the object ({sent}) does not match the name on the URL ({name})"
        )));
    }
    config["metadata"]["name"] = json!(name);
    let force = call.param("force") == Some("true");
    let Some(live) = store.get(kind, namespace, name).cloned() else {
        let created = store.create(
            kind,
            namespace,
            config.clone(),
            Ownership::Apply(manager, &config),
            call.dry_run(),
        )?;
        return Ok((201, created));
    };
    let merge = |target: &mut Value, config: &Value| strategic_merge(target, config, &mut vec![]);
    match managed::apply(&live, &config, manager, force, &now(), merge)
        .map_err(status::bad_request)?
    {
        Ok(result) => {
            let replaced = store.replace(
                kind,
                namespace,
                name,
                result,
                Write::by(Ownership::AsGiven).dry(call.dry_run()),
            )?;
            Ok((200, replaced))
        }
        Err(conflicts) => {
            let manager_of = |c: &managed::Conflict| match &c.subresource {
                Some(sub) => format!(
                    "conflict with \"{}\" with subresource \"{sub}\" using {}",
                    c.manager, c.api_version
                ),
                None => format!("conflict with \"{}\" using {}", c.manager, c.api_version),
            };
            let fields: Vec<String> = conflicts.iter().map(|c| display_path(&c.path)).collect();
            let message = if conflicts.len() == 1 {
                format!(
                    "Apply failed with 1 conflict: {}: {}",
                    manager_of(&conflicts[0]),
                    fields[0]
                )
            } else {
                let lines: Vec<String> = conflicts
                    .iter()
                    .map(|c| format!("{}: {}", manager_of(c), display_path(&c.path)))
                    .collect();
                format!(
                    "Apply failed with {} conflicts: {}",
                    conflicts.len(),
                    lines.join("\n")
                )
            };
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| json!({"reason": "FieldManagerConflict", "message": manager_of(c), "field": display_path(&c.path)}))
                .collect();
            let details =
                json!({"name": name, "group": kind.group, "kind": kind.plural, "causes": causes});
            Err(status::failure(409, "Conflict", message, Some(details)))
        }
    }
}
