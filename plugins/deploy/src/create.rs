//! `create SERVICE`: the online endpoint (if missing), the deployment, and the traffic — each
//! operation waited for in turn, as the next one needs the previous one done.

use aml_core::Context;
use aml_core::arm::{ArmRequest, Azure, Sent, submit, workspace};
use aml_core::cli::Printer;
use aml_core::{Error, Result};
use serde_json::{Value, json};

use crate::cli::CreateArgs;
use crate::guards::{self, Target};
use crate::mapping;
use crate::service::{self, Service, endpoint_id};
use crate::settings;

/// Sends one request, waited for; `false` after a dry run.
pub(crate) async fn send(
    azure: &Azure,
    request: ArmRequest,
    what: &str,
    mode: aml_core::arm::WriteMode,
    out: &mut Printer,
) -> Result<Option<Value>> {
    Ok(match submit(azure, request, what, mode, out).await? {
        Sent::Done(answer) => Some(answer.body),
        Sent::DryRun | Sent::Accepted(_) => None,
    })
}

/// Fails when a finished deployment or endpoint did not succeed.
pub(crate) fn succeeded(resource: &Value, what: &str, service: &str) -> Result<()> {
    let state = resource
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or("Succeeded");
    if state.eq_ignore_ascii_case("Succeeded") {
        return Ok(());
    }
    Err(Error::failed(
        format!("{what} ended {state}"),
        format!("`kubectl aml deploy logs {service}` shows the containers' logs"),
    ))
}

/// The curl line for a service, with the credential fetched by a command, never printed.
pub(crate) fn curl(service: &str, uri: &str, auth_mode: &str) -> String {
    let credential = match auth_mode {
        "AMLToken" => format!("$(kubectl aml deploy token {service} -o json | jq -r .accessToken)"),
        "AADToken" => "$(az account get-access-token --resource https://ml.azure.com --query accessToken -o tsv)".into(),
        _ => format!("$(kubectl aml deploy keys {service} --show-secrets -o json | jq -r .primaryKey)"),
    };
    format!(
        "curl -X POST '{uri}' -H \"Authorization: Bearer {credential}\" -H 'Content-Type: application/json' -d @request.json"
    )
}

