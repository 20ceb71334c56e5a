//! `update SERVICE`: the same knobs as create, checked with v1's update rules against what runs;
//! only what changed is sent — a PATCH for the replica count or tags alone, a PUT when the
//! deployment's settings change, the endpoint only for auth or traffic — and "no change" otherwise.

use aml_core::Context;
use aml_core::Error;
use aml_core::arm::{ArmRequest, workspace};
use aml_core::cli::Printer;
use serde_json::{Map, Value, json};

use crate::cli::UpdateArgs;
use crate::create::{send, succeeded, writable};
use crate::guards::{self, Target};
use crate::mapping;
use crate::service::{self, Service};
use crate::settings;

/// `update SERVICE`.
pub(crate) async fn run(ctx: &Context, args: &UpdateArgs, out: &mut Printer) -> anyhow::Result<()> {
    let (changes, _) = settings::knobs(&args.knobs, out)?;
    let nothing = changes == crate::knobs::Knobs::default();
    if nothing
        && args.model.is_none()
        && args.environment.is_none()
        && args.auth.is_none()
        && args.traffic.is_none()
        && !args.remove_hpa
    {
        return Err(Error::usage(
            "No parameters provided to update.",
            "give the settings to change (`kubectl aml deploy update --help`)",
        )
        .into());
    }
    let azure = ctx.azure().await?;
    let ws = workspace::get(azure).await?;
    // The service and the assets named are read together; their errors still come in this order.
    let (svc, model, environment) = tokio::join!(
        Service::get(azure, &ws, &args.service),
        service::asset_if_given(azure, &ws, "model", "--model", args.model.as_deref()),
        service::asset_if_given(
            azure,
            &ws,
            "environment",
            "--environment",
            args.environment.as_deref()
        ),
    );
    let svc = svc?;
    let deployment = svc.deployment(args.deployment.as_deref())?.clone();
    let dname = deployment["name"].as_str().unwrap_or("").to_string();
    let current = mapping::knobs_of(&deployment, Some(svc.auth_mode()));
    let mut problems = changes.update_problems(&current);
    if args.traffic.is_some_and(|t| !(0..=100).contains(&t)) {
        problems.push(format!(
            "--traffic {} is not a percentage (0 to 100)",
            args.traffic.unwrap_or_default()
        ));
    }
    settings::refuse_all(
        problems,
        "the v1 update rules are in `kubectl aml deploy update --help`",
        out,
    )?;
    let wanted = current.overlaid(&changes);
    let auth = settings::auth_mode(args.auth, &changes, svc.auth_mode())?;

    // Only the sections a changed knob touches are rewritten; the rest stays as Azure has it.
    let (before, after) = (mapping::shape(&current), mapping::shape(&wanted));
    let actual = writable(&deployment["properties"]);
    let mut properties = actual.as_object().cloned().unwrap_or_default();
    for (key, value) in &after.properties {
        if before.properties.get(key) != Some(value) {
            properties.insert(key.clone(), value.clone());
        }
    }
    if let Some(model) = model? {
        properties.insert("model".into(), json!(model));
    }
    if let Some(environment) = environment? {
        properties.insert("environmentId".into(), json!(environment));
    }
    let settings_changed = Value::Object(properties.clone()) != actual;
    let capacity = deployment
        .pointer("/sku/capacity")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let capacity_changed = after.capacity != before.capacity && after.capacity != capacity;
    let tags_changed = changes.tags.is_some()
        && after.tags.as_ref().map(|t| Value::Object(t.clone())) != deployment.get("tags").cloned();
    let names: Vec<String> = svc
        .deployments
        .iter()
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .collect();
    let traffic = match args.traffic {
        Some(percent) => Some(
            settings::rebalance(&svc.traffic(), &dname, percent, &names).map_err(|why| {
                Error::usage(
                    why,
                    "give --traffic so that the deployments' shares add up to 100",
                )
            })?,
        ),
        None => None,
    };
    let traffic_changed = traffic
        .as_ref()
        .is_some_and(|t| !same_traffic(t, &svc.traffic()));
    let auth_changed = auth != svc.auth_mode();

    if let Some(compute) = svc.compute() {
        let compute = service::kubernetes_compute(azure, &ws, compute).await?;
        let target = Target {
            compute: &compute,
            service: &args.service,
            deployment: &dname,
            gpus: if changes.gpu_cores.is_some() {
                wanted.gpu_cores.unwrap_or(0)
            } else {
                0
            },
            remove_hpa: args.remove_hpa,
            dry_run: args.write.dry_run,
            token_region: (auth_changed && auth == "AMLToken").then_some(ws.location.as_str()),
        };
        guards::check(ctx, azure, &target, out).await?;
    }
    if !(settings_changed || capacity_changed || tags_changed || traffic_changed || auth_changed) {
        if aml_core::arm::provisioning(&deployment) && !args.write.dry_run {
            // An earlier run's update is still going: these settings are the ones it sends.
            out.info(&format!(
                "deployment `{dname}` is still being updated (an earlier run): waiting for it"
            ));
            let url = service::url(azure, &svc.id, &format!("/deployments/{dname}"));
            let what = format!("updating deployment `{dname}` of `{}`", args.service);
            let done = crate::earlier::settle(azure, &url, deployment, &what, out).await?;
            crate::create::succeeded(&done, &what, &args.service)?;
        }
        out.info(&format!(
            "no change: service `{}` deployment `{dname}` already has these settings",
            args.service
        ));
        return Ok(());
    }
    let mode = args.write.mode();
    let deployment_tail = format!("/deployments/{dname}");
    let what = format!("updating deployment `{dname}` of `{}`", args.service);
    if settings_changed {
        let mut body = json!({"location": deployment["location"], "sku": {"name": "Default", "capacity": if capacity_changed { after.capacity } else { capacity }}, "properties": properties});
        if let Some(tags) = if tags_changed {
            after.tags.clone()
        } else {
            deployment["tags"].as_object().cloned()
        } {
            body["tags"] = Value::Object(tags);
        }
        let done = send(
            azure,
            service::put(azure, &svc.id, &deployment_tail, body),
            &what,
            mode,
            out,
        )
        .await?;
        if let Some(d) = done {
            succeeded(
                &d,
                &format!("deployment `{dname}` of `{}`", args.service),
                &args.service,
            )?;
        }
    } else if capacity_changed || tags_changed {
        let mut body = json!({});
        if capacity_changed {
            body["sku"] = json!({"name": "Default", "capacity": after.capacity});
        }
        if tags_changed {
            body["tags"] = Value::Object(after.tags.clone().unwrap_or_default());
        }
        let request = ArmRequest::patch(service::url(azure, &svc.id, &deployment_tail), body);
        send(azure, request, &what, mode, out).await?;
    }
    if auth_changed || traffic_changed {
        let mut props = writable(&svc.endpoint["properties"]);
        props["authMode"] = json!(auth);
        if let Some(t) = traffic {
            props["traffic"] = Value::Object(t);
        }
        let body = json!({"location": svc.endpoint["location"], "identity": {"type": svc.endpoint.pointer("/identity/type").and_then(Value::as_str).unwrap_or("SystemAssigned")}, "properties": props});
        let what = format!("updating endpoint `{}`", args.service);
        send(
            azure,
            service::put(azure, &svc.id, "", body),
            &what,
            mode,
            out,
        )
        .await?;
    }
    if !mode.dry_run {
        crate::show::print_one(&Service::get(azure, &ws, &args.service).await?, out)?;
    }
    Ok(())
}

fn same_traffic(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    let share = |m: &Map<String, Value>, k: &str| {
        m.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .and_then(|(_, v)| v.as_i64())
            .unwrap_or(0)
    };
    a.keys().chain(b.keys()).all(|k| share(a, k) == share(b, k))
}
