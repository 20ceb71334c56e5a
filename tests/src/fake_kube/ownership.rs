//! Who owns the fields a write sets (`metadata.managedFields`), and how a replace is done.

use serde_json::Value;

use super::kinds::KindDef;
use super::store::now;

/// Who becomes the owner of the fields a write sets (`metadata.managedFields`).
#[derive(Debug, Clone, Copy)]
pub enum Ownership<'a> {
    /// A create, update or patch by this manager: it takes every field it changed.
    Update(&'a str),
    /// A server-side apply that creates the object: the manager owns exactly the applied fields.
    Apply(&'a str, &'a Value),
    /// Keep the `managedFields` the object already carries (computed by server-side apply).
    AsGiven,
}

pub(super) fn own(
    ownership: Ownership,
    old: Option<&Value>,
    new: &mut Value,
    kind: &KindDef,
    subresource: Option<&str>,
) {
    match ownership {
        Ownership::Update(manager) => {
            super::managed::record_update(
                old,
                new,
                manager,
                &kind.api_version(),
                subresource,
                &now(),
            );
        }
        Ownership::Apply(manager, config) => {
            let entry = super::managed::Entry {
                manager: manager.into(),
                operation: "Apply".into(),
                api_version: kind.api_version(),
                subresource: None,
                fields: super::managed::field_set(config),
                time: now(),
            };
            super::managed::set_entries(new, &[entry]);
        }
        Ownership::AsGiven => {}
    }
}

/// How a replace is done: its precondition, owner, subresource and dry-run flag.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    /// The resourceVersion the caller read; a different current one is a conflict.
    pub expected_rv: Option<&'a str>,
    /// Who owns the changed fields.
    pub ownership: Ownership<'a>,
    /// `status` limits the write to status; `scale` records the manager with that subresource.
    pub subresource: Option<&'a str>,
    /// `dryRun=All`: check and answer, store nothing.
    pub dry_run: bool,
}

impl<'a> Write<'a> {
    /// A write owned as given, with no precondition, on the main resource, for real.
    pub fn by(ownership: Ownership<'a>) -> Self {
        Self {
            expected_rv: None,
            ownership,
            subresource: None,
            dry_run: false,
        }
    }

    /// Requires the object to still be at this resourceVersion.
    pub fn expecting(self, expected_rv: Option<&'a str>) -> Self {
        Self {
            expected_rv,
            ..self
        }
    }

    /// Writes through a subresource.
    pub fn through(self, subresource: Option<&'a str>) -> Self {
        Self {
            subresource,
            ..self
        }
    }

    /// Only checks, when `dry_run`.
    pub fn dry(self, dry_run: bool) -> Self {
        Self { dry_run, ..self }
    }
}
