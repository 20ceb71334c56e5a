//! `kubectl aml certs export`: the secret's pair as cert.pem and key.pem (0600), written together
//! or not at all, and the flags that re-attach a cluster with them.

use std::io::Write;
use std::path::{Path, PathBuf};

use aml_core::cli::{Printer, Report, Table};
use aml_core::tls::{self, CertSummary, Material};
use aml_core::{Context, Error};
use serde::Serialize;

use crate::cli::ExportArgs;
use crate::{source, summary};

#[derive(Serialize)]
struct Files {
    cert: String,
    key: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportReport {
    secret: String,
    files: Files,
    summary: CertSummary,
    reattach: String,
    warnings: Vec<String>,
}

impl Report for ExportReport {
    fn tables(&self, _wide: bool) -> Vec<Table> {
        let mut files = Table::new(["FILE", "PATH"]);
        files.row(["certificate", &self.files.cert]);
        files.row(["private key (0600)", &self.files.key]);
        let mut reattach = Table::new(["RE-ATTACH WITH"]);
        reattach.row([&self.reattach]);
        vec![
            files,
            summary::table(&format!("secret `{}`", self.secret), &self.summary),
            reattach,
        ]
    }

    fn names(&self) -> Vec<String> {
        vec![self.files.cert.clone(), self.files.key.clone()]
    }
}

pub(crate) async fn run(ctx: &Context, args: &ExportArgs, out: &mut Printer) -> anyhow::Result<()> {
    if !aml_core::files::can_be_dir(&args.out_dir) {
        let dir = args.out_dir.display();
        return Err(Error::usage(
            format!("output directory `{dir}` is not a directory and cannot be made one"),
            "pass another --out-dir (a missing one is created, mode 0700)",
        )
        .into());
    }
    let kube = ctx.kube().await?;
    let object = source::read_secret(kube, &args.secret.secret).await?;
    let (material, _) = Material::from_secret(&object)?;
    let chain = tls::parse_chain(&material.cert)?;
    let key = tls::parse_key(&material.key)?;
    let summary = tls::summarize(&chain, Some(&key), jiff::Timestamp::now())?;
    aml_core::files::private_dir(&args.out_dir).map_err(|source| Error::File {
        action: "create",
        path: args.out_dir.clone(),
        source,
    })?;
    let (cert_path, key_path) = write_pair(&args.out_dir, &material, args.force)?;
    let warnings = summary::warnings(&summary);
    for warning in &warnings {
        out.warn(warning);
    }
    let name = summary.primary_name().unwrap_or_else(|| "<name>".into());
    let reattach = format!(
        "kubectl aml attach aks <compute> --cluster <aks-cluster> --ssl-cert-pem-file {} --ssl-key-pem-file {} --ssl-cname {name}",
        cert_path.display(),
        key_path.display()
    );
    let report = ExportReport {
        secret: format!("{}/{}", kube.namespace, args.secret.secret),
        files: Files {
            cert: cert_path.display().to_string(),
            key: key_path.display().to_string(),
        },
        summary,
        reattach,
        warnings,
    };
    out.report(&report)?;
    Ok(())
}

/// Writes cert.pem and key.pem into `dir`: both or neither, never replacing an existing file
/// unless `force`, the key readable by its owner only.
fn write_pair(dir: &Path, material: &Material, force: bool) -> Result<(PathBuf, PathBuf), Error> {
    let targets = [dir.join("cert.pem"), dir.join("key.pem")];
    if !force && let Some(existing) = targets.iter().find(|t| t.exists()) {
        return Err(Error::refused(
            format!("refusing to overwrite `{}`", existing.display()),
            "pass --force, or another --out-dir",
        ));
    }
    let parts = [(&material.cert.bytes, 0o644), (&material.key.bytes, 0o600)];
    let mut temporaries = Vec::new();
    let written = (|| {
        for (target, (bytes, mode)) in targets.iter().zip(parts) {
            let temporary = dir.join(format!(
                ".{}.{}.tmp",
                target.file_name().unwrap_or_default().to_string_lossy(),
                std::process::id()
            ));
            write_new(&temporary, bytes, mode)?;
            temporaries.push(temporary);
        }
        Ok::<_, Error>(())
    })();
    let placed = written.and_then(|()| {
        let mut done: Vec<&PathBuf> = Vec::new();
        for (temporary, target) in temporaries.iter().zip(&targets) {
            // A hard link fails if the target appeared meanwhile; a rename replaces it (--force).
            let result = if force {
                std::fs::rename(temporary, target)
            } else {
                std::fs::hard_link(temporary, target)
            };
            if let Err(source) = result {
                for placed in done {
                    let _ = std::fs::remove_file(placed);
                }
                return Err(Error::File {
                    action: "write",
                    path: target.clone(),
                    source,
                });
            }
            done.push(target);
        }
        Ok(())
    });
    for temporary in &temporaries {
        let _ = std::fs::remove_file(temporary);
    }
    placed?;
    let [cert, key] = targets;
    Ok((cert, key))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let _ = mode;
    let file = options.open(path);
    let result = file.and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
    result.map_err(|source| {
        let _ = std::fs::remove_file(path);
        Error::File {
            action: "write",
            path: path.to_path_buf(),
            source,
        }
    })
}