/// `create SERVICE`.
pub(crate) async fn run(ctx: &Context, args: &CreateArgs, out: &mut Printer) -> anyhow::Result<()> {
    let (knobs, file_compute) = settings::knobs(&args.knobs, out)?;
    let mut problems = knobs.create_problems();
    problems.extend(service::name_problem("service", &args.service));
    problems.extend(service::name_problem("deployment", &args.deployment));
    if args.traffic.is_some_and(|t| !(0..=100).contains(&t)) {
        problems.push(format!(
            "--traffic {} is not a percentage (0 to 100)",
            args.traffic.unwrap_or_default()
        ));
    }
    settings::refuse_all(
        problems,
        "the v1 rules are in `kubectl aml deploy create --help`",
        out,
    )?;
    let auth = settings::auth_mode(args.auth, &knobs, "Key")?;
    let compute_name = args.compute.clone().or(file_compute).ok_or_else(|| {
        Error::usage(
            "no compute given",
            "pass --compute NAME (a Kubernetes compute: `kubectl aml attach list`)",
        )
    })?;
    let azure = ctx.azure().await?;
    let ws = workspace::get(azure).await?;
    // The look-ups are independent: one round trip for all; the first failure in this order wins.
    let (compute, model, environment, code, existing) = tokio::join!(
        service::kubernetes_compute(azure, &ws, &compute_name),
        service::asset(azure, &ws, "model", "--model", &args.model),
        service::asset(
            azure,
            &ws,
            "environment",
            "--environment",
            &args.environment
        ),
        service::asset_if_given(azure, &ws, "code", "--code", args.code.as_deref()),
        Service::find(azure, &ws, &args.service),
    );
    let (compute, model, environment, code, mut existing) =
        (compute?, model?, environment?, code?, existing?);
    if let Some(s) = existing
        .as_mut()
        .filter(|s| aml_core::arm::provisioning(&s.endpoint))
    {
        // An earlier run's endpoint is still being made: a deployment PUT now would get 409.
        out.info(&format!(
            "endpoint `{}` is still being made (an earlier run): waiting for it",
            args.service
        ));
        if !args.write.dry_run {
            let url = service::url(azure, &s.id, "");
            let what = format!("creating endpoint `{}`", args.service);
            s.endpoint =
                crate::earlier::settle(azure, &url, s.endpoint.clone(), &what, out).await?;
            succeeded(
                &s.endpoint,
                &format!("endpoint `{}`", args.service),
                &args.service,
            )?;
        }
    }
    let mut earlier = None;
    if let Some(s) = &existing {
        if s.compute()
            .is_some_and(|c| !c.eq_ignore_ascii_case(&compute_name))
        {
            return Err(Error::refused(
                format!(
                    "service `{}` runs on compute `{}`, not `{compute_name}`",
                    args.service,
                    s.compute().unwrap_or("")
                ),
                "deploy to its compute, or choose another service name",
            )
            .into());
        }
        if args.auth.is_some() && s.auth_mode() != auth {
            return Err(Error::usage(
                format!(
                    "service `{}` already uses {} auth",
                    args.service,
                    s.auth_mode()
                ),
                format!(
                    "change it with `kubectl aml deploy update {} --auth …`",
                    args.service
                ),
            )
            .into());
        }
        if let Ok(d) = s.deployment(Some(&args.deployment)) {
            // A re-run after a failure or an interruption: finish what the earlier run made.
            if crate::earlier::made(d, &model, &environment) {
                earlier = Some(d.clone());
            } else {
                return Err(Error::refused(
                format!("service `{}` already has deployment `{}`", args.service, args.deployment),
                format!("change it with `kubectl aml deploy update {} --deployment {}`, or pick another --deployment", args.service, args.deployment),
            )
            .into());
            }
        }
    }
    // The traffic split is worked out before anything is sent, so a bad --traffic leaves nothing behind.
    let mut names: Vec<String> = existing
        .as_ref()
        .map(|s| {
            s.deployments
                .iter()
                .filter_map(|d| d["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if earlier.is_none() {
        names.push(args.deployment.clone());
    }
    let current = existing.as_ref().map(Service::traffic).unwrap_or_default();
    let first = current.values().all(|v| v.as_i64().unwrap_or(0) == 0);
    let percent = args.traffic.unwrap_or(if first { 100 } else { 0 });
    let plan = (percent > 0)
        .then(|| settings::rebalance(&current, &args.deployment, percent, &names))
        .transpose()
        .map_err(|why| {
            Error::usage(
                why,
                "give --traffic so that the deployments' shares add up to 100",
            )
        })?;
    let target = Target {
        compute: &compute,
        service: &args.service,
        deployment: &args.deployment,
        gpus: knobs.gpu_cores.unwrap_or(0),
        remove_hpa: args.remove_hpa,
        dry_run: args.write.dry_run,
        token_region: (existing.is_none() && auth == "AMLToken").then_some(ws.location.as_str()),
    };
    guards::check(ctx, azure, &target, out).await?;

    let id = endpoint_id(&ws, &args.service);
    let mode = args.write.mode();
    let mut endpoint = match existing.as_ref() {
        Some(s) => s.endpoint.clone(),
        None => {
            let mut properties = json!({"authMode": auth, "compute": compute["id"]});
            if let (Some(primary), Some(secondary)) = (&knobs.primary_key, &knobs.secondary_key) {
                properties["keys"] = json!({"primaryKey": primary, "secondaryKey": secondary});
            }
            let body = json!({"location": ws.location, "identity": {"type": "SystemAssigned"}, "properties": properties});
            let what = format!("creating endpoint `{}`", args.service);
            let svc = &args.service;
            let request = service::put(azure, &id, "", body.clone());
            let made = send(azure, request, &what, mode, out)
                .await
                .and_then(|made| {
                    if let Some(made) = &made {
                        succeeded(made, &format!("endpoint `{svc}`"), svc)?;
                    }
                    Ok(made)
                })
                .map_err(|e| match ran(&e) {
                    true => e.hinted(format!("endpoint `{svc}` is left Failed: remove it with `kubectl aml deploy delete {svc} --yes`, then create it again")),
                    false => e,
                })?;
            made.unwrap_or(body)
        }
    };
    let shape = mapping::shape(&knobs);
    let mut properties = shape.properties;
    properties.insert("endpointComputeType".into(), json!("Kubernetes"));
    properties.insert("model".into(), json!(model));
    properties.insert("environmentId".into(), json!(environment));
    if let (Some(code), Some(script)) = (code, &args.scoring_script) {
        properties.insert(
            "codeConfiguration".into(),
            json!({"codeId": code, "scoringScript": script}),
        );
    }
    let mut body = json!({"location": ws.location, "sku": {"name": "Default", "capacity": shape.capacity}, "properties": properties});
    if let Some(tags) = shape.tags {
        body["tags"] = Value::Object(tags);
    }
    let what = format!(
        "creating deployment `{}` of `{}`",
        args.deployment, args.service
    );
    let request = service::put(
        azure,
        &id,
        &format!("/deployments/{}", args.deployment),
        body,
    );
    let made_endpoint = existing.is_none();
    let sent = match earlier {
        Some(d) => crate::earlier::finish(azure, request, d, &what, mode.dry_run, out).await,
        None => send(azure, request, &what, mode, out).await,
    };
    let sent = sent.and_then(|d| {
        if let Some(d) = &d {
            let what = format!("deployment `{}` of `{}`", args.deployment, args.service);
            succeeded(d, &what, &args.service)?;
        }
        Ok(d)
    });
    let deployment = match sent {
        Ok(deployment) => deployment,
        Err(e) => {
            return Err(after_failure(azure, &id, e, args, made_endpoint, out)
                .await
                .into());
        }
    };
    let endpoint = if let Some(traffic) = plan {
        endpoint["properties"]["traffic"] = Value::Object(traffic);
        let body = json!({"location": endpoint["location"], "identity": {"type": endpoint.pointer("/identity/type").and_then(Value::as_str).unwrap_or("SystemAssigned")},
            "properties": writable(&endpoint["properties"])});
        let what = format!(
            "sending {percent}% of `{}` traffic to `{}`",
            args.service, args.deployment
        );
        send(azure, service::put(azure, &id, "", body), &what, mode, out)
            .await?
            .unwrap_or(endpoint)
    } else {
        // An earlier run's deployment may have its share already.
        let share = current
            .get(&args.deployment)
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if share == 0 {
            out.info(&format!("deployment `{}` takes no traffic yet: `kubectl aml deploy update {} --deployment {} --traffic N`", args.deployment, args.service, args.deployment));
        }
        endpoint
    };
    if mode.dry_run {
        return Ok(());
    }
    // The operations' final reads already hold the service as it is now: no need to ask again.
    let mut deployments = existing.map(|s| s.deployments).unwrap_or_default();
    // An earlier run's deployment is in the list already: its final read replaces it.
    deployments.retain(|d| d["name"].as_str() != Some(args.deployment.as_str()));
    deployments.extend(deployment);
    let service = Service {
        id,
        endpoint,
        deployments,
    };
    crate::show::print_one(&service, out)?;
    let uri = service
        .endpoint
        .pointer("/properties/scoringUri")
        .and_then(Value::as_str)
        .unwrap_or("");
    out.info(&format!("scoring URI: {uri}"));
    out.info(&format!(
        "try it: {}",
        curl(&args.service, uri, service.auth_mode())
    ));
    Ok(())
}

/// Whether the error says an operation ran and ended badly (rather than being refused up front).
fn ran(e: &Error) -> bool {
    matches!(e, Error::Arm(a) if matches!(**a, aml_core::arm::Error::OperationFailed { .. }))
        || matches!(e, Error::Failed { .. })
}

/// A failed deployment stays for its logs; an endpoint this run made for a deployment that was
/// refused outright is removed again, so a rejected create leaves nothing behind.
async fn after_failure(
    azure: &Azure,
    id: &aml_core::arm::ResourceId,
    e: Error,
    args: &CreateArgs,
    made_endpoint: bool,
    out: &mut Printer,
) -> Error {
    let (svc, dep) = (&args.service, &args.deployment);
    let whole = if made_endpoint {
        format!(", or the whole new service with `kubectl aml deploy delete {svc}`")
    } else {
        String::new()
    };
    if ran(&e) {
        return e.hinted(format!(
            "deployment `{dep}` is kept, Failed, for inspection: `kubectl aml deploy logs {svc} --deployment {dep}` \
             shows why; remove it with `kubectl aml deploy delete {svc} --deployment {dep}`{whole}"
        ));
    }
    let rejected =
        matches!(&e, Error::Arm(a) if a.status().is_some_and(|s| (400..500).contains(&s)));
    if !rejected {
        // 5xx after the retries, a timeout, a dropped connection: the deployment may or may not
        // have landed. Say what this run left and how to finish or undo it.
        let left = if made_endpoint {
            format!("endpoint `{svc}` made by this run is left; ")
        } else {
            String::new()
        };
        return e.hinted(format!(
            "{left}deployment `{dep}` may or may not exist: `kubectl aml deploy show {svc}` shows what is there; \
             run the same command again to finish, or remove it with `kubectl aml deploy delete {svc} --deployment {dep}`{whole}"
        ));
    }
    if !made_endpoint {
        return e;
    }
    let request = ArmRequest::delete(service::url(azure, id, ""));
    let what = format!("removing endpoint `{svc}` again, as its deployment was refused");
    match send(azure, request, &what, args.write.mode(), out).await {
        Ok(_) => {
            out.info(&format!(
                "endpoint `{svc}` made by this run was removed again"
            ));
            e
        }
        Err(_) => e.hinted(format!(
            "endpoint `{svc}` made by this run is left with no deployment: remove it with \
             `kubectl aml deploy delete {svc} --yes`"
        )),
    }
}

/// An endpoint's properties without the read-only ones, for a PUT that changes one field.
pub(crate) fn writable(properties: &Value) -> Value {
    let mut p = properties.clone();
    if let Some(map) = p.as_object_mut() {
        for read_only in ["provisioningState", "scoringUri", "swaggerUri", "keys"] {
            map.remove(read_only);
        }
    }
    p
}
