//! The v1 knobs onto the v2 Kubernetes online deployment (and back, to compare with what runs).
//! Every v1 default is sent explicitly: the v2 service's own defaults differ (a 5 s request
//! timeout instead of 60 s, 30 probe failures instead of 3…), and a v1 configuration should keep
//! behaving as it did.

use serde_json::{Map, Value, json};

use aml_core::arm::parse_iso_ms;

use crate::knobs::{Knobs, defaults as d};

/// What goes into a deployment's PUT besides its assets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shape {
    /// `sku.capacity`: the instance count (autoscale: the minimum to start with).
    pub capacity: i64,
    /// `properties` fields from the knobs.
    pub properties: Map<String, Value>,
    /// `tags`.
    pub tags: Option<Map<String, Value>>,
}

/// A number as Kubernetes quantities write it: `0.5`, `2`.
fn quantity(n: f64) -> String {
    let text = format!("{n:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Milliseconds as an ISO-8601 duration: 500 → `PT0.5S`, 60000 → `PT60S`.
pub(crate) fn iso_ms(ms: i64) -> String {
    format!("PT{}S", quantity(ms as f64 / 1000.0))
}

/// The deployment fields for these knobs (v1 defaults filling the gaps).
pub(crate) fn shape(k: &Knobs) -> Shape {
    let mut requests = Map::new();
    requests.insert(
        "cpu".into(),
        json!(quantity(k.cpu_cores.unwrap_or(d::CPU_CORES))),
    );
    requests.insert(
        "memory".into(),
        json!(format!(
            "{}Gi",
            quantity(k.memory_gb.unwrap_or(d::MEMORY_GB))
        )),
    );
    let mut limits = Map::new();
    if let Some(cpu) = k.cpu_cores_limit {
        limits.insert("cpu".into(), json!(quantity(cpu)));
    }
    if let Some(memory) = k.memory_gb_limit {
        limits.insert("memory".into(), json!(format!("{}Gi", quantity(memory))));
    }
    // Kubernetes requires GPU requests and limits to be equal.
    if let Some(gpu) = k.gpu_cores.filter(|g| *g > 0) {
        requests.insert("gpu".into(), json!(gpu.to_string()));
        limits.insert("gpu".into(), json!(gpu.to_string()));
    }
    let mut resources = json!({"containerResourceRequests": requests});
    if !limits.is_empty() {
        resources["containerResourceLimits"] = Value::Object(limits);
    }
    let mut properties = Map::new();
    properties.insert("containerResourceRequirements".into(), resources);
    let (scale, capacity) = if k.autoscaling() {
        let min = k.min_replicas.unwrap_or(d::MIN_REPLICAS);
        let scale = json!({"scaleType": "TargetUtilization", "minInstances": min,
            "maxInstances": k.max_replicas.unwrap_or(d::MAX_REPLICAS),
            "targetUtilizationPercentage": k.target_utilization.unwrap_or(d::TARGET_UTILIZATION),
            "pollingInterval": format!("PT{}S", k.refresh_seconds.unwrap_or(d::REFRESH_SECONDS))});
        (scale, min)
    } else {
        (json!({"scaleType": "Default"}), k.num_replicas.unwrap_or(1))
    };
    properties.insert("scaleSettings".into(), scale);
    properties.insert("requestSettings".into(), json!({
        "maxConcurrentRequestsPerInstance": k.max_concurrent_requests.unwrap_or(d::MAX_CONCURRENT_REQUESTS),
        "requestTimeout": iso_ms(k.scoring_timeout_ms.unwrap_or(d::SCORING_TIMEOUT_MS)),
        "maxQueueWait": iso_ms(k.max_request_wait_ms.unwrap_or(d::MAX_REQUEST_WAIT_MS)),
    }));
    let seconds = |v: Option<i64>, default: i64| format!("PT{}S", v.unwrap_or(default));
    properties.insert(
        "livenessProbe".into(),
        json!({
            "period": seconds(k.period_seconds, d::PERIOD_SECONDS),
            "initialDelay": seconds(k.initial_delay_seconds, d::INITIAL_DELAY_SECONDS),
            "timeout": seconds(k.timeout_seconds, d::TIMEOUT_SECONDS),
            "successThreshold": k.success_threshold.unwrap_or(d::SUCCESS_THRESHOLD),
            "failureThreshold": k.failure_threshold.unwrap_or(d::FAILURE_THRESHOLD),
        }),
    );
    if let Some(on) = k.app_insights {
        properties.insert("appInsightsEnabled".into(), json!(on));
    }
    if let Some(text) = &k.description {
        properties.insert("description".into(), json!(text));
    }
    let tags = k
        .tags
        .as_ref()
        .map(|t| t.iter().map(|(a, b)| (a.clone(), json!(b))).collect());
    Shape {
        capacity,
        properties,
        tags,
    }
}

fn gi(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("Gi") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("Mi") {
        (n, 1.0 / 1024.0)
    } else if let Some(n) = text.strip_suffix('G') {
        (n, 1e9 / 1073741824.0)
    } else {
        (text, 1.0 / 1073741824.0)
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// The knobs of a deployment as ARM returns it, and its endpoint's auth mode.
pub(crate) fn knobs_of(deployment: &Value, auth_mode: Option<&str>) -> Knobs {
    let p = &deployment["properties"];
    let text = |ptr: &str| p.pointer(ptr).and_then(Value::as_str);
    let int = |ptr: &str| p.pointer(ptr).and_then(Value::as_i64);
    let secs = |ptr: &str| text(ptr).and_then(parse_iso_ms).map(|ms| ms / 1000);
    let autoscale = text("/scaleSettings/scaleType")
        .is_none_or(|t| t.eq_ignore_ascii_case("TargetUtilization"));
    let tags = deployment["tags"].as_object().map(|t| {
        t.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .collect()
    });
    Knobs {
        cpu_cores: text("/containerResourceRequirements/containerResourceRequests/cpu")
            .and_then(|c| c.parse().ok()),
        memory_gb: text("/containerResourceRequirements/containerResourceRequests/memory")
            .and_then(gi),
        cpu_cores_limit: text("/containerResourceRequirements/containerResourceLimits/cpu")
            .and_then(|c| c.parse().ok()),
        memory_gb_limit: text("/containerResourceRequirements/containerResourceLimits/memory")
            .and_then(gi),
        gpu_cores: text("/containerResourceRequirements/containerResourceRequests/gpu")
            .and_then(|g| g.parse().ok()),
        autoscale: Some(autoscale),
        min_replicas: int("/scaleSettings/minInstances").filter(|_| autoscale),
        max_replicas: int("/scaleSettings/maxInstances").filter(|_| autoscale),
        target_utilization: int("/scaleSettings/targetUtilizationPercentage").filter(|_| autoscale),
        refresh_seconds: secs("/scaleSettings/pollingInterval").filter(|_| autoscale),
        num_replicas: (!autoscale)
            .then(|| deployment.pointer("/sku/capacity").and_then(Value::as_i64))
            .flatten(),
        scoring_timeout_ms: text("/requestSettings/requestTimeout").and_then(parse_iso_ms),
        max_concurrent_requests: int("/requestSettings/maxConcurrentRequestsPerInstance"),
        max_request_wait_ms: text("/requestSettings/maxQueueWait").and_then(parse_iso_ms),
        period_seconds: secs("/livenessProbe/period"),
        initial_delay_seconds: secs("/livenessProbe/initialDelay"),
        timeout_seconds: secs("/livenessProbe/timeout"),
        success_threshold: int("/livenessProbe/successThreshold"),
        failure_threshold: int("/livenessProbe/failureThreshold"),
        key_auth: auth_mode.map(|m| m.eq_ignore_ascii_case("Key")),
        token_auth: auth_mode.map(|m| m.eq_ignore_ascii_case("AMLToken")),
        app_insights: p["appInsightsEnabled"].as_bool(),
        description: text("/description").map(str::to_string),
        tags,
        primary_key: None,
        secondary_key: None,
        namespace: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        assert_eq!(iso_ms(500), "PT0.5S");
        assert_eq!(iso_ms(60_000), "PT60S");
        assert_eq!(parse_iso_ms("PT0.5S"), Some(500));
        assert_eq!(parse_iso_ms("PT1M30S"), Some(90_000));
        assert_eq!(parse_iso_ms("P1D"), None);
    }

    #[test]
    fn the_defaults_are_v1s_and_the_knobs_come_back() {
        let s = shape(&Knobs::default());
        assert_eq!(s.capacity, 1);
        assert_eq!(s.properties["requestSettings"]["requestTimeout"], "PT60S");
        assert_eq!(s.properties["livenessProbe"]["initialDelay"], "PT310S");
        assert_eq!(
            s.properties["scaleSettings"]["targetUtilizationPercentage"],
            70
        );
        let knobs = Knobs {
            cpu_cores: Some(1.5),
            memory_gb: Some(2.0),
            cpu_cores_limit: Some(2.0),
            gpu_cores: Some(1),
            autoscale: Some(false),
            num_replicas: Some(3),
            scoring_timeout_ms: Some(5000),
            ..Knobs::default()
        };
        let s = shape(&knobs);
        assert_eq!(s.capacity, 3);
        assert_eq!(
            s.properties["scaleSettings"],
            json!({"scaleType": "Default"})
        );
        assert_eq!(
            s.properties["containerResourceRequirements"]["containerResourceLimits"],
            json!({"cpu": "2", "gpu": "1"})
        );
        let deployment = json!({"sku": {"capacity": 3}, "properties": Value::Object(s.properties)});
        let back = knobs_of(&deployment, Some("Key"));
        assert_eq!(
            (
                back.cpu_cores,
                back.memory_gb,
                back.cpu_cores_limit,
                back.gpu_cores
            ),
            (Some(1.5), Some(2.0), Some(2.0), Some(1))
        );
        assert_eq!(
            (back.autoscale, back.num_replicas, back.scoring_timeout_ms),
            (Some(false), Some(3), Some(5000))
        );
        assert_eq!(back.key_auth, Some(true));
        assert_eq!(
            shape(&back).properties,
            shape(&knobs).properties,
            "a round trip changes nothing"
        );
    }
}
