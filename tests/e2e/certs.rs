//! `kubectl aml certs export`, `inspect` and `verify` against the fake, and every bad input.

use serde_json::{Value, json};

use crate::common::{
    Certs, assert_code, b64, demo, demo_with_pair, row, set_secret_data, tls_path, tls_text,
};

#[tokio::test]
async fn export_writes_the_decoded_pair_and_the_reattach_flags() {
    let ctx = demo_with_pair("rsa-chain.crt", "rsa.key");
    let dir = ctx.path("out");
    std::fs::create_dir(&dir).unwrap();
    let out = ctx
        .run::<Certs>(&["export", "--out-dir", dir.to_str().unwrap()])
        .await;
    assert_code(&out, 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("cert.pem")).unwrap(),
        tls_text("rsa-chain.crt")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("key.pem")).unwrap(),
        tls_text("rsa.key")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |f: &str| std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode("key.pem"), mode("cert.pem")), (0o600, 0o644));
    }
    assert!(
        out.stdout.contains("--ssl-cert-pem-file")
            && out.stdout.ends_with("--ssl-cname fe.example.com\n"),
        "{out}"
    );
    assert!(
        row(&out.stdout, "chain", "2").contains("2 certificates"),
        "{out}"
    );
    assert!(
        std::fs::read_dir(&dir).unwrap().count() == 2,
        "no temporary files are left behind"
    );
}

#[tokio::test]
async fn export_never_overwrites_without_force_and_writes_both_or_neither() {
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    let dir = ctx.path("out");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("key.pem"), "mine").unwrap();
    let out = ctx
        .run::<Certs>(&["export", "--out-dir", dir.to_str().unwrap()])
        .await;
    assert_code(&out, 1);
    assert!(
        out.stderr.starts_with(&format!(
            "error: refusing to overwrite `{}/key.pem`\nhint: pass --force",
            dir.display()
        )),
        "{out}"
    );
    assert!(
        !dir.join("cert.pem").exists(),
        "the certificate was not written either"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("key.pem")).unwrap(),
        "mine"
    );
    let out = ctx
        .run::<Certs>(&[
            "export",
            "--out-dir",
            dir.to_str().unwrap(),
            "--force",
            "-o",
            "json",
        ])
        .await;
    assert_code(&out, 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("key.pem")).unwrap(),
        tls_text("rsa.key")
    );
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        report["files"]["key"],
        json!(dir.join("key.pem").display().to_string())
    );
    assert_eq!(
        report["summary"]["dnsNames"],
        json!(["fe.example.com", "*.apps.example.com"])
    );
}

#[tokio::test]
async fn kubernetes_io_tls_secrets_are_read_too() {
    let ctx = demo();
    ctx.kube.seed([
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "fe-tls", "namespace": "default"},
        "data": {"tls.crt": b64(&tls_text("ec.crt")), "tls.key": b64(&tls_text("ec.key"))}}),
    ]);
    let out = ctx.run::<Certs>(&["inspect", "--secret", "fe-tls"]).await;
    assert_code(&out, 0);
    assert!(
        row(&out.stdout, "source", "secret").contains("(tls.crt, tls.key)"),
        "{out}"
    );
    assert!(
        out.stdout.contains("key           ECDSA P-256")
            && out.stdout.contains("key matches   yes"),
        "{out}"
    );
}

