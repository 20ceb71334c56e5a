use super::*;

fn deployment(replicas: u64, env: &str, surge: Value, unavailable: Value) -> Value {
    json!({
        "metadata": {"name": "m", "generation": 2},
        "spec": {
            "replicas": replicas,
            "strategy": {"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
            "template": {"spec": {"containers": [{"env": [{"name": "X", "value": env}]}]}},
        },
    })
}

fn pod(name: &str, hash: &str, ready: bool, order: u64) -> PodView {
    PodView {
        name: name.into(),
        hash: hash.into(),
        ready,
        order,
    }
}

#[test]
fn scaling_creates_and_removes_not_ready_pods_first_then_the_newest() {
    let d = deployment(3, "a", json!(1), json!(0));
    let h = template_hash(&d);
    assert_eq!(plan(&d, &[]).create, 3);
    let pods = [
        pod("p1", &h, true, 1),
        pod("p2", &h, false, 2),
        pod("p3", &h, true, 3),
        pod("p4", &h, true, 4),
    ];
    let d1 = deployment(2, "a", json!(1), json!(0));
    assert_eq!(
        plan(&d1, &pods),
        Plan {
            create: 0,
            delete: vec!["p2".into(), "p4".into()]
        }
    );
}

#[test]
fn percentages_round_like_kubernetes_and_never_both_zero() {
    assert_eq!(bound(&json!("25%"), 10, true), 3);
    assert_eq!(bound(&json!("25%"), 10, false), 2);
    assert_eq!(bound(&Value::Null, 4, true), 1);
    let d = deployment(1, "a", json!(0), json!(0));
    let old = [pod("old", "x", true, 1)];
    // maxSurge 0 and maxUnavailable 0 would deadlock: one may be unavailable.
    assert_eq!(
        plan(&d, &old),
        Plan {
            create: 1,
            delete: vec!["old".into()]
        }
    );
}

/// A roll to completion, new pods turning Ready one round after they are created: the bounds hold
/// at every round.
fn roll(replicas: u64, surge: Value, unavailable: Value) -> usize {
    let d = deployment(replicas, "new", surge.clone(), unavailable.clone());
    let h = template_hash(&d);
    let max_surge = bound(&surge, replicas as usize, true);
    let max_unavailable =
        bound(&unavailable, replicas as usize, false).max(usize::from(max_surge == 0));
    let mut pods: Vec<PodView> = (0..replicas)
        .map(|i| pod(&format!("old-{i}"), "old", true, i))
        .collect();
    let mut order = replicas;
    for round in 1..100 {
        for p in pods.iter_mut() {
            p.ready = true; // what was created last round is Ready now
        }
        let ready = pods.iter().filter(|p| p.ready).count();
        assert!(
            ready + max_unavailable >= replicas as usize,
            "round {round}: {pods:?}"
        );
        let decided = plan(&d, &pods);
        pods.retain(|p| !decided.delete.contains(&p.name));
        for _ in 0..decided.create {
            order += 1;
            pods.push(pod(&format!("new-{order}"), &h, false, order));
        }
        assert!(
            pods.len() <= replicas as usize + max_surge,
            "round {round}: {pods:?}"
        );
        if pods.len() == replicas as usize && pods.iter().all(|p| p.hash == h) {
            return round;
        }
    }
    panic!("the roll never finished: {pods:?}");
}

#[test]
fn a_template_change_rolls_within_max_surge_and_max_unavailable() {
    assert!(roll(3, json!(1), json!(0)) <= 7);
    assert!(roll(4, json!("25%"), json!("25%")) <= 6);
    assert!(roll(1, json!(0), json!(1)) <= 3);
    assert!(roll(10, json!("50%"), json!(0)) <= 5);
}

#[test]
fn status_counts_ready_and_updated_pods() {
    let d = deployment(2, "a", json!(1), json!(0));
    let h = template_hash(&d);
    let s = status(
        &d,
        &[
            pod("a", &h, true, 1),
            pod("b", "old", true, 2),
            pod("c", &h, false, 3),
        ],
    );
    assert_eq!(
        (
            s["replicas"].as_u64(),
            s["updatedReplicas"].as_u64(),
            s["readyReplicas"].as_u64()
        ),
        (Some(3), Some(2), Some(2))
    );
    assert_eq!(s["observedGeneration"], 2);
    assert_eq!(s["conditions"][0]["status"], "True");
}
