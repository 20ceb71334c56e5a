//! `aks` (attach an existing AKS cluster) and `create` (have Azure ML create one): legacy `AKS`
//! inference computes, checked as the v1 docs require before the PUT is sent.

use aml_core::Context;
use aml_core::arm::{ArmRequest, Azure, ML_API};
use aml_core::cli::Printer;
use aml_core::{Error, Result};
use serde_json::Value;

use crate::body::{self, FrontEnd, Network, NewCluster, Tls};
use crate::checks::{self, Findings, Kind};
use crate::cli::{AksArgs, CreateArgs, FrontEndArgs, LoadBalancer, Purpose};
use crate::cluster::{self, Cluster};
use crate::resume::{self, Earlier};
use crate::workspace::{self, Workspace};
use crate::{finish, show};

/// The TLS and load-balancer flags, checked: impossible combinations are usage errors at once;
/// the certificate pair and the ILB/Microsoft-certificate rule are findings.
fn front_end(args: &FrontEndArgs, findings: &mut Findings) -> Result<FrontEnd> {
    let custom = [
        args.ssl_cert_pem_file.is_some(),
        args.ssl_key_pem_file.is_some(),
        args.ssl_cname.is_some(),
    ];
    if args.ssl_leaf_domain_label.is_some() && custom.iter().any(|b| *b) {
        return Err(Error::usage(
            "--ssl-leaf-domain-label (a Microsoft certificate) cannot be combined with your own certificate",
            "use either --ssl-leaf-domain-label, or --ssl-cert-pem-file, --ssl-key-pem-file and --ssl-cname",
        ));
    }
    if custom.iter().any(|b| *b) && !custom.iter().all(|b| *b) {
        return Err(Error::usage(
            "--ssl-cert-pem-file, --ssl-key-pem-file and --ssl-cname go together",
            "give all three to use your own certificate",
        ));
    }
    if args.ssl_overwrite_existing_domain && args.ssl_leaf_domain_label.is_none() {
        return Err(Error::usage(
            "--ssl-overwrite-existing-domain needs --ssl-leaf-domain-label",
            "add --ssl-leaf-domain-label LABEL",
        ));
    }
    let ilb = args.load_balancer_type == LoadBalancer::InternalLoadBalancer;
    if args.load_balancer_subnet.is_some() && !ilb {
        return Err(Error::usage(
            "--load-balancer-subnet applies only to an internal load balancer",
            "add --load-balancer-type InternalLoadBalancer",
        ));
    }
    let tls = match (
        &args.ssl_leaf_domain_label,
        &args.ssl_cert_pem_file,
        &args.ssl_key_pem_file,
        &args.ssl_cname,
    ) {
        (Some(label), ..) => {
            if ilb {
                findings.fail(
                    Kind::Input,
                    "a Microsoft certificate (--ssl-leaf-domain-label) is not supported with an internal load balancer",
                    "use your own certificate: --ssl-cert-pem-file, --ssl-key-pem-file and --ssl-cname",
                );
            }
            Tls::Microsoft {
                label: label.clone(),
                overwrite: args.ssl_overwrite_existing_domain,
            }
        }
        (None, Some(cert), Some(key), Some(cname)) => {
            let (cert_text, key_text, failed) = checks::tls_problems(cert, key, cname)?;
            if !failed.is_empty() {
                findings.fail(
                    Kind::Input,
                    format!("the certificate and key fail checks: {}", failed.join("; ")),
                    format!("`kubectl aml certs verify --cert {} --key {} --cname {cname}` explains each check", cert.display(), key.display()),
                );
            }
            Tls::Custom {
                cert: cert_text,
                key: key_text,
                cname: cname.clone(),
            }
        }
        _ => Tls::Off,
    };
    Ok(FrontEnd {
        purpose: args.cluster_purpose,
        load_balancer: args.load_balancer_type,
        subnet: args.load_balancer_subnet.clone(),
        tls,
    })
}

