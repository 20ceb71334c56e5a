//! One autoscaler leader among router processes: two routers elect one, the other takes over when
//! the leader is killed (and at once when it shuts down), never two at a time; a leader that cannot
//! renew its Lease stops; a refused scale write backs off and says which verb is missing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use aml_tests::router::RouterProcess;
use serde_json::json;

use crate::autoscale_env::*;
use crate::router_env::{FE, cluster, score_url};
use crate::router_load::Load;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two routers `a` and `b`, listed as the router pods in the Endpoints of `azureml-fe-int-http`.
fn two_routers(ctx: &aml_tests::TestContext) -> (RouterProcess, RouterProcess) {
    let (admin_a, admin_b) = (free_port(), free_port());
    ctx.kube.seed([json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "azureml-fe-int-http", "namespace": "default"},
        "subsets": [
            {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "admin", "port": admin_a}]},
            {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "admin", "port": admin_b}]},
        ],
    })]);
    let start = |identity: &str, port: u16| {
        let admin = format!("127.0.0.1:{port}");
        let args = [
            "--identity",
            identity,
            "--admin",
            &admin,
            "--scale-down-window",
            WINDOW,
        ];
        RouterProcess::start(FE, &ctx.kubeconfig, &args)
    };
    (start("a", admin_a), start("b", admin_b))
}

