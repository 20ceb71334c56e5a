use serde_json::json;

use super::*;
use crate::router::contract::{model_deployment, pod_replica};
use crate::router::discovery::ClusterView;

const MINUTE: Duration = Duration::from_secs(60);

/// The cluster a test plays with: one v1 service `s` in `ws1`.
struct Cluster {
    replicas: i32,
    version: u64,
    annotations: serde_json::Value,
    ready: u32,
    unschedulable: u32,
    hpas: HashMap<Key, String>,
}

impl Cluster {
    fn new(replicas: i32) -> Self {
        Self {
            replicas,
            version: 1,
            annotations: json!({}),
            ready: replicas as u32,
            unschedulable: 0,
            hpas: HashMap::new(),
        }
    }

    fn view(&self) -> ClusterView {
        let deployment = serde_json::from_value(json!({
            "metadata": {"name": "s", "namespace": "ws1", "uid": "u1", "resourceVersion": self.version.to_string(),
                         "labels": {"isazuremlapp": "true"}, "annotations": self.annotations},
            "spec": {"replicas": self.replicas, "selector": {},
                     "template": {"metadata": {"labels": {"isazuremlapp": "true", "azuremlappname": "s"}}}},
        }))
        .unwrap();
        let pod = |i: u32, status: serde_json::Value| {
            pod_replica(
                &serde_json::from_value(json!({
                    "metadata": {"name": format!("s-{i}"), "namespace": "ws1",
                                 "labels": {"isazuremlapp": "true", "azuremlappname": "s"}},
                    "status": status,
                }))
                .unwrap(),
            )
            .unwrap()
        };
        let ready =
            json!({"podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]});
        let pending = json!({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]});
        let mut pods: Vec<_> = (0..self.ready).map(|i| pod(i, ready.clone())).collect();
        pods.extend((0..self.unschedulable).map(|i| pod(100 + i, pending.clone())));
        ClusterView {
            deployments: vec![model_deployment(&deployment).unwrap()],
            pods,
            listed: true,
        }
    }

    /// A write went through: the Deployment moves on (new version, new count, pods ready).
    fn apply(&mut self, to: u32) {
        self.replicas = to as i32;
        self.version += 1;
        self.ready = to;
    }
}

fn key() -> Key {
    ("ws1".into(), "s".into())
}

fn load(busy: f64, queued: f64) -> HashMap<Key, Demand> {
    HashMap::from([(key(), Demand { busy, queued })])
}

fn run(
    scaler: &mut Scaler,
    cluster: &Cluster,
    demand: &HashMap<Key, Demand>,
    second: u64,
    complete: bool,
) -> Vec<Action> {
    let view = cluster.view();
    let tick = Tick {
        view: &view,
        load: demand,
        complete,
        hpas: &cluster.hpas,
        at: Duration::from_secs(second),
        wall: Timestamp::from_second(1_800_000_000 + second as i64).unwrap(),
    };
    scaler.tick(&tick)
}

fn scales(actions: &[Action]) -> Vec<(u32, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Scale { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

fn events(actions: &[Action]) -> Vec<&'static str> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

/// Runs a tick and applies its one scale write as the API server would.
fn run_and_write(
    scaler: &mut Scaler,
    cluster: &mut Cluster,
    demand: &HashMap<Key, Demand>,
    second: u64,
) -> Option<(u32, u32)> {
    let actions = run(scaler, cluster, demand, second, true);
    let action = actions
        .iter()
        .find(|a| matches!(a, Action::Scale { .. }))?
        .clone();
    let Action::Scale { from, to, .. } = action else {
        unreachable!()
    };
    let wall = Timestamp::from_second(1_800_000_000).unwrap();
    scaler.outcome(
        &action,
        &Outcome::Written,
        Duration::from_secs(second),
        wall,
    );
    cluster.apply(to);
    Some((from, to))
}

#[test]
fn a_load_step_scales_up_at_once_and_the_write_is_not_mistaken_for_a_manual_scale() {
    let mut scaler = Scaler::new(MINUTE);
    let mut cluster = Cluster::new(1);
    assert!(run(&mut scaler, &cluster, &load(0.5, 0.0), 0, true).is_empty());
    // 1 busy + 2 queued on one replica: 300 % of a 70 % target → ceil(3 / 0.7) = 5.
    let actions = run(&mut scaler, &cluster, &load(1.0, 2.0), 1, true);
    assert_eq!(scales(&actions), [(1, 5)]);
    let Action::Scale {
        reason,
        message,
        version,
        ..
    } = &actions[0]
    else {
        panic!()
    };
    assert_eq!((*reason, version.as_deref()), ("ScaledUp", Some("1")));
    assert!(
        message.contains("utilisation 300 % of target 70 %; busy 1.00, queued 2.00, ready 1"),
        "{message}"
    );
    let wall = Timestamp::from_second(1_800_000_001).unwrap();
    scaler.outcome(&actions[0], &Outcome::Written, Duration::from_secs(1), wall);
    // The watch has not caught up yet (same version, old count): nothing, and no "manual" scale.
    assert!(run(&mut scaler, &cluster, &load(1.0, 2.0), 2, true).is_empty());
    cluster.apply(5);
    assert!(run(&mut scaler, &cluster, &load(3.0, 0.0), 3, true).is_empty());
    let status = &scaler.status()[0];
    assert_eq!(
        (status.desired, status.min, status.max, status.target),
        (5, Some(1), Some(10), Some(70))
    );
    assert_eq!(
        status.last_change.as_ref().map(|c| (c.from, c.to)),
        Some((1, 5))
    );
}

#[test]
fn load_off_scales_down_only_after_the_window_and_never_on_an_incomplete_tick() {
    let mut scaler = Scaler::new(MINUTE);
    let mut cluster = Cluster::new(1);
    run(&mut scaler, &cluster, &load(0.0, 0.0), 0, true);
    assert_eq!(
        run_and_write(&mut scaler, &mut cluster, &load(4.0, 0.0), 1),
        Some((1, 6))
    );
    let idle = load(0.0, 0.0);
    for second in 2..61 {
        assert!(
            scales(&run(&mut scaler, &cluster, &idle, second, true)).is_empty(),
            "scaled down at {second} s"
        );
    }
    // The window has passed, but a router pod's counts are missing: no scale-down.
    let actions = run(&mut scaler, &cluster, &idle, 62, false);
    assert!(scales(&actions).is_empty());
    assert!(
        matches!(&actions[..], [Action::Log(line)] if line.contains("lacks some router pods' counts"))
    );
    assert_eq!(
        run_and_write(&mut scaler, &mut cluster, &idle, 63),
        Some((6, 1))
    );
}

#[test]
fn a_hand_scaled_count_is_kept_within_bounds_and_brought_back_outside_them() {
    let mut scaler = Scaler::new(MINUTE);
    let mut cluster = Cluster::new(2);
    run(&mut scaler, &cluster, &load(0.0, 0.0), 0, true);
    cluster.apply(4); // kubectl scale --replicas=4
    let actions = run(&mut scaler, &cluster, &load(0.0, 0.0), 1, true);
    assert!(scales(&actions).is_empty(), "left alone: {actions:?}");
    assert!(
        matches!(&actions[..], [Action::Log(l)] if l.contains("was scaled to 4 by someone else"))
    );
    for second in 2..60 {
        assert!(scales(&run(&mut scaler, &cluster, &load(0.0, 0.0), second, true)).is_empty());
    }
    cluster.apply(25); // above max 10
    assert_eq!(
        run_and_write(&mut scaler, &mut cluster, &load(0.0, 0.0), 70),
        Some((25, 10))
    );
}

#[test]
fn guards_leave_a_deployment_alone_and_say_why_once() {
    let mut scaler = Scaler::new(MINUTE);
    let mut cluster = Cluster::new(1);
    cluster.hpas.insert(key(), "s-hpa".into());
    let first = run(&mut scaler, &cluster, &load(5.0, 5.0), 0, true);
    assert_eq!(
        (scales(&first), events(&first)),
        (vec![], vec!["AutoscalerConflict"])
    );
    assert!(
        run(&mut scaler, &cluster, &load(5.0, 5.0), 1, true).is_empty(),
        "said once"
    );
    assert_eq!(
        scaler.status()[0].not_scaled.as_deref(),
        Some("HorizontalPodAutoscaler s-hpa scales it")
    );

    cluster.hpas.clear();
    cluster.annotations = json!({"kubectl-aml.io/autoscale": "false"});
    assert!(run(&mut scaler, &cluster, &load(5.0, 5.0), 2, true).is_empty());
    cluster.annotations = json!({"kubectl-aml.io/target-utilization": "150"});
    let bad = run(&mut scaler, &cluster, &load(5.0, 5.0), 3, true);
    assert_eq!(
        (scales(&bad), events(&bad)),
        (vec![], vec!["BadAnnotation"])
    );
    let Action::Event { message, .. } = &bad[0] else {
        panic!()
    };
    assert!(
        message.contains("kubectl-aml.io/target-utilization: `150`"),
        "{message}"
    );
}

#[test]
fn a_full_cluster_adds_nothing_and_says_so_once() {
    let mut scaler = Scaler::new(MINUTE);
    let mut cluster = Cluster::new(3);
    cluster.ready = 2;
    cluster.unschedulable = 1;
    run(&mut scaler, &cluster, &load(0.0, 0.0), 0, true);
    let actions = run(&mut scaler, &cluster, &load(6.0, 4.0), 1, true);
    assert_eq!(
        (scales(&actions), events(&actions)),
        (vec![], vec!["ClusterFull"])
    );
    assert!(run(&mut scaler, &cluster, &load(6.0, 4.0), 2, true).is_empty());
}

#[test]
fn a_refused_write_backs_off_and_names_the_missing_verb_once() {
    let mut scaler = Scaler::new(MINUTE);
    let cluster = Cluster::new(1);
    run(&mut scaler, &cluster, &load(0.0, 0.0), 0, true);
    let actions = run(&mut scaler, &cluster, &load(3.0, 0.0), 1, true);
    let wall = Timestamp::from_second(1_800_000_000).unwrap();
    let more = scaler.outcome(
        &actions[0],
        &Outcome::Forbidden,
        Duration::from_secs(1),
        wall,
    );
    assert_eq!(events(&more), ["ScaleForbidden"]);
    // Backoff: 2 s after the first refusal.
    assert!(scales(&run(&mut scaler, &cluster, &load(3.0, 0.0), 2, true)).is_empty());
    let again = run(&mut scaler, &cluster, &load(3.0, 0.0), 3, true);
    assert_eq!(scales(&again), [(1, 5)]);
    assert!(
        scaler
            .outcome(&again[0], &Outcome::Forbidden, Duration::from_secs(3), wall)
            .is_empty(),
        "said once"
    );
    // Then 4 s.
    assert!(scales(&run(&mut scaler, &cluster, &load(3.0, 0.0), 6, true)).is_empty());
    assert_eq!(
        scales(&run(&mut scaler, &cluster, &load(3.0, 0.0), 7, true)),
        [(1, 5)]
    );
}

#[test]
fn refresh_seconds_space_the_decisions() {
    let mut scaler = Scaler::new(MINUTE);
    let mut cluster = Cluster::new(1);
    cluster.annotations = json!({"kubectl-aml.io/refresh-seconds": "5"});
    run(&mut scaler, &cluster, &load(0.0, 0.0), 0, true);
    for second in 1..5 {
        assert!(
            run(&mut scaler, &cluster, &load(3.0, 0.0), second, true).is_empty(),
            "at {second} s"
        );
    }
    assert_eq!(
        scales(&run(&mut scaler, &cluster, &load(3.0, 0.0), 5, true)),
        [(1, 5)]
    );
}
