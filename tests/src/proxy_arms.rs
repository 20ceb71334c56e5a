//! The processes of the router benchmark: nginx started and stopped, wrk and hey runs, and the
//! memory probes (peak RSS while a body streams, RSS per idle connection).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::proxy_bench::{Hey, KEY, Wrk, parse_hey, parse_wrk, reset_peak, status_kib};

/// The scoring body every benchmark request sends.
pub const BODY: &str = r#"{"data":[[0.1,0.2,0.3,0.4]]}"#;

/// An nginx started for the benchmark, stopped (master and worker) on drop.
pub struct Nginx(Child);

impl Nginx {
    /// Starts nginx with `conf` in `dir/name`, pinned to `cpu`.
    pub fn start(dir: &Path, name: &str, conf: String, cpu: &str) -> anyhow::Result<Self> {
        let prefix = dir.join(name);
        std::fs::create_dir_all(&prefix)?;
        std::fs::write(prefix.join("nginx.conf"), conf)?;
        let child = Command::new("taskset")
            .args(["-c", cpu, "nginx", "-p"])
            .arg(&prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .stderr(Stdio::inherit())
            .spawn()
            .context("start nginx (make bench installs nginx-light)")?;
        std::thread::sleep(Duration::from_millis(300));
        Ok(Self(child))
    }

    /// The master and its worker.
    pub fn pids(&self) -> Vec<u32> {
        let master = self.0.id();
        let children = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
            .unwrap_or_default();
        std::iter::once(master)
            .chain(children.split_whitespace().filter_map(|p| p.parse().ok()))
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its worker (SIGKILL would orphan it).
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

/// A closed-loop `wrk` run: POSTs with the key on `connections` connections for `seconds`.
pub fn wrk(dir: &Path, url: &str, seconds: u64, connections: u32) -> anyhow::Result<Wrk> {
    let script = dir.join("post.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{BODY}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
        ),
    )?;
    let out = Command::new("taskset")
        .args([
            "-c",
            "1",
            "wrk",
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
        ])
        .args(["-H", &format!("Authorization: Bearer {KEY}"), "-s"])
        .arg(&script)
        .arg(url)
        .output()
        .context("run wrk (make bench installs it)")?;
    Ok(parse_wrk(&String::from_utf8_lossy(&out.stdout)))
}

/// An open-loop `hey` run at `rate` requests/s for `seconds`.
pub fn hey(url: &str, rate: u32, seconds: u64) -> anyhow::Result<Hey> {
    let per_worker = rate / 32;
    let out = Command::new("taskset")
        .args([
            "-c",
            "1",
            "hey",
            "-z",
            &format!("{seconds}s"),
            "-c",
            "32",
            "-q",
            &per_worker.to_string(),
        ])
        .args([
            "-m",
            "POST",
            "-T",
            "application/json",
            "-d",
            BODY,
            "-H",
            &format!("Authorization: Bearer {KEY}"),
        ])
        .arg(url)
        .output()
        .context("run hey (make bench installs it)")?;
    Ok(parse_hey(&String::from_utf8_lossy(&out.stdout)))
}

/// Peak RSS growth (MiB) of the proxy's processes while a 100 MiB body streams through.
pub fn stream_growth(dir: &Path, url: &str, pids: &[u32], insecure: bool) -> anyhow::Result<f64> {
    let body = dir.join("body-100m");
    if !body.exists() {
        std::fs::File::create(&body)?.set_len(100 * 1024 * 1024)?;
    }
    let peak = |pids: &[u32]| pids.iter().map(|p| status_kib(*p, "VmHWM:")).sum::<u64>();
    pids.iter().for_each(|p| reset_peak(*p));
    let before = peak(pids);
    let mut curl = Command::new("curl");
    curl.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("Authorization: Bearer {KEY}"),
    ]);
    if insecure {
        curl.arg("-k");
    }
    let out = curl
        .arg("--data-binary")
        .arg(format!("@{}", body.display()))
        .arg(url)
        .output()?;
    let status = String::from_utf8_lossy(&out.stdout).to_string();
    anyhow::ensure!(status == "200", "100 MiB POST to {url} answered {status}");
    Ok((peak(pids).saturating_sub(before)) as f64 / 1024.0)
}

/// RSS (KiB) per connection of `count` idle connections to `addr`.
pub fn idle_cost(addr: &str, pids: &[u32], count: usize) -> f64 {
    let rss = |pids: &[u32]| pids.iter().map(|p| status_kib(*p, "VmRSS:")).sum::<u64>();
    let before = rss(pids);
    let held: Vec<_> = (0..count)
        .filter_map(|_| std::net::TcpStream::connect(addr).ok())
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let cost = rss(pids).saturating_sub(before) as f64 / held.len().max(1) as f64;
    drop(held);
    cost
}
