//! The policy on load traces, on a simulated cluster and an injected clock: the docs' promises
//! (eager up, conservative down, no flapping, clamps, a full cluster, restarts) as tests.

use std::time::Duration;

use super::sim::{ClusterModel, Load, ModelPolicy, Sample, Trace, run};
use super::{Observation, Policy, Reason, Settings, ceil};

fn settings() -> Settings {
    Settings {
        min: 1,
        max: 1000,
        ..Settings::default()
    }
}

fn model() -> ClusterModel {
    ClusterModel {
        startup: 5,
        capacity: None,
        per_replica: 1,
        initial: 1,
    }
}

fn load(rps: f64) -> Load {
    Load {
        rps,
        request_seconds: 1.0,
    }
}

fn simulate(
    rows: Vec<(u64, Load)>,
    tail: u64,
    settings: Settings,
    model: ClusterModel,
) -> Vec<Sample> {
    let trace = Trace::from_rows(rows, tail);
    let mut policy = ModelPolicy(Policy::new(settings.clone(), Duration::ZERO, model.initial));
    let mut samples = Vec::new();
    run(&trace, &model, &mut policy, settings.target, &mut |s| {
        samples.push(*s)
    });
    samples
}

/// A reproducible ±`amplitude` noise (a linear congruential generator).
fn noise(seed: &mut u64, amplitude: f64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 33) as f64 / (1u64 << 31) as f64 * 2.0 - 1.0) * amplitude
}

/// Eager: whenever more replicas are needed at the target than are ready or starting, and nothing
/// blocks growth, the same tick asks for more (up to the maximum or the rate limit).
fn assert_eager(samples: &[Sample], s: &Settings) {
    for x in samples.iter().filter(|x| x.unschedulable == 0) {
        let (current, needed) = (x.ready + x.starting, ceil(x.demand / s.target) as u32);
        if needed <= current {
            continue;
        }
        let limit = ceil(s.max_scale_up_rate * f64::from(x.ready.max(1))) as u32;
        let grew = x.desired > current || x.desired == s.max || x.desired >= limit;
        assert!(
            grew,
            "second {}: {needed} needed, {current} ready or starting, desired {}",
            x.second, x.desired
        );
    }
}

/// Conservative: a scale-down never goes below a recommendation made within the window before it.
fn assert_conservative(samples: &[Sample], s: &Settings) {
    let window = s.scale_down_window.as_secs();
    for pair in samples.windows(2).filter(|p| p[1].desired < p[0].desired) {
        let t = pair[1].second;
        let since = samples
            .iter()
            .filter(|x| x.second + window > t && x.second <= t);
        let highest = since
            .map(|x| ceil(x.demand * (1.0 + s.tolerance) / s.target) as u32)
            .max()
            .unwrap_or(0);
        assert!(
            pair[1].desired >= highest.max(s.min),
            "second {t}: down to {} with {highest} recommended in the window",
            pair[1].desired
        );
    }
}

/// The seconds at which the desired count turned from rising to falling or back.
fn direction_changes(samples: &[Sample]) -> Vec<u64> {
    let (mut last, mut changes) = (0i64, Vec::new());
    for pair in samples.windows(2) {
        let direction = (i64::from(pair[1].desired) - i64::from(pair[0].desired)).signum();
        if direction != 0 {
            if last != 0 && direction != last {
                changes.push(pair[1].second);
            }
            last = direction;
        }
    }
    changes
}

#[test]
fn a_step_up_is_met_at_the_tick_it_is_seen() {
    let s = settings();
    let samples = simulate(
        vec![(0, load(2.0)), (60, load(20.0))],
        120,
        s.clone(),
        model(),
    );
    let crossing = samples
        .iter()
        .find(|x| x.utilisation > s.target && x.second >= 60)
        .unwrap();
    assert_eq!(crossing.second, 60);
    assert_eq!(
        crossing.desired, 29,
        "ceil(20 / 0.7) at the crossing tick itself"
    );
    assert_eager(&samples, &s);
    assert_conservative(&samples, &s);
}

#[test]
fn a_step_down_waits_exactly_one_window() {
    let s = settings();
    let samples = simulate(
        vec![(0, load(20.0)), (300, load(2.0))],
        200,
        s.clone(),
        model(),
    );
    let high = samples[299].desired;
    // Lower demand is first observed at second 300: a whole window of it has passed at 360.
    assert!(
        samples[300..360].iter().all(|x| x.desired == high),
        "no scale-down before the window has passed"
    );
    assert!(
        samples[360].desired < high,
        "scale-down at 360: {} → {}",
        high,
        samples[360].desired
    );
    assert_eq!(samples[360].desired, ceil(2.0 * 1.1 / 0.7) as u32);
}

#[test]
fn a_ramp_is_followed_eagerly() {
    let s = settings();
    let rows = (0..600).map(|t| (t, load(t as f64 / 10.0))).collect();
    let samples = simulate(rows, 60, s.clone(), model());
    assert_eager(&samples, &s);
    assert_conservative(&samples, &s);
    assert!(samples.last().unwrap().desired >= ceil(59.9 / 0.7) as u32);
}

#[test]
fn a_spike_is_met_at_once_and_released_after_the_window() {
    let s = settings();
    let samples = simulate(
        vec![(0, load(5.0)), (100, load(50.0)), (105, load(5.0))],
        300,
        s.clone(),
        model(),
    );
    assert_eq!(samples[100].desired, ceil(50.0 / 0.7) as u32);
    assert!(
        samples[105 + 59].desired == samples[104].desired
            && samples[105 + 60].desired < samples[104].desired
    );
    assert_eager(&samples, &s);
    assert_conservative(&samples, &s);
}

