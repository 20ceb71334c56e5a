//! The autoscaling annotations of a model Deployment, with the v1 defaults: `kubectl-aml.io/autoscale`
//! (`true` unless `false`), `target-utilization` (70), `min-replicas` (1), `max-replicas` (10),
//! `refresh-seconds` (1). A malformed one means the Deployment is not scaled at all (guessing
//! someone's replica bounds is worse than leaving them alone), and says which and why.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::autoscale::Settings;
use crate::router::contract::{ANNOTATION_PREFIX, BadAnnotation};

/// How one Deployment is to be autoscaled.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// `kubectl-aml.io/autoscale` is not `false`.
    pub enabled: bool,
    /// The policy's settings.
    pub settings: Settings,
}

fn bad(name: &str, reason: String) -> BadAnnotation {
    BadAnnotation {
        annotation: format!("{ANNOTATION_PREFIX}{name}"),
        reason,
    }
}

fn number(
    annotations: &BTreeMap<String, String>,
    name: &str,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
    problems: &mut Vec<BadAnnotation>,
) -> u32 {
    let Some(text) = annotations.get(&format!("{ANNOTATION_PREFIX}{name}")) else {
        return default;
    };
    match text.trim().parse::<u32>() {
        Ok(n) if range.contains(&n) => n,
        _ => {
            let reason = format!(
                "`{text}` is not a whole number from {} to {}",
                range.start(),
                range.end()
            );
            problems.push(bad(name, reason));
            default
        }
    }
}

/// Reads the annotations; `per_replica` is the service's max concurrent requests per replica and
/// `window` how long lower demand must last before a scale-down.
pub fn spec(
    annotations: &BTreeMap<String, String>,
    per_replica: u32,
    window: Duration,
) -> Result<Spec, Vec<BadAnnotation>> {
    let mut problems = Vec::new();
    let enabled = match annotations
        .get(&format!("{ANNOTATION_PREFIX}autoscale"))
        .map(|v| v.trim())
    {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            problems.push(bad("autoscale", format!("`{other}` is not true or false")));
            true
        }
    };
    let target = number(
        annotations,
        "target-utilization",
        1..=100,
        70,
        &mut problems,
    );
    let min = number(annotations, "min-replicas", 1..=1000, 1, &mut problems);
    let max = number(annotations, "max-replicas", 1..=1000, 10, &mut problems);
    let refresh = number(annotations, "refresh-seconds", 1..=3600, 1, &mut problems);
    if problems.is_empty() && min > max {
        problems.push(bad(
            "min-replicas",
            format!("{min} is more than kubectl-aml.io/max-replicas ({max})"),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Spec {
        enabled,
        settings: Settings {
            target: f64::from(target) / 100.0,
            min,
            max,
            per_replica: per_replica.max(1),
            tick: Duration::from_secs(refresh.into()),
            scale_down_window: window,
            ..Settings::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (format!("kubectl-aml.io/{k}"), v.to_string()))
            .collect()
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn absent_annotations_give_the_v1_defaults() {
        let spec = spec(&BTreeMap::new(), 1, MINUTE).unwrap();
        assert!(spec.enabled);
        let s = spec.settings;
        assert_eq!(
            (s.target, s.min, s.max, s.tick),
            (0.7, 1, 10, Duration::from_secs(1))
        );
        assert_eq!(s.scale_down_window, MINUTE);
    }

    #[test]
    fn annotations_set_the_policy_and_false_turns_it_off() {
        let a = annotations(&[
            ("target-utilization", "50"),
            ("min-replicas", "2"),
            ("max-replicas", "4"),
            ("refresh-seconds", "5"),
        ]);
        let s = spec(&a, 3, MINUTE).unwrap().settings;
        assert_eq!((s.target, s.min, s.max, s.per_replica), (0.5, 2, 4, 3));
        assert_eq!(s.tick, Duration::from_secs(5));
        assert!(
            !spec(&annotations(&[("autoscale", "false")]), 1, MINUTE)
                .unwrap()
                .enabled
        );
    }

    #[test]
    fn malformed_values_name_the_annotation_and_scale_nothing() {
        for (name, value) in [
            ("target-utilization", "0"),
            ("target-utilization", "150"),
            ("min-replicas", "-1"),
            ("max-replicas", "many"),
            ("autoscale", "maybe"),
        ] {
            let problems = spec(&annotations(&[(name, value)]), 1, MINUTE).unwrap_err();
            assert_eq!(problems[0].annotation, format!("kubectl-aml.io/{name}"));
            assert!(problems[0].reason.contains(value), "{problems:?}");
        }
        let crossed = spec(
            &annotations(&[("min-replicas", "5"), ("max-replicas", "3")]),
            1,
            MINUTE,
        );
        let problems = crossed.unwrap_err();
        assert_eq!(
            problems[0].reason,
            "5 is more than kubectl-aml.io/max-replicas (3)"
        );
    }
}
