//! Properties of the parsers that take outside bytes: whatever they are given, they return (no
//! panic), within a bound, and every refusal carries a message. `make fuzz` runs them long.

use proptest::prelude::*;

use crate::autoscale::sim::Trace;
use crate::cli::parse_duration;
use crate::k8s::names;
use crate::tls::{self, Part};

/// Bytes that look like the inputs: PEM fragments, CSV fields and separators, noise.
fn inputish() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"-----BEGIN CERTIFICATE-----\n".to_vec()),
        Just(b"-----END CERTIFICATE-----\n".to_vec()),
        Just(b"-----BEGIN PRIVATE KEY-----\n".to_vec()),
        Just(b"-----BEGIN EC PRIVATE KEY-----\n".to_vec()),
        Just(b"-----END PRIVATE KEY-----\n".to_vec()),
        Just(b"Proc-Type: 4,ENCRYPTED\n".to_vec()),
        Just(b"MIIBszCCAVmgAwIBAgIU".to_vec()),
        Just(b"seconds,rps,request_seconds\n".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"#".to_vec()),
        "[0-9.eE+-]{1,24}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..64),
    ];
    prop::collection::vec(pieces, 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn pem_parts_never_panic_and_refusals_say_why(bytes in inputish()) {
        let part = Part { what: "file `x`".into(), bytes };
        if let Err(e) = tls::parse_chain(&part) {
            prop_assert!(!e.to_string().is_empty());
        }
        if let Err(e) = tls::parse_key(&part) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn traces_parse_or_name_the_problem(bytes in inputish()) {
        let text = String::from_utf8_lossy(&bytes);
        match Trace::parse_csv(&text) {
            Ok(trace) => prop_assert!(trace.duration() <= crate::autoscale::sim::MAX_TRACE_SECONDS),
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }

    #[test]
    fn durations_parse_or_say_how_to_write_one(text in "\\PC{0,24}|[0-9]{1,25}[a-z]{0,3}") {
        if let Err(e) = parse_duration(&text) {
            prop_assert!(e.contains("use a number with a unit"));
        }
    }

    #[test]
    fn namespaces_are_labels_or_refused_with_the_rule(text in "\\PC{0,70}") {
        match names::namespace(&text) {
            Ok(ns) => prop_assert!(ns.len() <= 63 && names::is_dns_label(&ns)),
            Err(e) => prop_assert!(e.contains("is not a valid namespace")),
        }
    }

    #[test]
    fn iso_durations_never_panic(text in "P?T?[0-9.]{0,30}[HMSD]?|\\PC{0,20}") {
        let _ = crate::arm::parse_iso_ms(&text);
    }

    #[test]
    fn secrets_with_any_data_decode_or_say_why(
        cert in prop::option::of("[A-Za-z0-9+/=]{0,64}|\\PC{0,16}"),
        key in prop::option::of("[A-Za-z0-9+/=]{0,64}|\\PC{0,16}"),
        kind in "Opaque|kubernetes.io/tls|\\PC{0,10}",
    ) {
        let mut data = serde_json::Map::new();
        if let Some(c) = cert { data.insert("cert.pem".into(), c.into()); }
        if let Some(k) = key { data.insert("tls.key".into(), k.into()); }
        let secret: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"name": "s", "namespace": "ns"}, "data": data,
        })).unwrap();
        if let Err(e) = tls::Material::from_secret(&secret) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
