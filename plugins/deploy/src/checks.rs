//! The v1 SDK's checks on the knobs, every failure reported together in the SDK's own words
//! (`Invalid configuration, …` at creation, `Error, …` on update), plus the one rule we add: a
//! target utilisation above 100 % (the v1 SDK accepts 150) is refused.

use crate::knobs::{Knobs, defaults};

fn positive(name: &str) -> String {
    format!("{name} must be greater than zero.")
}

fn without(name: &str) -> String {
    format!("{name} provided without enabling autoscaling.")
}

impl Knobs {
    /// The v1 `deploy_configuration` checks, in the SDK's order and words.
    pub(crate) fn create_problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .common_problems()
            .into_iter()
            .map(|p| format!("Invalid configuration, {p}"))
            .collect();
        if self.key_auth == Some(true) && self.token_auth == Some(true) {
            out.push(
                "Invalid configuration, auth_enabled and token_auth_enabled cannot both be true."
                    .into(),
            );
        }
        out
    }

    /// The v1 `AksWebservice.update` checks against the service as it is (`current`).
    pub(crate) fn update_problems(&self, current: &Knobs) -> Vec<String> {
        // v1 judged an update's arguments alone, so raising the maximum of an autoscaling service
        // failed with "provided without enabling autoscaling"; here a service that autoscales
        // counts as enabled unless the update turns it off.
        let effective = Knobs {
            autoscale: self.autoscale.or(current.autoscaling().then_some(true)),
            ..self.clone()
        };
        let mut out: Vec<String> = effective
            .common_problems()
            .into_iter()
            .map(|p| format!("Error, {p}"))
            .collect();
        let positive = |v: Option<f64>| v.is_some_and(|v| v <= 0.0);
        if positive(self.cpu_cores_limit) {
            out.push("Error, cpu_cores_limit must be greater than zero.".into());
        }
        if positive(self.memory_gb_limit) {
            out.push("Error, memory_gb_limit must be greater than zero.".into());
        }
        let cpu = self
            .cpu_cores
            .or(current.cpu_cores)
            .unwrap_or(defaults::CPU_CORES);
        if let Some(limit) = self
            .cpu_cores_limit
            .filter(|_| self.cpu_cores.is_none())
            .filter(|l| *l < cpu)
        {
            out.push(format!(
                "Error, cpu_cores_limit {limit} is less than the service's cpu_cores {cpu}."
            ));
        }
        let memory = self
            .memory_gb
            .or(current.memory_gb)
            .unwrap_or(defaults::MEMORY_GB);
        if let Some(limit) = self
            .memory_gb_limit
            .filter(|_| self.memory_gb.is_none())
            .filter(|l| *l < memory)
        {
            out.push(format!(
                "Error, memory_gb_limit {limit} is less than the service's memory_gb {memory}."
            ));
        }
        if let Some(limit) = current
            .cpu_cores_limit
            .filter(|_| self.cpu_cores_limit.is_none())
            && self.cpu_cores.is_some_and(|c| c > limit)
        {
            out.push(format!(
                "Error, cpu_cores {} is more than the service's cpu_cores_limit {limit}.",
                self.cpu_cores.unwrap_or_default()
            ));
        }
        if let Some(limit) = current
            .memory_gb_limit
            .filter(|_| self.memory_gb_limit.is_none())
            && self.memory_gb.is_some_and(|m| m > limit)
        {
            out.push(format!(
                "Error, memory_gb {} is more than the service's memory_gb_limit {limit}.",
                self.memory_gb.unwrap_or_default()
            ));
        }
        match (self.key_auth, self.token_auth) {
            (Some(true), Some(true)) => out.push("Error, cannot set both token_auth_enabled and auth_enabled.".into()),
            (None, Some(true)) if current.key_auth == Some(true) => out.push(
                "Error, cannot set token_auth_enabled without disabling key auth (set auth_enabled to False).".into(),
            ),
            (Some(true), None) if current.token_auth == Some(true) => out.push(
                "Error, cannot set auth_enabled without disabling token auth (set token_auth_enabled to False).".into(),
            ),
            _ => {}
        }
        out
    }

    /// The checks create and update share, without their prefix, in the v1 SDK's order.
    fn common_problems(&self) -> Vec<String> {
        let le0 = |v: Option<i64>| v.is_some_and(|v| v <= 0);
        let autoscale_on = self.autoscale == Some(true);
        let checks: Vec<(bool, String)> = vec![
            (
                self.cpu_cores.is_some_and(|v| v <= 0.0),
                positive("cpu_cores"),
            ),
            (
                matches!((self.cpu_cores, self.cpu_cores_limit), (Some(c), Some(l)) if l < c),
                "cpu_cores_limit must be greater than or equal to cpu_cores.".into(),
            ),
            (
                self.memory_gb.is_some_and(|v| v <= 0.0),
                positive("memory_gb"),
            ),
            (
                matches!((self.memory_gb, self.memory_gb_limit), (Some(m), Some(l)) if l < m),
                "memory_gb_limit must be greater than or equal to memory_gb.".into(),
            ),
            (
                self.gpu_cores.is_some_and(|g| g < 0),
                "gpu_cores must be greater than or equal to zero.".into(),
            ),
            (le0(self.period_seconds), positive("period_seconds")),
            (
                le0(self.initial_delay_seconds),
                positive("initial_delay_seconds"),
            ),
            (le0(self.timeout_seconds), positive("timeout_seconds")),
            (le0(self.success_threshold), positive("success_threshold")),
            (le0(self.failure_threshold), positive("failure_threshold")),
            (
                self.namespace.as_deref().is_some_and(|ns| !is_namespace(ns)),
                "namespace must be a valid Kubernetes namespace. Regex for validation is ^[a-z0-9]([a-z0-9-]{,61}[a-z0-9])?$".into(),
            ),
            (le0(self.scoring_timeout_ms), positive("scoring_timeout_ms")),
            (
                le0(self.max_concurrent_requests),
                positive("replica_max_concurrent_requests"),
            ),
            (
                le0(self.max_request_wait_ms),
                positive("max_request_wait_time"),
            ),
            (le0(self.num_replicas), positive("num_replicas")),
            (
                autoscale_on && self.num_replicas.is_some(),
                "autoscale enabled and num_replicas provided.".into(),
            ),
            (
                autoscale_on && le0(self.min_replicas),
                positive("autoscale_min_replicas"),
            ),
            (
                autoscale_on && le0(self.max_replicas),
                positive("autoscale_max_replicas"),
            ),
            (
                autoscale_on
                    && matches!((self.min_replicas, self.max_replicas), (Some(a), Some(b)) if a > b),
                "autoscale_min_replicas cannot be greater than autoscale_max_replicas.".into(),
            ),
            (
                autoscale_on && le0(self.refresh_seconds),
                positive("autoscale_refresh_seconds"),
            ),
            (
                autoscale_on && le0(self.target_utilization),
                positive("autoscale_target_utilization"),
            ),
            (
                self.autoscale == Some(false) && self.num_replicas.is_none(),
                "autoscale disabled but num_replicas not provided.".into(),
            ),
            (
                !autoscale_on && self.min_replicas.is_some(),
                without("autoscale_min_replicas"),
            ),
            (
                !autoscale_on && self.max_replicas.is_some(),
                without("autoscale_max_replicas"),
            ),
            (
                !autoscale_on && self.refresh_seconds.is_some(),
                without("autoscale_refresh_seconds"),
            ),
            (
                !autoscale_on && self.target_utilization.is_some(),
                without("autoscale_target_utilization"),
            ),
            // Ours: a utilisation is a share of busy replicas; the v1 SDK let 150 through.
            (
                self.target_utilization.is_some_and(|t| t > 100),
                "autoscale_target_utilization must be at most 100 (a percentage of busy replicas)."
                    .into(),
            ),
        ];
        checks
            .into_iter()
            .filter(|(bad, _)| *bad)
            .map(|(_, message)| message)
            .collect()
    }
}