/// Which of the routers say they lead.
fn leaders(routers: &[&RouterProcess]) -> Vec<String> {
    routers
        .iter()
        .filter_map(|r| r.autoscaler())
        .filter(|s| s["leading"] == true)
        .filter_map(|s| s["identity"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_elect_one_leader_which_counts_both_and_the_other_takes_over_when_it_dies() {
    let ctx = cluster();
    let annotations = [
        ("kubectl-aml.io/max-queue-wait-ms", "20000"),
        ("kubectl-aml.io/max-replicas", "6"),
    ];
    let (_, _kubelet) = model(&ctx, "m", &annotations, 10);
    let (a, b) = two_routers(&ctx);
    wait(Duration::from_secs(10), "one leader", || {
        leaders(&[&a, &b]).len() == 1
    });
    let first = leaders(&[&a, &b])[0].clone();
    let (mut leader, follower) = if first == "a" { (a, b) } else { (b, a) };
    wait(
        Duration::from_secs(5),
        "the follower knows who leads",
        || {
            follower
                .autoscaler()
                .is_some_and(|s| s["leader"] == first.as_str())
        },
    );
    wait(Duration::from_secs(10), "a replica ready", || {
        ready_replicas(&follower, "m") == 1
    });

    // Load through the follower only: the leader must count it (it gathers both routers' stats).
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn(
        Load::new(&score_url(&follower, "m"), 6)
            .header("x-test-delay-ms", "100")
            .run(stop.clone()),
    );
    wait(
        Duration::from_secs(5),
        "scaled up from the follower's load",
        || replicas(&ctx, "m") > 1,
    );
    stop.store(true, SeqCst);
    assert!(running.await.unwrap().failures.is_empty());

    // The leader dies (SIGKILL: no release): the follower leads once the Lease has run out.
    leader.kill();
    let killed = Instant::now();
    let mut both = false;
    while !leading(&follower) {
        both |= leaders(&[&follower]).len() > 1;
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no takeover after 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = killed.elapsed();
    // 15 s lease, counted from when the follower last saw it renewed, which it checks every 2 s.
    assert!(
        took <= Duration::from_secs(17),
        "took over {took:?} after the kill"
    );
    assert!(!both);
    // While the dead router is still listed, its counts are missing: no scale-down, said so.
    follower.wait_log(&["router pods left out of this tick"]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        replicas(&ctx, "m") > 1,
        "scaled down on ticks missing a router's counts"
    );
    // The Endpoints controller drops the dead pod: the new leader scales down after its window.
    let alive = follower.admin.port();
    ctx.kube
        .update("v1", "Endpoints", "default", "azureml-fe-int-http", |e| {
            let subsets = e["subsets"].as_array().unwrap().clone();
            e["subsets"] = json!(
                subsets
                    .into_iter()
                    .filter(|s| s["ports"][0]["port"] == alive)
                    .collect::<Vec<_>>()
            );
        });
    wait(
        Duration::from_secs(15),
        "the new leader scales down",
        || replicas(&ctx, "m") == 1,
    );
}

#[test]
fn a_leader_that_shuts_down_hands_over_at_once_and_two_never_lead_together() {
    let ctx = cluster();
    let (a, b) = two_routers(&ctx);
    wait(Duration::from_secs(10), "one leader", || {
        leaders(&[&a, &b]).len() == 1
    });
    let first = leaders(&[&a, &b])[0].clone();
    let (mut leader, follower) = if first == "a" { (a, b) } else { (b, a) };
    leader.terminate();
    let stopped = Instant::now();
    while !leading(&follower) {
        assert!(
            leaders(&[&leader, &follower]).len() <= 1,
            "two leaders at once"
        );
        assert!(
            stopped.elapsed() < Duration::from_secs(6),
            "no handover within 6 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    leader.wait_log(&["released the Lease default/azureml-fe-autoscaler"]);
    assert_eq!(leader.wait_exit(Duration::from_secs(40)), Some(0));
}

#[test]
fn a_leader_that_cannot_renew_its_lease_stops_before_it_runs_out() {
    let ctx = cluster();
    let router = leading_router(&ctx, &[]);
    let lease = "/apis/coordination.k8s.io/v1/namespaces/default/leases/azureml-fe-autoscaler";
    ctx.kube
        .inject(None, lease, 1000, aml_tests::fake_kube::Action::Status(500));
    let cut = Instant::now();
    wait(Duration::from_secs(20), "the leader stops", || {
        !leading(&router)
    });
    let stopped = cut.elapsed();
    // It acts for at most 10 s after its last renewal, which was at most 5 s before the cut.
    assert!(
        stopped <= Duration::from_secs(11),
        "still leading {stopped:?} after losing the Lease"
    );
    router.wait_log(&[
        "cannot renew or take the Lease default/azureml-fe-autoscaler",
        "no longer leading",
    ]);
    ctx.kube.clear_faults();
    wait(
        Duration::from_secs(10),
        "leading again once the Lease can be renewed",
        || leading(&router),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_scale_write_backs_off_and_names_the_missing_verb() {
    let ctx = cluster();
    let (_, _kubelet) = model(
        &ctx,
        "m",
        &[("kubectl-aml.io/max-queue-wait-ms", "20000")],
        10,
    );
    let router = leading_router(&ctx, &[]);
    wait(Duration::from_secs(10), "a replica ready", || {
        ready_replicas(&router, "m") == 1
    });
    let scale = "/apis/apps/v1/namespaces/ws1/deployments/m/scale";
    ctx.kube.fail_next("PATCH", scale, 1000, 403);
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn(
        Load::new(&score_url(&router, "m"), 6)
            .header("x-test-delay-ms", "100")
            .run(stop.clone()),
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, SeqCst);
    assert!(running.await.unwrap().failures.is_empty());
    // Refused at 2 s, 4 s, 8 s … apart: a handful in 8 s, not one per tick.
    let attempts = scale_writes(&ctx, "m");
    assert!((1..=4).contains(&attempts), "{attempts} attempts in 8 s");
    assert_eq!(replicas(&ctx, "m"), 1);
    let forbidden = events(&ctx, "m")
        .into_iter()
        .filter(|(r, ..)| r == "ScaleForbidden")
        .collect::<Vec<_>>();
    assert_eq!(forbidden.len(), 1, "said once: {forbidden:?}");
    assert!(
        forbidden[0].2.contains("`patch` on `deployments/scale`"),
        "{}",
        forbidden[0].2
    );
}
