//! `aml-sandbox` as a program: `up` prints the exports the real kubectl and az-based plugins use,
//! takes another port when its port is busy and says so, and `down` stops it and everything it
//! started.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const SANDBOX: &str = env!("CARGO_BIN_EXE_aml-sandbox");

#[test]
fn up_prints_exports_that_work_and_down_stops_everything() {
    let dir = tempfile::tempdir().unwrap();
    // Its port is busy: another is taken, and it says so.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let mut up = Command::new(SANDBOX)
        .args([
            "up",
            "--dir",
            dir.path().to_str().unwrap(),
            "--kube-port",
            &port,
            "--router",
            crate::router_env::FE,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut exports = Vec::new();
    let mut lines = BufReader::new(up.stdout.take().unwrap()).lines();
    while exports.len() < 3 {
        exports.push(lines.next().expect("three export lines").unwrap());
    }
    let kubeconfig = exports[0]
        .strip_prefix("export KUBECONFIG=")
        .expect("KUBECONFIG first");
    assert!(
        exports[1].starts_with("export AZURE_CONFIG_DIR="),
        "{exports:?}"
    );
    let namespaces = Command::new("kubectl")
        .args([
            "--kubeconfig",
            kubeconfig,
            "get",
            "namespaces",
            "-o",
            "name",
        ])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&namespaces.stdout);
    assert!(
        text.contains("namespace/models") && text.contains("namespace/azureml"),
        "{text}"
    );

    let down = Command::new(SANDBOX)
        .args(["down", "--dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(down.status.success(), "{down:?}");
    let status = up.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut said = String::new();
    std::io::Read::read_to_string(&mut up.stderr.take().unwrap(), &mut said).unwrap();
    assert!(
        said.contains(&format!(
            "port {port} for the API server is in use: using another"
        )),
        "{said}"
    );
    assert!(said.contains("sandbox down"), "{said}");
    assert!(!dir.path().join("pid").exists());
    // Down again: nothing to stop, and it says so.
    let again = Command::new(SANDBOX)
        .args(["down", "--dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no sandbox runs"));
    std::thread::sleep(Duration::from_millis(100));
}