#[tokio::test]
async fn inspect_reads_the_cluster_or_files() {
    let ctx = demo_with_pair("rsa-chain.crt", "rsa.key");
    let out = ctx.run::<Certs>(&["inspect", "-o", "json"]).await;
    assert_code(&out, 0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let summary = &report["summary"];
    assert_eq!(
        (
            summary["chainLength"].as_u64(),
            summary["keyMatches"].as_bool()
        ),
        (Some(2), Some(true))
    );
    assert_eq!(summary["key"], json!({"algorithm": "RSA", "bits": 2048}));
    let files = ctx
        .run::<Certs>(&[
            "inspect",
            "--cert",
            &tls_path("ed25519.crt"),
            "--key",
            &tls_path("rsa.key"),
        ])
        .await;
    assert_code(&files, 0);
    assert!(
        files.stdout.contains("key matches   no")
            && files
                .stderr
                .contains("warning: the private key does not belong"),
        "{files}"
    );
    let lone = ctx
        .run::<Certs>(&["inspect", "--cert", &tls_path("expired.crt")])
        .await;
    assert_code(&lone, 0);
    assert!(
        lone.stderr
            .contains("warning: the certificate expired on 2021-01-01T00:00:00Z"),
        "{lone}"
    );
    assert!(!lone.stdout.contains("key matches"), "{lone}");
}

#[tokio::test]
async fn verify_passes_a_good_pair_and_lists_every_check() {
    let ctx = demo_with_pair("rsa-chain.crt", "rsa-pkcs1.key");
    let out = ctx
        .run::<Certs>(&["verify", "--cname", "api.apps.example.com"])
        .await;
    assert_code(&out, 0);
    assert_eq!(
        out.stdout.lines().filter(|l| l.contains(" pass ")).count(),
        9,
        "{out}"
    );
    let json = ctx.run::<Certs>(&["verify", "-o", "json"]).await;
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        (
            report["passed"].as_bool(),
            report["checks"].as_array().unwrap().len()
        ),
        (Some(true), 8)
    );
}

#[tokio::test]
async fn verify_fails_with_one_row_per_failed_check() {
    let ctx = demo_with_pair("expired.crt", "rsa.key");
    let out = ctx
        .run::<Certs>(&["verify", "--cname", "other.example.com"])
        .await;
    assert_code(&out, 1);
    let failed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains(" FAIL "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        failed,
        ["key-match", "valid-now", "min-days", "cname"],
        "{out}"
    );
    assert!(
        out.stderr
            .starts_with("error: 4 of 9 checks failed: key-match, valid-now, min-days, cname"),
        "{out}"
    );
    let names = ctx.run::<Certs>(&["verify", "-o", "name"]).await;
    assert_eq!(
        names.stdout, "key-match\nvalid-now\nmin-days\n",
        "-o name lists the failed checks"
    );
}

#[tokio::test]
async fn verify_honours_min_days_on_a_certificate_near_expiry() {
    let ctx = demo();
    let (cert, key) = aml_tests::tls::self_signed_pair(&["fe.example.com"], 10);
    set_secret_data(
        &ctx.kube,
        json!({"cert.pem": b64(&cert), "key.pem": b64(&key)}),
    );
    assert_code(&ctx.run::<Certs>(&["verify"]).await, 1);
    assert_code(&ctx.run::<Certs>(&["verify", "--min-days", "5"]).await, 0);
    let files = ctx.path("pair");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("c.pem"), &cert).unwrap();
    std::fs::write(files.join("k.pem"), &key).unwrap();
    let (c, k) = (files.join("c.pem"), files.join("k.pem"));
    let out = ctx
        .run::<Certs>(&[
            "verify",
            "--cert",
            c.to_str().unwrap(),
            "--key",
            k.to_str().unwrap(),
            "--min-days",
            "30",
        ])
        .await;
    assert_code(&out, 1);
    assert!(
        row(&out.stdout, "min-days", "FAIL").contains("days left, at least 30 wanted"),
        "{out}"
    );
}

