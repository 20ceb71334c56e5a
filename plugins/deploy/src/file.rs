//! `--deploy-config-file`: the v1 CLI's deployment file (JSON or YAML, `computeType: AKS`), read
//! with the v1 CLI's key mapping into [`Knobs`].

use std::path::Path;

use serde_json::Value;

use crate::knobs::Knobs;

/// What a deployment file gives.
#[derive(Debug, Default)]
pub(crate) struct DeployFile {
    pub knobs: Knobs,
    /// `computeTargetName`.
    pub compute: Option<String>,
    /// Keys we read but cannot carry over, said as warnings.
    pub ignored: Vec<String>,
}

fn bad(path: &Path, why: impl std::fmt::Display) -> aml_core::Error {
    aml_core::Error::usage(
        format!(
            "Error parsing --deploy-config-file `{}`: {why}",
            path.display()
        ),
        "the file is the v1 CLI's deploymentconfig.json (JSON or YAML) with \"computeType\": \"AKS\"",
    )
}

/// The largest deployment file read (real ones are a few hundred bytes).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads and maps a v1 deployment file.
pub(crate) fn read(path: &Path) -> Result<DeployFile, aml_core::Error> {
    let bytes = aml_core::files::read_bounded(path, MAX_FILE_BYTES).map_err(|e| {
        aml_core::Error::usage(
            e.describe("--deploy-config-file"),
            "give the v1 CLI's deploymentconfig.json (JSON or YAML)",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|_| bad(path, "the file is not UTF-8 text"))?;
    let doc: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => serde_saphyr::from_str(&text).map_err(|e| bad(path, e))?,
    };
    parse(&doc).map_err(|why| bad(path, why))
}

/// Maps the keys (v1 `deploy_config_dict_to_obj`); the top-level `computeType` must be AKS.
pub(crate) fn parse(doc: &Value) -> Result<DeployFile, String> {
    let Some(object) = doc.as_object() else {
        return Err("the file is not a JSON/YAML object".into());
    };
    let kind = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("computeType"))
        .and_then(|(_, v)| v.as_str())
        .ok_or("Need to specify computeType in --deploy-config-file")?;
    if !kind.eq_ignore_ascii_case("aks") {
        return Err(format!(
            "computeType is `{kind}`; kubectl aml deploy reads AKS deployment files"
        ));
    }
    let at = |pointer: &str| doc.pointer(pointer).filter(|v| !v.is_null());
    let float = |pointer: &str| -> Result<Option<f64>, String> {
        at(pointer)
            .map(|v| {
                v.as_f64()
                    .ok_or(format!("`{}` must be a number", &pointer[1..]))
            })
            .transpose()
    };
    let int = |pointer: &str| -> Result<Option<i64>, String> {
        at(pointer)
            .map(|v| {
                v.as_i64()
                    .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                    .ok_or(format!("`{}` must be a whole number", &pointer[1..]))
            })
            .transpose()
    };
    let boolean = |pointer: &str| -> Result<Option<bool>, String> {
        at(pointer)
            .map(|v| {
                v.as_bool()
                    .ok_or(format!("`{}` must be true or false", &pointer[1..]))
            })
            .transpose()
    };
    let text = |pointer: &str| at(pointer).and_then(Value::as_str).map(str::to_string);
    let tags = match at("/tags").or(at("/kvTags")) {
        Some(Value::Object(map)) => Some(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect(),
        ),
        Some(_) => return Err("`tags` must be an object".into()),
        None => None,
    };
    let knobs = Knobs {
        autoscale: boolean("/autoScaler/autoscaleEnabled")?,
        min_replicas: int("/autoScaler/minReplicas")?,
        max_replicas: int("/autoScaler/maxReplicas")?,
        refresh_seconds: int("/autoScaler/refreshPeriodInSeconds")?,
        target_utilization: int("/autoScaler/targetUtilization")?,
        key_auth: boolean("/authEnabled")?,
        token_auth: boolean("/tokenAuthEnabled")?,
        cpu_cores: float("/containerResourceRequirements/cpu")?,
        memory_gb: float("/containerResourceRequirements/memoryInGB")?,
        cpu_cores_limit: float("/containerResourceRequirements/cpuLimit")?,
        memory_gb_limit: float("/containerResourceRequirements/memoryInGBLimit")?,
        gpu_cores: int("/gpuCores")?,
        app_insights: boolean("/appInsightsEnabled")?,
        scoring_timeout_ms: int("/scoringTimeoutMs")?,
        max_concurrent_requests: int("/maxConcurrentRequestsPerContainer")?,
        max_request_wait_ms: int("/maxQueueWaitMs")?,
        num_replicas: int("/numReplicas")?,
        primary_key: text("/keys/primaryKey"),
        secondary_key: text("/keys/secondaryKey"),
        period_seconds: int("/livenessProbeRequirements/periodSeconds")?,
        initial_delay_seconds: int("/livenessProbeRequirements/initialDelaySeconds")?,
        timeout_seconds: int("/livenessProbeRequirements/timeoutSeconds")?,
        success_threshold: int("/livenessProbeRequirements/successThreshold")?,
        failure_threshold: int("/livenessProbeRequirements/failureThreshold")?,
        description: text("/description"),
        tags,
        namespace: text("/namespace"),
    };
    let mut ignored = vec![];
    if boolean("/dataCollection/storageEnabled")? == Some(true) {
        ignored.push("dataCollection.storageEnabled: v2 data collection is configured per deployment with collectors; not carried over".into());
    }
    if let Some(ns) = text("/namespace") {
        ignored.push(format!(
            "namespace `{ns}`: a v2 deployment runs in its compute's namespace"
        ));
    }
    Ok(DeployFile {
        knobs,
        compute: text("/computeTargetName"),
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_docs_example_file_maps_onto_the_knobs() {
        // The v1 docs' AKS deploymentconfig.json.
        let doc = json!({
            "computeType": "aks", "autoScaler": {"autoscaleEnabled": true, "minReplicas": 1, "maxReplicas": 3,
            "refreshPeriodInSeconds": 1, "targetUtilization": 70}, "authEnabled": true,
            "containerResourceRequirements": {"cpu": 0.5, "memoryInGB": 1.0}, "appInsightsEnabled": true,
            "scoringTimeoutMs": 5000, "maxConcurrentRequestsPerContainer": 2, "maxQueueWaitMs": 5000,
            "sslEnabled": false, "gpuCores": 0,
            "livenessProbeRequirements": {"periodSeconds": 10, "initialDelaySeconds": 310, "timeoutSeconds": 2,
                "successThreshold": 1, "failureThreshold": 3}});
        let file = parse(&doc).unwrap();
        let k = &file.knobs;
        assert_eq!(
            (
                k.autoscale,
                k.min_replicas,
                k.max_replicas,
                k.target_utilization
            ),
            (Some(true), Some(1), Some(3), Some(70))
        );
        assert_eq!(
            (k.cpu_cores, k.memory_gb, k.gpu_cores),
            (Some(0.5), Some(1.0), Some(0))
        );
        assert_eq!(
            (
                k.scoring_timeout_ms,
                k.max_concurrent_requests,
                k.max_request_wait_ms
            ),
            (Some(5000), Some(2), Some(5000))
        );
        assert_eq!(k.key_auth, Some(true));
        assert!(k.create_problems().is_empty());
    }

    #[test]
    fn the_compute_type_is_required_and_values_are_typed() {
        assert_eq!(
            parse(&json!({"numReplicas": 2})).unwrap_err(),
            "Need to specify computeType in --deploy-config-file"
        );
        assert!(
            parse(&json!({"computeType": "ACI"}))
                .unwrap_err()
                .contains("ACI")
        );
        assert!(
            parse(&json!({"computeType": "AKS", "numReplicas": "two"}))
                .unwrap_err()
                .contains("numReplicas")
        );
        let file =
            parse(&json!({"computeType": "AKS", "namespace": "x", "computeTargetName": "k8s"}))
                .unwrap();
        assert_eq!(file.compute.as_deref(), Some("k8s"));
        assert_eq!(file.ignored.len(), 1);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// JSON shaped like deployment files: their keys, with values of any type.
    fn documents() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            "\\PC{0,12}".prop_map(Value::from),
            Just(json!("AKS")),
        ];
        let value = leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("\\PC{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        let keys = prop::sample::select(vec![
            "computeType",
            "numReplicas",
            "cpu",
            "memoryInGB",
            "gpuCores",
            "autoScaler",
            "minReplicas",
            "maxReplicas",
            "targetUtilization",
            "refreshPeriodInSeconds",
            "scoringTimeoutMs",
            "maxConcurrentRequestsPerContainer",
            "maxQueueWaitMs",
            "authEnabled",
            "tokenAuthEnabled",
            "livenessProbeRequirements",
            "tags",
            "namespace",
        ]);
        prop::collection::btree_map(keys, value, 0..8)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
        ))]

        #[test]
        fn deployment_files_map_or_name_the_problem(doc in documents()) {
            if let Err(e) = super::parse(&doc) {
                prop_assert!(!e.is_empty());
            }
        }
    }
}
