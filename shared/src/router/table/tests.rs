use super::*;
use crate::router::backend::Config;
use crate::router::contract::{BackendKey, Settings};
use crate::router::metrics::Metrics;

fn backend(metrics: &Metrics, namespace: &str, app: App, traffic: Option<u32>) -> Arc<Backend> {
    let mut settings = Settings::defaults("d", &app);
    settings.traffic = traffic;
    let key = BackendKey {
        namespace: namespace.into(),
        app,
    };
    let handles = metrics.backend(&key);
    Backend::new(
        key,
        Config {
            deployment: "d".into(),
            settings,
        },
        handles,
    )
}

fn v2(endpoint: &str, deployment: &str) -> App {
    App::Endpoint {
        endpoint: endpoint.into(),
        deployment: deployment.into(),
    }
}

fn deployment_of(b: &Arc<Backend>) -> String {
    match &b.key.app {
        App::Endpoint { deployment, .. } => deployment.clone(),
        App::Service(s) => s.clone(),
    }
}

#[test]
fn a_split_is_exact_over_every_cycle_and_the_header_overrides_it() {
    let m = Metrics::new();
    let (table, conflicts) = Table::build(vec![
        backend(&m, "ws", v2("ep", "blue"), Some(90)),
        backend(&m, "ws", v2("ep", "green"), Some(10)),
        backend(&m, "ws", v2("ep", "red"), None),
    ]);
    assert!(conflicts.is_empty());
    let ep = table.endpoint("ep").unwrap();
    let picks: Vec<String> = (0..10)
        .map(|_| deployment_of(&ep.pick(None).unwrap()))
        .collect();
    assert_eq!(
        picks.iter().filter(|p| *p == "green").count(),
        1,
        "{picks:?}"
    );
    assert_eq!(
        picks.iter().filter(|p| *p == "blue").count(),
        9,
        "{picks:?}"
    );
    assert_eq!(
        deployment_of(&ep.pick(Some("red")).unwrap()),
        "red",
        "weight 0 is reachable by header"
    );
    assert_eq!(
        ep.pick(Some("pink")).err(),
        Some(Miss::UnknownDeployment("pink".into()))
    );
}

#[test]
fn without_traffic_annotations_deployments_share_and_all_zero_is_no_route() {
    let m = Metrics::new();
    let (table, _) = Table::build(vec![
        backend(&m, "ws", v2("solo", "blue"), None),
        backend(&m, "ws", v2("pair", "a"), None),
        backend(&m, "ws", v2("pair", "b"), None),
        backend(&m, "ws", v2("off", "blue"), Some(0)),
    ]);
    assert_eq!(
        deployment_of(&table.endpoint("solo").unwrap().pick(None).unwrap()),
        "blue"
    );
    let pair = table.endpoint("pair").unwrap();
    let picks: Vec<String> = (0..4)
        .map(|_| deployment_of(&pair.pick(None).unwrap()))
        .collect();
    assert_eq!(picks, ["a", "b", "a", "b"]);
    assert_eq!(
        table.endpoint("off").unwrap().pick(None).err(),
        Some(Miss::NoWeight)
    );
}

#[test]
fn the_same_name_in_two_namespaces_serves_the_first_and_says_so() {
    let m = Metrics::new();
    let (table, conflicts) = Table::build(vec![
        backend(&m, "ws2", App::Service("s".into()), None),
        backend(&m, "ws1", App::Service("s".into()), None),
        backend(&m, "ws1", v2("ep", "blue"), None),
        backend(&m, "ws2", v2("ep", "green"), None),
    ]);
    assert_eq!(table.service("s").unwrap().key.namespace, "ws1");
    assert_eq!(conflicts.len(), 2, "{conflicts:?}");
    assert!(
        conflicts[0].contains("namespaces ws1 and ws2"),
        "{conflicts:?}"
    );
    assert_eq!(table.backends().len(), 4);
    assert!(table.service("nope").is_none() && table.endpoint("nope").is_none());
}