/// v1's `NAMESPACE_REGEX`: `^[a-z0-9]([a-z0-9-]{,61}[a-z0-9])?$`, an RFC 1123 label.
fn is_namespace(ns: &str) -> bool {
    let b = ns.as_bytes();
    let inner = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && inner(&b[0])
        && inner(&b[b.len() - 1])
        && b.iter().all(|c| inner(c) || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_v1_failure_is_reported_together() {
        let knobs = Knobs {
            cpu_cores: Some(0.0),
            memory_gb: Some(2.0),
            memory_gb_limit: Some(1.0),
            gpu_cores: Some(-1),
            autoscale: Some(true),
            num_replicas: Some(2),
            min_replicas: Some(5),
            max_replicas: Some(3),
            target_utilization: Some(150),
            key_auth: Some(true),
            token_auth: Some(true),
            namespace: Some("Models".into()),
            ..Knobs::default()
        };
        assert_eq!(
            knobs.create_problems(),
            [
                "Invalid configuration, cpu_cores must be greater than zero.",
                "Invalid configuration, memory_gb_limit must be greater than or equal to memory_gb.",
                "Invalid configuration, gpu_cores must be greater than or equal to zero.",
                "Invalid configuration, namespace must be a valid Kubernetes namespace. Regex for validation is ^[a-z0-9]([a-z0-9-]{,61}[a-z0-9])?$",
                "Invalid configuration, autoscale enabled and num_replicas provided.",
                "Invalid configuration, autoscale_min_replicas cannot be greater than autoscale_max_replicas.",
                "Invalid configuration, autoscale_target_utilization must be at most 100 (a percentage of busy replicas).",
                "Invalid configuration, auth_enabled and token_auth_enabled cannot both be true.",
            ]
        );
    }

    #[test]
    fn namespaces_follow_the_v1_regex() {
        for good in ["a", "models", "team-1", &"a".repeat(63)] {
            assert!(is_namespace(good), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_namespace(bad), "{bad}");
        }
    }

    #[test]
    fn autoscale_settings_need_autoscale() {
        let knobs = Knobs {
            autoscale: Some(false),
            min_replicas: Some(2),
            ..Knobs::default()
        };
        assert_eq!(
            knobs.create_problems(),
            [
                "Invalid configuration, autoscale disabled but num_replicas not provided.",
                "Invalid configuration, autoscale_min_replicas provided without enabling autoscaling.",
            ]
        );
        let knobs = Knobs {
            num_replicas: Some(2),
            ..Knobs::default()
        };
        assert!(knobs.create_problems().is_empty());
        assert!(!knobs.autoscaling());
        assert!(
            Knobs::default().autoscaling(),
            "v1: on unless a replica count is given"
        );
    }

    #[test]
    fn updates_are_checked_against_the_service() {
        let current = Knobs {
            cpu_cores: Some(2.0),
            memory_gb: Some(4.0),
            cpu_cores_limit: Some(3.0),
            key_auth: Some(true),
            ..Knobs::default()
        };
        let change = Knobs {
            cpu_cores_limit: Some(1.0),
            memory_gb_limit: Some(-1.0),
            token_auth: Some(true),
            ..Knobs::default()
        };
        let problems = change.update_problems(&current);
        assert!(
            problems.contains(&"Error, memory_gb_limit must be greater than zero.".to_string()),
            "{problems:?}"
        );
        assert!(
            problems.contains(
                &"Error, cpu_cores_limit 1 is less than the service's cpu_cores 2.".to_string()
            ),
            "{problems:?}"
        );
        assert!(problems.contains(&"Error, cannot set token_auth_enabled without disabling key auth (set auth_enabled to False).".to_string()));
        let raise = Knobs {
            cpu_cores: Some(4.0),
            ..Knobs::default()
        };
        assert_eq!(
            raise.update_problems(&current),
            ["Error, cpu_cores 4 is more than the service's cpu_cores_limit 3."]
        );
        let switch = Knobs {
            key_auth: Some(false),
            token_auth: Some(true),
            ..Knobs::default()
        };
        assert!(switch.update_problems(&current).is_empty());
    }

    #[test]
    fn an_update_inherits_the_services_autoscale_switch() {
        let autoscaling = Knobs {
            autoscale: Some(true),
            ..Knobs::default()
        };
        let fixed = Knobs {
            autoscale: Some(false),
            num_replicas: Some(2),
            ..Knobs::default()
        };
        let raise_max = Knobs {
            max_replicas: Some(6),
            ..Knobs::default()
        };
        assert!(raise_max.update_problems(&autoscaling).is_empty());
        assert_eq!(
            raise_max.update_problems(&fixed),
            ["Error, autoscale_max_replicas provided without enabling autoscaling."]
        );
        let replicas = Knobs {
            num_replicas: Some(3),
            ..Knobs::default()
        };
        assert_eq!(
            replicas.update_problems(&autoscaling),
            ["Error, autoscale enabled and num_replicas provided."]
        );
        assert!(replicas.update_problems(&fixed).is_empty());
        let cpu_only = Knobs {
            cpu_cores: Some(0.5),
            ..Knobs::default()
        };
        assert!(cpu_only.update_problems(&fixed).is_empty());
    }
}
