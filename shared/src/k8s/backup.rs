//! Backups of secrets taken before they are deleted or replaced: restorable YAML in a new 0600 file,
//! synced to disk before the original is touched.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;
use kube::api::DynamicObject;
use serde_json::{Map, Value, json};

/// Annotations that are not worth restoring (kubectl's client-side apply copy repeats the data).
const DROPPED_ANNOTATIONS: [&str; 1] = ["kubectl.kubernetes.io/last-applied-configuration"];

/// The secret as a manifest `kubectl create -f` restores: server-set metadata left out.
pub fn manifest(secret: &DynamicObject) -> Value {
    let meta = &secret.metadata;
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(meta.name));
    metadata.insert("namespace".into(), json!(meta.namespace));
    if let Some(labels) = meta.labels.as_ref().filter(|l| !l.is_empty()) {
        metadata.insert("labels".into(), json!(labels));
    }
    let annotations: Map<String, Value> = meta
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| !DROPPED_ANNOTATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if !annotations.is_empty() {
        metadata.insert("annotations".into(), Value::Object(annotations));
    }
    let mut manifest = json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata});
    for field in ["type", "data", "immutable"] {
        if let Some(value) = secret.data.get(field) {
            manifest[field] = value.clone();
        }
    }
    manifest
}

/// Checks, before anything is changed, that backups can go to `dir` (an existing directory, or one
/// that can be made); `skip_flag` names the flag that goes on without a backup, if any.
pub fn check_dir(dir: &Path, skip_flag: Option<&str>) -> Result<(), Error> {
    // A missing directory is made (0700) when the first backup is written.
    if crate::files::can_be_dir(dir) {
        return Ok(());
    }
    let hint = match skip_flag {
        Some(flag) => {
            format!("pass another --backup-dir, or {flag} to go on without a copy")
        }
        None => "pass another --backup-dir".to_string(),
    };
    let message = format!(
        "backup directory `{}` is not a directory and cannot be made one",
        dir.display()
    );
    Err(Error::usage(message, hint))
}

/// Writes the secret to a new file in `dir` (never overwriting), mode 0600, synced; returns its path.
pub fn save(dir: &Path, secret: &DynamicObject, now: jiff::Timestamp) -> Result<PathBuf, Error> {
    let text = crate::cli::output::to_yaml(&manifest(secret)).map_err(|e| Error::Failed {
        message: format!("cannot encode the secret backup: {e}"),
        hint: None,
    })?;
    crate::files::private_dir(dir).map_err(|source| Error::File {
        action: "create the backup directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let name = secret.metadata.name.as_deref().unwrap_or("secret");
    let namespace = secret.metadata.namespace.as_deref().unwrap_or("default");
    let stamp = now.strftime("%Y%m%dT%H%M%SZ");
    for attempt in 1..100 {
        let suffix = if attempt == 1 {
            String::new()
        } else {
            format!("-{attempt}")
        };
        let path = dir.join(format!("{name}-{namespace}-{stamp}{suffix}.yaml"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(Error::File {
                    action: "create the backup file",
                    path,
                    source,
                });
            }
        };
        // The original is deleted next: the copy must be on disk first.
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(source) = written {
            let _ = std::fs::remove_file(&path);
            return Err(Error::File {
                action: "write the backup file",
                path,
                source,
            });
        }
        if let Ok(directory) = std::fs::File::open(dir) {
            let _ = directory.sync_all();
        }
        return Ok(path);
    }
    Err(Error::failed(
        format!(
            "too many backups named `{name}-{namespace}-{stamp}*.yaml` in `{}`",
            dir.display()
        ),
        "choose another --backup-dir",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "azuremlfessl", "namespace": "default", "uid": "u", "resourceVersion": "7",
                         "creationTimestamp": "2026-11-01T00:00:00Z", "managedFields": [{"manager": "x"}],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "me"}},
            "type": "Opaque", "data": {"cert.pem": "Q0VSVA==", "key.pem": "S0VZ"}
        }))
        .unwrap()
    }

    #[test]
    fn manifest_keeps_what_restores_and_drops_server_fields() {
        assert_eq!(
            manifest(&secret()),
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "azuremlfessl", "namespace": "default", "annotations": {"keep": "me"}},
                   "type": "Opaque", "data": {"cert.pem": "Q0VSVA==", "key.pem": "S0VZ"}})
        );
    }

    #[test]
    fn backups_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let first = save(dir.path(), &secret(), now).unwrap();
        let second = save(dir.path(), &secret(), now).unwrap();
        assert_ne!(first, second);
        assert!(
            first.ends_with("azuremlfessl-default-20270115T080000Z.yaml"),
            "{}",
            first.display()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&first).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let text = std::fs::read_to_string(&first).unwrap();
        assert!(text.contains("cert.pem: Q0VSVA=="), "{text}");
        assert!(!text.contains("resourceVersion"), "{text}");
    }
}
