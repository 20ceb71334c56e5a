//! `keys`, `regen-key`, `token` and `logs`: the service's credentials (keys masked unless
//! `--show-secrets`) and its containers' logs.

use aml_core::Context;
use aml_core::Error;
use aml_core::arm::ArmRequest;
use aml_core::cli::{Printer, Table};
use serde_json::json;

use crate::cli::{Container, KeyName, KeysArgs, LogsArgs, RegenArgs, ServiceArg};
use crate::create::send;
use crate::service::{self, Service};

fn mask(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("****{tail}")
}

fn needs(svc: &Service, mode: &str) -> Result<(), Error> {
    if svc.auth_mode() == mode {
        return Ok(());
    }
    let (now, how) = match svc.auth_mode() {
        "AMLToken" => (
            "token",
            format!("get a token with `kubectl aml deploy token {}`", svc.name()),
        ),
        "AADToken" => (
            "Entra ID token",
            "get a token with `az account get-access-token --resource https://ml.azure.com`"
                .to_string(),
        ),
        _ => (
            "key",
            format!("get the keys with `kubectl aml deploy keys {}`", svc.name()),
        ),
    };
    Err(Error::usage(
        format!("service `{}` uses {now} auth", svc.name()),
        how,
    ))
}

/// `keys SERVICE`.
pub(crate) async fn keys(ctx: &Context, args: &KeysArgs, out: &mut Printer) -> anyhow::Result<()> {
    let (azure, svc) = Service::load(ctx, &args.service).await?;
    needs(&svc, "Key")?;
    let answer = azure
        .client
        .send(&ArmRequest::post(
            service::url(azure, &svc.id, "/listKeys"),
            None,
        ))
        .await?
        .body;
    let shown = |field: &str| {
        let key = answer[field].as_str().unwrap_or("");
        if args.show_secrets {
            key.to_string()
        } else {
            mask(key)
        }
    };
    let (primary, secondary) = (shown("primaryKey"), shown("secondaryKey"));
    let keys = json!({"primaryKey": primary, "secondaryKey": secondary});
    out.document(&keys, || {
        let mut table = Table::new(["KEY", "VALUE"]);
        table.row(["primary", primary.as_str()]);
        table.row(["secondary", secondary.as_str()]);
        table.to_string().trim_end().to_string()
    })?;
    if !args.show_secrets {
        out.info("keys are masked: --show-secrets prints them");
    }
    Ok(())
}

/// `regen-key SERVICE --key primary|secondary [--value V]`.
pub(crate) async fn regen(
    ctx: &Context,
    args: &RegenArgs,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let (azure, svc) = Service::load(ctx, &args.service).await?;
    needs(&svc, "Key")?;
    let which = match args.key {
        KeyName::Primary => "Primary",
        KeyName::Secondary => "Secondary",
    };
    let mut body = json!({"keyType": which});
    if let Some(value) = &args.value {
        body["keyValue"] = json!(value);
    }
    let request = ArmRequest::post(service::url(azure, &svc.id, "/regenerateKeys"), Some(body));
    let what = format!(
        "replacing the {} key of `{}`",
        which.to_lowercase(),
        args.service
    );
    send(azure, request, &what, args.write.mode(), out).await?;
    if !args.write.dry_run {
        out.info(&format!(
            "{} key of `{}` replaced; `kubectl aml deploy keys {} --show-secrets` shows it",
            which.to_lowercase(),
            args.service,
            args.service
        ));
    }
    Ok(())
}

fn when(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| epoch.to_string())
}

/// `token SERVICE`.
pub(crate) async fn token(
    ctx: &Context,
    args: &ServiceArg,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let (azure, svc) = Service::load(ctx, &args.service).await?;
    needs(&svc, "AMLToken")?;
    let answer = azure
        .client
        .send(&ArmRequest::post(
            service::url(azure, &svc.id, "/token"),
            None,
        ))
        .await?
        .body;
    let expiry = answer["expiryTimeUtc"].as_i64().unwrap_or(0);
    let refresh = answer["refreshAfterTimeUtc"].as_i64().unwrap_or(0);
    let view = json!({"accessToken": answer["accessToken"], "tokenType": answer["tokenType"],
        "expiryTimeUtc": expiry, "refreshAfterTimeUtc": refresh, "expiresOn": when(expiry), "refreshAfter": when(refresh)});
    if out.documents() {
        out.document(&view, String::new)?;
    } else {
        out.line(answer["accessToken"].as_str().unwrap_or(""))?;
        out.info(&format!(
            "expires {}; ask for a new one after {}",
            when(expiry),
            when(refresh)
        ));
    }
    Ok(())
}

/// `logs SERVICE`.
pub(crate) async fn logs(ctx: &Context, args: &LogsArgs, out: &mut Printer) -> anyhow::Result<()> {
    let (azure, svc) = Service::load(ctx, &args.service).await?;
    let deployment = svc.deployment(args.deployment.as_deref())?;
    let name = deployment["name"].as_str().unwrap_or("");
    let container = match args.container {
        Container::InferenceServer => "InferenceServer",
        Container::StorageInitializer => "StorageInitializer",
    };
    let body = json!({"containerType": container, "tail": args.tail});
    let url = service::url(azure, &svc.id, &format!("/deployments/{name}/getLogs"));
    let answer = azure
        .client
        .send(&ArmRequest::post(url, Some(body)))
        .await?
        .body;
    match answer["content"].as_str() {
        Some(text) => out.line(text.trim_end())?,
        None => out.info("no logs yet"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_keep_only_the_last_four_characters() {
        assert_eq!(super::mask("abcdefgh12345678"), "****5678");
        assert_eq!(super::mask("ab"), "****ab");
    }
}
