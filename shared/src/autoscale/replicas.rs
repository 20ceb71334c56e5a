//! Replica maths from the Azure docs: concurrent requests = target rps × request time; replicas =
//! ceil(concurrent / target utilisation / requests per replica) — 20 rps × 10 s / 0.7 / 1 → 286.

/// `ceil` that forgives floating-point noise: 7 / 0.7 is 10.000000000000002 in f64, and is 10.
pub fn ceil(value: f64) -> u64 {
    let nearest = value.round();
    if (value - nearest).abs() <= 1e-9 * nearest.abs().max(1.0) {
        nearest as u64
    } else {
        value.ceil().max(0.0) as u64
    }
}

/// Replicas needed to serve `rps` requests per second taking `request_seconds` each, keeping
/// utilisation at `target` (0–1] with `per_replica` concurrent requests per replica.
pub fn replicas_for(rps: f64, request_seconds: f64, target: f64, per_replica: u32) -> u64 {
    ceil(rps * request_seconds / target / f64::from(per_replica))
}

/// The requests per second `replicas` sustain at `target` utilisation: the inverse of [`replicas_for`].
pub fn sustained_rps(replicas: u64, request_seconds: f64, target: f64, per_replica: u32) -> f64 {
    replicas as f64 * f64::from(per_replica) * target / request_seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_example_is_286_replicas() {
        assert_eq!(replicas_for(20.0, 10.0, 0.7, 1), 286);
    }

    #[test]
    fn exact_quotients_are_not_rounded_up_by_float_noise() {
        assert_eq!(replicas_for(7.0, 1.0, 0.7, 1), 10);
        assert_eq!(replicas_for(0.7, 1.0, 0.7, 1), 1);
        assert_eq!(replicas_for(7.000_1, 1.0, 0.7, 1), 11);
        assert_eq!(replicas_for(0.0, 1.0, 0.7, 1), 0);
        assert_eq!(replicas_for(20.0, 10.0, 0.7, 4), 72);
    }

    #[test]
    fn sustained_rps_inverts_the_formula() {
        assert!((sustained_rps(286, 10.0, 0.7, 1) - 20.02).abs() < 1e-9);
        for replicas in [1, 7, 286, 1000] {
            let rps = sustained_rps(replicas, 0.25, 0.7, 2);
            assert_eq!(replicas_for(rps, 0.25, 0.7, 2), replicas);
        }
    }
}
