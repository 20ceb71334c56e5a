//! The v1 deployment knobs (`AksWebservice.deploy_configuration`), their v1 defaults, and how flags
//! lay over a file and changes over what runs. Their checks are in `checks`.

/// The v1 knobs; `None` = not given.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Knobs {
    pub cpu_cores: Option<f64>,
    pub memory_gb: Option<f64>,
    pub cpu_cores_limit: Option<f64>,
    pub memory_gb_limit: Option<f64>,
    pub gpu_cores: Option<i64>,
    pub autoscale: Option<bool>,
    pub min_replicas: Option<i64>,
    pub max_replicas: Option<i64>,
    pub target_utilization: Option<i64>,
    pub refresh_seconds: Option<i64>,
    pub num_replicas: Option<i64>,
    pub scoring_timeout_ms: Option<i64>,
    pub max_concurrent_requests: Option<i64>,
    pub max_request_wait_ms: Option<i64>,
    pub period_seconds: Option<i64>,
    pub initial_delay_seconds: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub success_threshold: Option<i64>,
    pub failure_threshold: Option<i64>,
    /// v1 `auth_enabled` (key auth).
    pub key_auth: Option<bool>,
    /// v1 `token_auth_enabled`.
    pub token_auth: Option<bool>,
    pub app_insights: Option<bool>,
    pub description: Option<String>,
    pub tags: Option<Vec<(String, String)>>,
    /// v1 `keys.primaryKey` / `keys.secondaryKey`: the endpoint's first keys.
    pub primary_key: Option<String>,
    pub secondary_key: Option<String>,
    /// v1 `namespace` (files only): checked as v1 did, not carried over (v2 uses the compute's).
    pub namespace: Option<String>,
}

/// The v1 defaults the server applied, sent explicitly so a v1 configuration behaves as before
/// (the v2 service's own defaults differ: a 5 s request timeout, 30 probe failures…).
pub(crate) mod defaults {
    pub const CPU_CORES: f64 = 0.1;
    pub const MEMORY_GB: f64 = 0.5;
    pub const MIN_REPLICAS: i64 = 1;
    pub const MAX_REPLICAS: i64 = 10;
    pub const TARGET_UTILIZATION: i64 = 70;
    pub const REFRESH_SECONDS: i64 = 1;
    pub const SCORING_TIMEOUT_MS: i64 = 60_000;
    pub const MAX_CONCURRENT_REQUESTS: i64 = 1;
    pub const MAX_REQUEST_WAIT_MS: i64 = 500;
    pub const PERIOD_SECONDS: i64 = 10;
    pub const INITIAL_DELAY_SECONDS: i64 = 310;
    pub const TIMEOUT_SECONDS: i64 = 2;
    pub const SUCCESS_THRESHOLD: i64 = 1;
    pub const FAILURE_THRESHOLD: i64 = 3;
}

macro_rules! overlay {
    ($base:expr, $top:expr, $($field:ident),*) => {
        $( if $top.$field.is_some() { $base.$field = $top.$field.clone(); } )*
    };
}

impl Knobs {
    /// `self` with every knob `top` gives replacing ours (flags over a file, changes over current).
    pub(crate) fn overlaid(&self, top: &Knobs) -> Knobs {
        let mut out = self.clone();
        overlay!(
            out,
            top,
            cpu_cores,
            memory_gb,
            cpu_cores_limit,
            memory_gb_limit,
            gpu_cores,
            autoscale,
            min_replicas,
            max_replicas,
            target_utilization,
            refresh_seconds,
            num_replicas,
            scoring_timeout_ms,
            max_concurrent_requests,
            max_request_wait_ms,
            period_seconds,
            initial_delay_seconds,
            timeout_seconds,
            success_threshold,
            failure_threshold,
            key_auth,
            token_auth,
            app_insights,
            description,
            tags,
            primary_key,
            secondary_key,
            namespace
        );
        out
    }

    /// Whether the autoscaler runs: v1's rule (on unless turned off or a replica count is given).
    pub(crate) fn autoscaling(&self) -> bool {
        self.autoscale.unwrap_or(self.num_replicas.is_none())
    }
}
