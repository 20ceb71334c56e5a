//! Our fingerprints and key-match answers against openssl's, on the same fixture files.

use std::process::Command;

use aml_core::tls::{self, read_part};

use crate::common::tls_fixture;

fn openssl(args: &[&str]) -> Option<String> {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed (the machines have it)");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn fixtures(suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(tls_fixture(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

#[test]
fn fingerprints_match_openssl() {
    let certificates = fixtures(".crt");
    assert!(certificates.len() >= 12, "{certificates:?}");
    for name in certificates {
        let path = tls_fixture(&name);
        let theirs = openssl(&[
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-in",
            path.to_str().unwrap(),
        ])
        .unwrap();
        let chain = tls::parse_chain(&read_part(&path).unwrap()).unwrap();
        let ours = tls::summarize(&chain, None, jiff::Timestamp::now())
            .unwrap()
            .fingerprint_sha256;
        assert_eq!(theirs, format!("sha256 Fingerprint={ours}"), "{name}");
    }
}

#[test]
fn key_match_answers_match_openssl() {
    let certificates: Vec<(String, String, Vec<_>)> = fixtures(".crt")
        .into_iter()
        .map(|name| {
            let path = tls_fixture(&name);
            let public =
                openssl(&["x509", "-noout", "-pubkey", "-in", path.to_str().unwrap()]).unwrap();
            let chain = tls::parse_chain(&read_part(&path).unwrap()).unwrap();
            (name, public, chain)
        })
        .collect();
    let keys: Vec<String> = fixtures(".key")
        .into_iter()
        .filter(|k| !k.contains("encrypted"))
        .collect();
    let mut compared = 0;
    for key_name in &keys {
        let key_path = tls_fixture(key_name);
        let key_public = openssl(&["pkey", "-pubout", "-in", key_path.to_str().unwrap()]).unwrap();
        let key = tls::parse_key(&read_part(&key_path).unwrap()).unwrap();
        for (cert_name, cert_public, chain) in &certificates {
            let ours = tls::summarize(chain, Some(&key), jiff::Timestamp::now())
                .unwrap()
                .key_matches;
            match ours {
                Some(matches) => assert_eq!(
                    matches,
                    key_public == *cert_public,
                    "{cert_name} + {key_name}"
                ),
                // Only a key azureml-fe cannot use is left unjudged.
                None => assert_eq!(key_name, "rsa1024.key", "{cert_name} + {key_name}"),
            }
            compared += 1;
        }
    }
    assert_eq!(compared, certificates.len() * keys.len());
    assert!(keys.len() >= 10 && certificates.len() >= 12);
}