/// Every bad input of the issue, through each verb that reads the secret: one clear error, its
/// exit code, and nothing written.
#[tokio::test]
async fn bad_secret_contents_are_named_precisely() {
    let big = "A".repeat(1024 * 1024 + 1);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"cert.pem": b64(&tls_text("rsa.crt"))}),
            "has no key `key.pem` (it has: cert.pem)",
        ),
        (
            json!({"cert.pem": "not*base64", "key.pem": b64(&tls_text("rsa.key"))}),
            "`cert.pem` in secret `default/azuremlfessl` is not valid base64",
        ),
        (
            json!({"cert.pem": b64("hello"), "key.pem": b64(&tls_text("rsa.key"))}),
            "is not PEM: no `-----BEGIN …-----` line",
        ),
        (
            json!({"cert.pem": b64(&tls_text("rsa.key")), "key.pem": b64(&tls_text("rsa.crt"))}),
            "holds `PRIVATE KEY`, expected only `CERTIFICATE` blocks",
        ),
        (
            json!({"cert.pem": b64(&tls_text("rsa.crt")), "key.pem": b64(&tls_text("rsa-encrypted.key"))}),
            "the private key in `key.pem` in secret `default/azuremlfessl` is encrypted",
        ),
        (
            json!({"cert.pem": b64(""), "key.pem": b64(&tls_text("rsa.key"))}),
            "`cert.pem` in secret `default/azuremlfessl` is empty",
        ),
        (
            json!({"cert.pem": b64(&big), "key.pem": b64(&tls_text("rsa.key"))}),
            "is 1048577 bytes, more than the 1 MiB",
        ),
    ];
    for (data, message) in cases {
        let ctx = demo();
        set_secret_data(&ctx.kube, data);
        let dir = ctx.path("out");
        std::fs::create_dir(&dir).unwrap();
        let out = ctx
            .run::<Certs>(&["export", "--out-dir", dir.to_str().unwrap()])
            .await;
        assert_code(&out, 1);
        assert!(
            out.stderr.starts_with("error: ") && out.stderr.contains(message),
            "export: {message}\n{out}"
        );
        assert!(out.stderr.contains("\nhint: "), "{out}");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "nothing written for {message}"
        );
        let verify = ctx.run::<Certs>(&["verify"]).await;
        assert_code(&verify, 1);
        assert!(
            verify.stdout.contains(message),
            "verify shows it as a failed check: {message}\n{verify}"
        );
    }
}

#[tokio::test]
async fn a_missing_secret_is_exit_4_and_an_unreadable_file_exit_2() {
    let ctx = demo();
    let out = ctx.run::<Certs>(&["inspect", "--secret", "nope"]).await;
    assert_code(&out, 4);
    assert_eq!(
        out.stderr,
        "error: secret `default/nope` not found\nhint: check the namespace (-n) and the name (--secret): `kubectl get secrets -n default`\n"
    );
    let out = ctx
        .run::<Certs>(&[
            "verify",
            "--cert",
            "/nonexistent/cert.pem",
            "--key",
            &tls_path("rsa.key"),
        ])
        .await;
    assert_code(&out, 1);
    assert!(
        out.stdout.contains("cannot read `/nonexistent/cert.pem`"),
        "verify reports it as a failed check\n{out}"
    );
    let out = ctx
        .run::<Certs>(&["inspect", "--cert", "/nonexistent/cert.pem"])
        .await;
    assert_code(&out, 2);
    assert!(
        out.stderr.starts_with(
            "error: cannot read `/nonexistent/cert.pem`\n  caused by: No such file or directory"
        ),
        "{out}"
    );
}

#[tokio::test]
async fn export_makes_a_missing_out_dir_private_and_refuses_one_under_a_file() {
    use std::os::unix::fs::PermissionsExt;
    let ctx = demo_with_pair("rsa.crt", "rsa.key");
    let dir = ctx.path("new/pair");
    let out = ctx
        .run::<Certs>(&["export", "--out-dir", dir.to_str().unwrap()])
        .await;
    assert_code(&out, 0);
    for made in [ctx.path("new"), dir.clone()] {
        let mode = std::fs::metadata(&made).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", made.display());
    }
    assert!(dir.join("cert.pem").is_file() && dir.join("key.pem").is_file());
    let under_file = ctx.kubeconfig.join("pair");
    let refused = ctx
        .run::<Certs>(&["export", "--out-dir", under_file.to_str().unwrap()])
        .await;
    assert_code(&refused, 2);
    assert!(refused.stderr.contains("cannot be made one"), "{refused}");
}
