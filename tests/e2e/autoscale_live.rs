//! The autoscaler in the router process, end to end: the router as a process, model replicas that
//! a test kubelet starts as real local servers when the scale subresource asks for them, load from
//! real clients. A load step, load off and the window, min/max, hand scaling with the real
//! kubectl, a full cluster, and the guards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use crate::autoscale_env::*;
use crate::router_env::{cluster, score_url};
use crate::router_load::Load;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_step_is_written_within_2s_and_load_off_scales_down_only_after_the_window() {
    let ctx = cluster();
    let annotations = [
        ("kubectl-aml.io/max-queue-wait-ms", "20000"),
        ("kubectl-aml.io/max-replicas", "4"),
    ];
    let (_, _kubelet) = model(&ctx, "m", &annotations, 10);
    let router = leading_router(&ctx, &[]);
    wait(Duration::from_secs(10), "the first replica ready", || {
        ready_replicas(&router, "m") == 1
    });
    assert_eq!(replicas(&ctx, "m"), 1, "no load, no change");

    // A step: 6 clients on one single-slot replica (1 busy, 5 queued).
    let stop = Arc::new(AtomicBool::new(false));
    let load = Load::new(&score_url(&router, "m"), 6).header("x-test-delay-ms", "100");
    let step = Instant::now();
    let running = tokio::spawn(load.run(stop.clone()));
    let written = wait(Duration::from_secs(5), "the first scale-up written", || {
        replicas(&ctx, "m") > 1
    });
    assert!(
        written <= Duration::from_secs(2),
        "first scale-up written {written:?} after the step"
    );
    wait(Duration::from_secs(10), "max replicas ready", || {
        ready_replicas(&router, "m") == 4
    });
    assert_eq!(
        replicas(&ctx, "m"),
        4,
        "capped at kubectl-aml.io/max-replicas"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Off: nothing for the window (4 s), then down to what the load needs (none: min 1).
    stop.store(true, SeqCst);
    let report = running.await.unwrap();
    let off = Instant::now();
    assert!(
        report.failures.is_empty(),
        "{:?}",
        &report.failures[..report.failures.len().min(3)]
    );
    while off.elapsed() < Duration::from_millis(3500) {
        assert_eq!(
            replicas(&ctx, "m"),
            4,
            "scaled down {:?} after the load stopped; the router's log:\n{}",
            off.elapsed(),
            router.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let down = wait(Duration::from_secs(10), "scaled down", || {
        replicas(&ctx, "m") == 1
    });
    assert!(
        off.elapsed() >= Duration::from_secs(4),
        "down after {:?}; the router's log:\n{}",
        off.elapsed(),
        router.log()
    );
    assert!(
        down < Duration::from_secs(8),
        "down only {:?} after the window",
        off.elapsed()
    );
    let events = events(&ctx, "m");
    let up = events
        .iter()
        .find(|(reason, ..)| reason == "ScaledUp")
        .expect("a ScaledUp Event");
    assert_eq!(up.1, "Normal");
    assert!(
        up.2.contains("utilisation")
            && up.2.contains("busy")
            && up.2.contains("queued")
            && up.2.contains("ready"),
        "{}",
        up.2
    );
    assert!(
        events.iter().any(|(reason, ..)| reason == "ScaledDown"),
        "{events:?}"
    );
    let took = step.elapsed();
    let status = router.autoscaler().unwrap();
    assert_eq!(
        status["services"][0]["deployment"], "m",
        "{status} after {took:?}"
    );
}

#[test]
fn min_and_max_hold_and_a_hand_scale_is_kept_inside_them_and_brought_back_outside() {
    let ctx = cluster();
    let annotations = [
        ("kubectl-aml.io/min-replicas", "2"),
        ("kubectl-aml.io/max-replicas", "3"),
    ];
    let (_, _kubelet) = model(&ctx, "m", &annotations, 10);
    let _router = leading_router(&ctx, &[]);
    wait(Duration::from_secs(5), "brought up to min", || {
        replicas(&ctx, "m") == 2
    });

    let kubectl = |replicas: &str| {
        let out = std::process::Command::new("kubectl")
            .args([
                "scale",
                "deployment/m",
                "-n",
                "ws1",
                &format!("--replicas={replicas}"),
            ])
            .env("KUBECONFIG", &ctx.kubeconfig)
            .output()
            .expect("kubectl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    kubectl("3");
    let scaled = Instant::now();
    while scaled.elapsed() < Duration::from_secs(3) {
        assert_eq!(
            replicas(&ctx, "m"),
            3,
            "a hand scale within min/max is left alone"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait(
        Duration::from_secs(8),
        "back down to min once the window passed",
        || replicas(&ctx, "m") == 2,
    );
    kubectl("9");
    wait(Duration::from_secs(3), "brought back under max", || {
        replicas(&ctx, "m") == 3
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cluster_stops_additions_and_says_so() {
    let ctx = cluster();
    let annotations = [("kubectl-aml.io/max-queue-wait-ms", "20000")];
    let (_, _kubelet) = model(&ctx, "m", &annotations, 2);
    let router = leading_router(&ctx, &[]);
    wait(Duration::from_secs(10), "the first replica ready", || {
        ready_replicas(&router, "m") == 1
    });
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn(
        Load::new(&score_url(&router, "m"), 8)
            .header("x-test-delay-ms", "100")
            .run(stop.clone()),
    );
    wait(Duration::from_secs(5), "scaled up", || {
        replicas(&ctx, "m") > 2
    });
    wait(Duration::from_secs(8), "a ClusterFull Event", || {
        events(&ctx, "m").iter().any(|(r, ..)| r == "ClusterFull")
    });
    let asked = replicas(&ctx, "m");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        replicas(&ctx, "m"),
        asked,
        "no additions while pods cannot be scheduled"
    );
    stop.store(true, SeqCst);
    assert!(running.await.unwrap().failures.is_empty());
    let full = events(&ctx, "m")
        .into_iter()
        .find(|(r, ..)| r == "ClusterFull")
        .unwrap();
    assert_eq!(full.1, "Warning");
    assert!(full.2.contains("cannot be scheduled"), "{}", full.2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpa_autoscale_false_and_bad_annotations_leave_deployments_alone() {
    let ctx = cluster();
    let (_, _a) = model(
        &ctx,
        "hpa",
        &[("kubectl-aml.io/max-queue-wait-ms", "20000")],
        10,
    );
    let (_, _b) = model(
        &ctx,
        "off",
        &[
            ("kubectl-aml.io/max-queue-wait-ms", "20000"),
            ("kubectl-aml.io/autoscale", "false"),
        ],
        10,
    );
    let (_, _c) = model(
        &ctx,
        "bad",
        &[
            ("kubectl-aml.io/max-queue-wait-ms", "20000"),
            ("kubectl-aml.io/target-utilization", "0"),
        ],
        10,
    );
    ctx.kube.seed([serde_json::json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "hpa-cpu", "namespace": "ws1"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hpa"},
                 "minReplicas": 1, "maxReplicas": 5},
    })]);
    let router = leading_router(&ctx, &[]);
    for name in ["hpa", "off", "bad"] {
        wait(Duration::from_secs(10), "replica ready", || {
            ready_replicas(&router, name) == 1
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = ["hpa", "off", "bad"]
        .iter()
        .map(|name| {
            tokio::spawn(
                Load::new(&score_url(&router, name), 4)
                    .header("x-test-delay-ms", "100")
                    .run(stop.clone()),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, SeqCst);
    for load in loads {
        assert!(load.await.unwrap().failures.is_empty());
    }
    for name in ["hpa", "off", "bad"] {
        assert_eq!(replicas(&ctx, name), 1, "{name} was scaled");
        assert_eq!(scale_writes(&ctx, name), 0, "{name} got a scale write");
    }
    let conflict = events(&ctx, "hpa")
        .into_iter()
        .find(|(r, ..)| r == "AutoscalerConflict")
        .expect("the HPA named");
    assert!(
        conflict.2.contains("HorizontalPodAutoscaler hpa-cpu"),
        "{}",
        conflict.2
    );
    let bad = events(&ctx, "bad")
        .into_iter()
        .find(|(r, ..)| r == "BadAnnotation")
        .expect("the annotation named");
    assert!(
        bad.2.contains("kubectl-aml.io/target-utilization") && bad.2.contains("`0`"),
        "{}",
        bad.2
    );
    assert!(events(&ctx, "off").iter().all(|(r, ..)| r != "ScaledUp"));
    let status = router.autoscaler().unwrap();
    let blocked: Vec<&str> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["notScaled"].as_str())
        .collect();
    assert_eq!(blocked.len(), 3, "{status}");
}