#[test]
fn a_sawtooth_keeps_both_promises() {
    let s = settings();
    let rows = (0..450).map(|t| (t, load((t % 90) as f64 / 3.0))).collect();
    let samples = simulate(rows, 90, s.clone(), model());
    assert_eager(&samples, &s);
    assert_conservative(&samples, &s);
}

#[test]
fn ten_percent_noise_turns_direction_at_most_once_a_window() {
    let s = settings();
    let mut seed = 7;
    // 100 rps: replica counts fine-grained enough that noise makes new maxima often.
    let rows = (0..3600)
        .map(|t| (t, load(100.0 * (1.0 + noise(&mut seed, 0.1)))))
        .collect();
    let samples = simulate(rows, 1, s.clone(), model());
    let changes = direction_changes(&samples);
    for pair in changes.windows(2) {
        assert!(
            pair[1] - pair[0] >= 60,
            "direction changed at {} and again at {}",
            pair[0],
            pair[1]
        );
    }
    assert!(changes.len() <= 2, "{changes:?}");
    assert_eager(&samples, &s);
}

#[test]
fn replicas_stay_within_min_and_max() {
    let mut p = Policy::new(
        Settings {
            min: 2,
            max: 5,
            ..Settings::default()
        },
        Duration::ZERO,
        3,
    );
    let busy = Observation {
        at: Duration::ZERO,
        busy: 3.0,
        queued: 100.0,
        ready: 3,
        ..Observation::default()
    };
    let d = p.observe(&busy);
    assert_eq!((d.desired, d.reason), (5, Reason::AtMax { needed: 148 }));
    let idle = |t: u64| Observation {
        at: Duration::from_secs(t),
        ready: 5,
        ..Observation::default()
    };
    // Idle is first seen at 60: a whole window of it has been observed only at 120.
    let d = p.observe(&idle(60));
    assert!(
        d.desired == 5 && matches!(d.reason, Reason::Holding { .. }),
        "{d:?}"
    );
    let d = p.observe(&idle(119));
    assert_eq!(d.desired, 5, "{d:?}");
    let d = p.observe(&idle(120));
    assert_eq!((d.desired, d.reason), (2, Reason::AtMin));
}

#[test]
fn a_full_cluster_stops_growth_and_says_so() {
    let s = settings();
    let full = ClusterModel {
        capacity: Some(4),
        ..model()
    };
    let samples = simulate(vec![(0, load(20.0))], 120, s.clone(), full);
    assert_eq!(
        samples.iter().map(|x| x.desired).max(),
        Some(10),
        "one rate-limited step, then no more"
    );
    assert!(
        samples
            .iter()
            .skip(1)
            .all(|x| x.unschedulable == 6 && x.ready + x.starting == 4)
    );
    let mut p = Policy::new(s, Duration::ZERO, 10);
    let o = Observation {
        at: Duration::from_secs(1),
        busy: 4.0,
        queued: 16.0,
        ready: 4,
        unschedulable: 6,
        ..Observation::default()
    };
    let d = p.observe(&o);
    assert_eq!(
        (d.desired, d.reason.clone()),
        (10, Reason::ClusterFull { needed: 29 })
    );
    assert_eq!(
        d.reason.to_string(),
        "cluster full: replicas cannot be scheduled, not adding more (29 needed)"
    );
}

#[test]
fn a_restarted_policy_keeps_the_replicas_for_a_window() {
    let mut p = Policy::new(settings(), Duration::from_secs(1000), 8);
    let idle = |t: u64| Observation {
        at: Duration::from_secs(t),
        ready: 8,
        ..Observation::default()
    };
    assert_eq!(p.observe(&idle(1000)).desired, 8, "never a drop on start");
    assert_eq!(p.observe(&idle(1059)).desired, 8);
    assert_eq!(p.observe(&idle(1060)).desired, 1);
}

#[test]
fn starting_replicas_are_counted_and_growth_is_rate_limited() {
    let mut p = Policy::new(settings(), Duration::ZERO, 8);
    let burst = Observation {
        at: Duration::ZERO,
        busy: 2.0,
        queued: 3.6,
        ready: 2,
        starting: 6,
        unschedulable: 0,
    };
    assert_eq!(
        p.observe(&burst).desired,
        8,
        "the six starting replicas already cover the burst"
    );
    let more = Observation {
        queued: 5.0,
        ..burst
    };
    assert_eq!(
        p.observe(&more).desired,
        10,
        "ceil(7 / 0.7): two more, not ten"
    );
    let mut cold = Policy::new(settings(), Duration::ZERO, 1);
    let flood = Observation {
        at: Duration::ZERO,
        busy: 1.0,
        queued: 99.0,
        ready: 1,
        ..Observation::default()
    };
    let d = cold.observe(&flood);
    assert_eq!(
        (d.desired, d.reason),
        (10, Reason::UpRateLimited { needed: 143 })
    );
}

#[test]
fn settings_problems_are_all_reported() {
    let bad = Settings {
        target: 1.5,
        min: 5,
        max: 2,
        per_replica: 0,
        ..Settings::default()
    };
    assert_eq!(bad.problems().len(), 3, "{:?}", bad.problems());
    assert!(Settings::default().problems().is_empty());
}
