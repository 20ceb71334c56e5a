use super::*;

fn spec(purpose: Purpose) -> InstallSpec {
    InstallSpec {
        namespace: "azureml".into(),
        image: "ghcr.io/example/kubectl-aml:0.1.0".into(),
        version: "0.1.0".into(),
        purpose,
        scale_down_window: std::time::Duration::from_secs(60),
        load_balancer: LoadBalancer::Public,
        tls: Some(("CERT".into(), "KEY".into())),
        https: true,
        scaled: None,
    }
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

#[test]
fn the_eight_objects_in_cleanups_order_all_labelled_ours() {
    let objects = render(&spec(Purpose::FastProd));
    let names: Vec<(String, String)> = objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().into(),
                o["metadata"]["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = AZUREML_FE
        .iter()
        .map(|o| (o.kind.kind.to_string(), o.name.to_string()))
        .collect();
    assert_eq!(names, expected);
    for o in &objects {
        assert_eq!(o["metadata"]["labels"][MANAGED_BY_LABEL], MANAGED_BY, "{o}");
        let namespaced = !o["kind"].as_str().unwrap().starts_with("Cluster");
        assert_eq!(o["metadata"]["namespace"].is_string(), namespaced, "{o}");
    }
}

#[test]
fn fast_prod_spreads_three_routers_and_dev_test_runs_one_without_self_scaling() {
    let prod = render(&spec(Purpose::FastProd));
    let d = find(&prod, "Deployment", "azureml-fe");
    assert_eq!(d["spec"]["replicas"], 3);
    assert!(
        d.pointer("/spec/template/spec/affinity/podAntiAffinity")
            .is_some()
    );
    let config = find(&prod, "ConfigMap", "azuremlfeconfig");
    assert_eq!(config["data"]["cluster-purpose"], "fast-prod");
    let dev = render(&spec(Purpose::DevTest));
    let d = find(&dev, "Deployment", "azureml-fe");
    assert_eq!(d["spec"]["replicas"], 1);
    assert!(d.pointer("/spec/template/spec/affinity").is_none());
    assert_eq!(
        find(&dev, "ConfigMap", "azuremlfeconfig")["data"]["cluster-purpose"],
        "dev-test"
    );
}

#[test]
fn the_router_reads_its_settings_from_the_config_map_and_probes_its_admin_port() {
    let objects = render(&spec(Purpose::FastProd));
    let d = find(&objects, "Deployment", "azureml-fe");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.contains(&"--cluster-purpose=$(CLUSTER_PURPOSE)"),
        "{args:?}"
    );
    assert!(args.contains(&"--https=:8443"));
    let env = c["env"].as_array().unwrap();
    assert!(env.iter().any(|e| e["name"] == "CLUSTER_PURPOSE"
        && e["valueFrom"]["configMapKeyRef"]["name"] == "azuremlfeconfig"));
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "admin");
    assert_eq!(c["resources"]["requests"]["cpu"], "900m");
    assert_eq!(c["resources"]["requests"]["memory"], "800Mi");
    let selector = &d["spec"]["selector"]["matchLabels"];
    assert_eq!(
        &d["spec"]["template"]["metadata"]["labels"][APP_LABEL],
        &selector[APP_LABEL]
    );
    let internal = find(&objects, "Service", "azureml-fe-int-http");
    assert_eq!(internal["spec"]["ports"][0]["port"], 9001);
    assert_eq!(&internal["spec"]["selector"], selector);
}

#[test]
fn an_internal_load_balancer_gets_the_aks_annotations_and_no_tls_means_http_only() {
    let mut s = spec(Purpose::FastProd);
    s.load_balancer = LoadBalancer::Internal {
        subnet: Some("inference".into()),
    };
    s.tls = None;
    s.https = false;
    let objects = render(&s);
    assert_eq!(objects.len(), 7, "no Secret without a pair");
    let service = find(&objects, "Service", "azureml-fe");
    assert_eq!(service["metadata"]["annotations"][ILB_ANNOTATION], "true");
    assert_eq!(
        service["metadata"]["annotations"][ILB_SUBNET_ANNOTATION],
        "inference"
    );
    assert_eq!(service["spec"]["ports"].as_array().unwrap().len(), 1);
    let d = find(&objects, "Deployment", "azureml-fe");
    let args = d["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(!args.contains("--https"), "{args}");
}

#[test]
fn a_reinstall_keeps_what_the_routers_autoscaler_set() {
    let mut s = spec(Purpose::FastProd);
    let live = render(&s).remove(5);
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    scaled["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] =
        json!("2");
    s.scaled = Some(RouterScale::of(&scaled));
    let again = render(&s).remove(5);
    assert_eq!(again["spec"]["replicas"], 5);
    let c = &again["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["resources"]["requests"]["cpu"], "2");
    assert_eq!(RouterScale::of(&live).replicas, Some(3));
}

#[test]
fn the_role_grants_exactly_the_calls_the_router_makes() {
    let rules = role_rules();
    let grants: Vec<String> = rules
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let group = r["apiGroups"][0].as_str().unwrap().to_string();
            let resource = r["resources"][0].as_str().unwrap().to_string();
            r["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |v| format!("{group}/{resource}:{}", v.as_str().unwrap()))
        })
        .collect();
    for needed in [
        "apps/deployments:watch",
        "apps/deployments:patch",
        "apps/deployments/scale:patch",
        "/pods:watch",
        "/nodes:list",
        "/secrets:watch",
        "/endpoints:watch",
        "/events:create",
        "coordination.k8s.io/leases:update",
        "autoscaling/horizontalpodautoscalers:watch",
    ] {
        assert!(
            grants.iter().any(|g| g == needed),
            "{needed} missing from {grants:?}"
        );
    }
    assert!(
        !grants
            .iter()
            .any(|g| g.ends_with(":delete") || g.ends_with(":*")),
        "{grants:?}"
    );
}
