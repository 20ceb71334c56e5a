//! The router's own routing time per request, in fixed exponential buckets counted with one atomic
//! increment each, so that each window's p99 can be read for the router's self-scaling (the
//! Prometheus histogram keeps the same time cumulatively, for dashboards).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Buckets: 10 µs × 1.5^i, up to ~2 minutes.
const BUCKETS: usize = 40;
const FIRST_MICROS: f64 = 10.0;
const FACTOR: f64 = 1.5;

fn upper_micros(bucket: usize) -> f64 {
    FIRST_MICROS * FACTOR.powi(bucket as i32)
}

/// Counts of routing times per bucket, since the start.
#[derive(Debug)]
pub struct RoutingTimes {
    counts: [AtomicU64; BUCKETS],
}

impl Default for RoutingTimes {
    fn default() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// A copy of the counts, to diff two moments.
pub type Snapshot = [u64; BUCKETS];

impl RoutingTimes {
    /// Counts one request's routing time.
    pub fn record(&self, time: Duration) {
        let micros = time.as_secs_f64() * 1e6;
        let bucket = if micros <= FIRST_MICROS {
            0
        } else {
            ((micros / FIRST_MICROS).ln() / FACTOR.ln()).ceil() as usize
        };
        self.counts[bucket.min(BUCKETS - 1)].fetch_add(1, Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> Snapshot {
        std::array::from_fn(|i| self.counts[i].load(Relaxed))
    }
}

/// The `q` quantile (0–1) of the requests counted between `before` and `after`, as its bucket's
/// upper bound; `None` without requests.
pub fn quantile(before: &Snapshot, after: &Snapshot, q: f64) -> Option<Duration> {
    let window: Vec<u64> = after
        .iter()
        .zip(before)
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    let total: u64 = window.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (bucket, count) in window.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(Duration::from_secs_f64(upper_micros(bucket) / 1e6));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_p99_of_a_window_is_its_slow_tail() {
        let times = RoutingTimes::default();
        let start = times.snapshot();
        for _ in 0..99 {
            times.record(Duration::from_micros(200));
        }
        times.record(Duration::from_millis(40));
        let end = times.snapshot();
        let p50 = quantile(&start, &end, 0.5).unwrap();
        let p99 = quantile(&start, &end, 0.99).unwrap();
        let p100 = quantile(&start, &end, 1.0).unwrap();
        assert!(
            p50 >= Duration::from_micros(200) && p50 < Duration::from_micros(300),
            "{p50:?}"
        );
        assert_eq!(p99, p50, "99 of 100 are fast");
        assert!(
            p100 >= Duration::from_millis(40) && p100 < Duration::from_millis(60),
            "{p100:?}"
        );
        assert_eq!(quantile(&end, &end, 0.99), None, "no requests, no quantile");
    }
}
