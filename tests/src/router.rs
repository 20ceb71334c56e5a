//! Router test support: `kubectl aml fe serve` as a real process against the fake API server, and
//! the objects of the model pod contract (model Deployments, their pods, keys Secrets) to seed it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::FakeKube;

/// A running router process; killed on drop.
pub struct RouterProcess {
    child: Option<Child>,
    /// Plain HTTP listener.
    pub http: SocketAddr,
    /// HTTPS listener, when asked for.
    pub https: Option<SocketAddr>,
    /// Admin listener.
    pub admin: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

fn addr_after(line: &str, label: &str) -> Option<SocketAddr> {
    let rest = line.split(label).nth(1)?;
    rest.split([',', ';']).next()?.trim().parse().ok()
}

impl RouterProcess {
    /// Starts `binary serve --http 127.0.0.1:0 --admin 127.0.0.1:0 extra…` (the binary is the fe
    /// plugin or a copy; `extra` may choose the addresses) with `kubeconfig`, and waits until it is
    /// ready.
    pub fn start(binary: &str, kubeconfig: &Path, extra: &[&str]) -> Self {
        let router = Self::spawn(binary, kubeconfig, extra);
        router.wait_ready(Duration::from_secs(20));
        router
    }

    /// Starts it and returns once it listens, ready or not.
    pub fn spawn(binary: &str, kubeconfig: &Path, extra: &[&str]) -> Self {
        let mut command = Command::new(binary);
        command.arg("serve");
        // Free ports unless the caller chose them.
        for flag in ["--http", "--admin"] {
            if !extra.contains(&flag) {
                command.args([flag, "127.0.0.1:0"]);
            }
        }
        let mut child = command
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the router");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("stderr");
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if line.starts_with("serving ") {
                    let _ = tx.send(line.clone());
                }
                let mut log = log.lock().expect("log");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the router did not start:\n{}", stderr.lock().expect("log"));
        };
        Self {
            http: addr_after(&line, "http on ").expect("http address"),
            https: addr_after(&line, "https on "),
            admin: addr_after(&line, "admin on ").expect("admin address"),
            child: Some(child),
            stderr,
        }
    }

    /// Polls `/readyz` until it answers 200.
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.admin_get("/readyz").0 == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the router never became ready:\n{}", self.log());
    }

    /// `GET` on the admin port: status and body.
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        http_get(self.admin, path)
    }

    /// Everything it wrote to stderr so far (as read by a thread of ours, so possibly a moment
    /// behind: use [`Self::wait_log`] for a line that must be there).
    pub fn log(&self) -> String {
        self.stderr.lock().expect("log").clone()
    }

    /// Waits until stderr holds every one of `needles` (at most 5 s); returns the log.
    pub fn wait_log(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if needles.iter().all(|n| log.contains(n)) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no {needles:?} in the router's log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Kills it at once (SIGKILL), as a crashed pod.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What `/autoscaler` on its admin port says, if it answers.
    pub fn autoscaler(&self) -> Option<Value> {
        let (status, body) = self.admin_get("/autoscaler");
        (status == 200)
            .then(|| serde_json::from_str(&body).ok())
            .flatten()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }

    /// Waits for the process to exit, at most `within`; its exit code if it did.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut()?;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// A metric's value from `/metrics`, matching all `labels` (`name="value"` fragments).
    pub fn metric(&self, name: &str, labels: &[&str]) -> Option<f64> {
        let (_, text) = self.admin_get("/metrics");
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .find(|l| labels.iter().all(|label| l.contains(label)))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A minimal blocking `GET` (no client library): status and body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return (0, String::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: router\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A v1 model service Deployment (`azuremlappname=<name>`) with these annotations.
pub fn v1_deployment(namespace: &str, name: &str, annotations: &[(&str, &str)]) -> Value {
    deployment(
        namespace,
        name,
        json!({"azuremlappname": name}),
        annotations,
    )
}

/// A v2 endpoint deployment's Deployment, named `<endpoint>-<deployment>`.
pub fn v2_deployment(
    namespace: &str,
    endpoint: &str,
    deployment_name: &str,
    annotations: &[(&str, &str)],
) -> Value {
    let labels = json!({"ml.azure.com/endpoint-name": endpoint, "ml.azure.com/deployment-name": deployment_name});
    deployment(
        namespace,
        &format!("{endpoint}-{deployment_name}"),
        labels,
        annotations,
    )
}

fn deployment(
    namespace: &str,
    name: &str,
    app_labels: Value,
    annotations: &[(&str, &str)],
) -> Value {
    let mut labels = app_labels;
    labels["isazuremlapp"] = json!("true");
    let annotations: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"isazuremlapp": "true"},
                     "annotations": annotations},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels.clone()},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "inference-server", "image": "model"}]}}},
    })
}

/// A pod of `deployment` (as made by [`v1_deployment`] or [`v2_deployment`]) listening on
/// 127.0.0.1:`port`, Ready or not.
pub fn pod_of(deployment: &Value, name: &str, port: u16, ready: bool) -> Value {
    let namespace = deployment["metadata"]["namespace"].clone();
    let labels = deployment["spec"]["template"]["metadata"]["labels"].clone();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "inference-server", "image": "model",
                                 "ports": [{"name": "http", "containerPort": port}]}]},
        "status": {"phase": "Running", "podIP": "127.0.0.1",
                   "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    })
}

/// The keys Secret of a service.
pub fn keys_secret(namespace: &str, name: &str, primary: &str, secondary: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"primaryKey": primary, "secondaryKey": secondary},
    })
}

/// A namespace.
pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// Turns a pod's Ready condition on or off, as its kubelet would.
pub fn set_ready(kube: &FakeKube, namespace: &str, pod: &str, ready: bool) {
    kube.update_status("v1", "Pod", namespace, pod, |p| {
        p["status"]["conditions"] =
            json!([{"type": "Ready", "status": if ready { "True" } else { "False" }}]);
    });
}

/// A TLS Secret with PEM text for `cert.pem` and `key.pem` (azureml-fe's layout).
pub fn tls_secret(namespace: &str, name: &str, cert: &str, key: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"cert.pem": cert, "key.pem": key},
    })
}