/// Name format and uniqueness in the workspace.
fn check_name(name: &str, computes: &[Value], ws: &Workspace, findings: &mut Findings) {
    if let Some(problem) = checks::name_problem(name) {
        findings.fail(Kind::Input, problem, "choose another name");
    }
    if computes.iter().any(|c| {
        c["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    }) {
        findings.fail(
            Kind::State,
            format!("compute `{name}` already exists in workspace `{}`; creating a compute is not idempotent", ws.id.name()),
            format!("pick another name, or detach it first: `kubectl aml attach detach {name}`"),
        );
    }
}

/// `aks NAME`.
pub(crate) async fn attach(ctx: &Context, args: &AksArgs, out: &mut Printer) -> anyhow::Result<()> {
    let mut findings = Findings::default();
    let fe = front_end(&args.front_end, &mut findings)?;
    let azure = ctx.azure().await?;
    let ws = workspace::get(azure).await?;
    let id = cluster::cluster_id(
        azure,
        args.resource_id.as_deref(),
        args.cluster.as_deref(),
        args.cluster_resource_group.as_deref(),
        false,
    )?;
    if !id.is_type("Microsoft.ContainerService/managedClusters") {
        return Err(Error::usage(
            "an AKS compute needs an AKS cluster (Microsoft.ContainerService/managedClusters)",
            "attach an Arc-connected cluster with `kubectl aml attach k8s`",
        )
        .into());
    }
    let computes = ws.computes(azure).await?;
    let made = Earlier {
        kind: "AKS",
        cluster: Some(&id),
        namespace: None,
    };
    if resume::earlier(azure, &ws, &args.name, &computes, made, &args.write, out).await? {
        return Ok(());
    }
    check_name(&args.name, &computes, &ws, &mut findings);
    for other in workspace::using_cluster(&computes, &id, &args.name) {
        findings.fail(
            Kind::State,
            format!("cluster `{}` is already attached as compute `{}`; a second attachment breaks the first", id.name(), other["name"].as_str().unwrap_or("")),
            format!("detach `{}` first (`kubectl aml attach detach {}`), then attach again", other["name"].as_str().unwrap_or(""), other["name"].as_str().unwrap_or("")),
        );
    }
    match cluster::fetch(azure, &id).await? {
        Some(cluster) => {
            cluster.check_aks(azure, fe.purpose, &mut findings).await?;
            in_cluster(ctx, &cluster, &mut findings).await?;
        }
        None => findings.fail(
            Kind::Missing,
            format!("cluster `{}` not found in resource group `{}`", id.name(), id.resource_group()),
            "check --cluster, --cluster-resource-group (default -g) or --resource-id (`az aks list -o table`)",
        ),
    }
    findings.conclude(args.write.skip_checks, out)?;
    let request = ArmRequest::create(
        show::compute_url(azure, &ws.id, &args.name, &[]),
        body::aks_attach(&ws.location, &id.to_string(), &fe),
    );
    let what = format!(
        "attaching cluster `{}` as compute `{}`",
        id.name(),
        args.name
    );
    finish::created(azure, &ws, &args.name, request, &what, &args.write, out).await
}

/// azureml-fe must not already run in the cluster (another attachment, or one not cleaned up).
async fn in_cluster(ctx: &Context, cluster: &Cluster, findings: &mut Findings) -> Result<()> {
    let Some(kube) = cluster.kube(ctx, findings).await else {
        return Ok(());
    };
    let present = cluster::azureml_fe_present(kube).await?;
    if !present.is_empty() {
        findings.fail(
            Kind::State,
            format!("azureml-fe already runs in cluster `{}` ({} of 8 objects in namespace `{}`): another attachment uses it, or an old one was not cleaned up", cluster.id.name(), present.len(), kube.namespace),
            "`kubectl aml fe status` shows them; if no attachment uses the cluster, `kubectl aml fe cleanup` removes them",
        );
    }
    Ok(())
}

/// `create NAME`.
pub(crate) async fn create(
    ctx: &Context,
    args: &CreateArgs,
    out: &mut Printer,
) -> anyhow::Result<()> {
    let mut findings = Findings::default();
    let fe = front_end(&args.front_end, &mut findings)?;
    let azure = ctx.azure().await?;
    let ws = workspace::get(azure).await?;
    let computes = ws.computes(azure).await?;
    let made = Earlier {
        kind: "AKS",
        cluster: None,
        namespace: None,
    };
    if resume::earlier(azure, &ws, &args.name, &computes, made, &args.write, out).await? {
        return Ok(());
    }
    check_name(&args.name, &computes, &ws, &mut findings);
    let location = args.location.clone().unwrap_or_else(|| ws.location.clone());
    let agent_count = args.agent_count.unwrap_or(match fe.purpose {
        Purpose::FastProd => 3,
        Purpose::DevTest => 1,
    });
    let sizes_id = format!(
        "/subscriptions/{}/providers/Microsoft.MachineLearningServices/locations/{location}/vmSizes",
        azure.subscription()?
    );
    let sizes = azure
        .client
        .send(&ArmRequest::get(
            azure.client.url(&sizes_id, &[("api-version", ML_API)]),
        ))
        .await;
    let (sizes, sized) = match sizes {
        Ok(answer) => (
            answer.body["value"].as_array().cloned().unwrap_or_default(),
            true,
        ),
        Err(e) => {
            findings.lookup_failed(
                &format!("checking that VM size `{}` is offered", args.vm_size),
                e.into(),
            )?;
            (vec![], false)
        }
    };
    let cpus = checks::vcpus_of(&sizes, &args.vm_size);
    if cpus.is_none() && sized {
        findings.fail(
            Kind::Input,
            format!("VM size `{}` is not offered in {location}", args.vm_size),
            format!("`az vm list-sizes -l {location} -o table` lists the sizes there"),
        );
    }
    if let Some((message, hint)) = checks::capacity_problem(
        fe.purpose,
        agent_count.into(),
        cpus.map(|c| c * u64::from(agent_count)),
    ) {
        findings.fail(
            Kind::Input,
            message.replace("the cluster has", "--agent-count gives"),
            hint.replace(
                "add nodes (`az aks scale`)",
                "raise --agent-count or choose a larger --vm-size",
            ),
        );
    }
    let network = network(azure, args, &mut findings)?;
    findings.conclude(args.write.skip_checks, out)?;
    let cluster = NewCluster {
        location,
        agent_count,
        vm_size: args.vm_size.clone(),
        network,
    };
    let request = ArmRequest::create(
        show::compute_url(azure, &ws.id, &args.name, &[]),
        body::aks_create(&ws.location, &cluster, &fe),
    );
    let what = format!("creating AKS compute `{}` (about 10 minutes)", args.name);
    finish::created(azure, &ws, &args.name, request, &what, &args.write, out).await
}

/// The vnet options, with the spec's address patterns and the DNS IP inside the service range.
fn network(azure: &Azure, args: &CreateArgs, findings: &mut Findings) -> Result<Option<Network>> {
    let (Some(vnet), Some(subnet)) = (&args.vnet_name, &args.subnet_name) else {
        return Ok(None);
    };
    let group = match &args.vnet_resource_group {
        Some(g) => g.as_str(),
        None => azure.resource_group()?,
    };
    for (flag, value) in [
        ("--service-cidr", &args.service_cidr),
        ("--docker-bridge-cidr", &args.docker_bridge_cidr),
    ] {
        if let Some(v) = value.as_deref().filter(|v| checks::parse_cidr(v).is_none()) {
            findings.fail(
                Kind::Input,
                format!("{flag} `{v}` is not an IPv4 CIDR"),
                "write it like 10.0.0.0/16",
            );
        }
    }
    if let Some(ip) = &args.dns_service_ip {
        match (
            ip.parse::<std::net::Ipv4Addr>(),
            args.service_cidr.as_deref().and_then(checks::parse_cidr),
        ) {
            (Err(_), _) => findings.fail(
                Kind::Input,
                format!("--dns-service-ip `{ip}` is not an IPv4 address"),
                "write it like 10.0.0.10",
            ),
            (Ok(addr), Some(range)) if !checks::cidr_contains(range, addr) => findings.fail(
                Kind::Input,
                format!(
                    "--dns-service-ip {ip} is outside --service-cidr {}",
                    args.service_cidr.as_deref().unwrap_or("")
                ),
                "pick an address inside the service range (commonly its .10)",
            ),
            _ => {}
        }
    }
    let subnet_id = format!(
        "/subscriptions/{}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}",
        azure.subscription()?
    );
    Ok(Some(Network {
        subnet_id,
        service_cidr: args.service_cidr.clone(),
        dns_service_ip: args.dns_service_ip.clone(),
        docker_bridge_cidr: args.docker_bridge_cidr.clone(),
    }))
}
