//! `kubectl aml certs inspect` (the summary) and `verify` (every check, exit 1 if one fails).

use aml_core::cli::{Printer, Report, Table};
use aml_core::tls::{self, CertSummary, Check, CheckStatus, VerifyOptions};
use aml_core::{Context, Error};
use serde::Serialize;

use crate::cli::{PolicyArgs, Source};
use crate::{source, summary};

#[derive(Serialize)]
struct InspectReport {
    source: String,
    summary: CertSummary,
}

impl Report for InspectReport {
    fn tables(&self, _wide: bool) -> Vec<Table> {
        vec![summary::table(&self.source, &self.summary)]
    }

    fn names(&self) -> Vec<String> {
        vec![format!("SHA256 {}", self.summary.fingerprint_sha256)]
    }
}

pub(crate) async fn inspect(
    ctx: &Context,
    source: &Source,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let loaded = source::load(ctx, source).await?;
    let chain = tls::parse_chain(&loaded.cert?)?;
    let key = loaded.key.map(|part| part.and_then(|p| tls::parse_key(&p)));
    let usable_key = key.as_ref().and_then(|k| k.as_ref().ok());
    let summary = tls::summarize(&chain, usable_key, jiff::Timestamp::now())?;
    for warning in summary::warnings(&summary) {
        out.warn(&warning);
    }
    let unjudged = usable_key.filter(|_| summary.key_matches.is_none());
    if let Some(Err(reason)) = unjudged.map(tls::public_key_der) {
        out.warn(&format!(
            "cannot tell whether the private key matches: it is {reason}"
        ));
    }
    out.report(&InspectReport {
        source: loaded.label,
        summary,
    })?;
    if let Some(Err(e)) = key {
        return Err(anyhow::Error::new(e)
            .context("the certificate is shown above; its private key could not be checked"));
    }
    Ok(())
}

#[derive(Serialize)]
struct VerifyReport {
    source: String,
    passed: bool,
    checks: Vec<Check>,
}

impl Report for VerifyReport {
    fn tables(&self, _wide: bool) -> Vec<Table> {
        let mut table = Table::new(["CHECK", "RESULT", "DETAIL"]);
        for check in &self.checks {
            let status = match check.status {
                CheckStatus::Pass => "pass",
                CheckStatus::Fail => "FAIL",
                CheckStatus::Skipped => "skipped",
            };
            table.row([check.name, status, &check.detail]);
        }
        vec![table]
    }

    fn names(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| c.name.to_string())
            .collect()
    }
}

pub(crate) async fn verify(
    ctx: &Context,
    source: &Source,
    policy: &PolicyArgs,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let loaded = source::load(ctx, source).await?;
    let chain = loaded.cert.and_then(|p| tls::parse_chain(&p));
    let key = match loaded.key {
        Some(part) => part.and_then(|p| tls::parse_key(&p)),
        None => unreachable!("clap requires --key with --cert for verify"),
    };
    let options = VerifyOptions {
        min_days: i64::from(policy.min_days),
        cname: policy.cname.clone(),
        now: jiff::Timestamp::now(),
    };
    let checks = tls::verify(chain, key, &options);
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| c.name)
        .collect();
    let report = VerifyReport {
        source: loaded.label,
        passed: failed.is_empty(),
        checks: checks.clone(),
    };
    out.report(&report)?;
    if !failed.is_empty() {
        let message = format!(
            "{} of {} checks failed: {}",
            failed.len(),
            checks.len(),
            failed.join(", ")
        );
        return Err(Error::failed(
            message,
            "each failed check says what is wrong in its DETAIL",
        )
        .into());
    }
    Ok(())
}
