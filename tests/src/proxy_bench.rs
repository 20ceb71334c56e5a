//! Pieces of the router benchmark (`bench-router`): nginx configurations for the upstream and the
//! peer proxy, the load generators' output parsed (wrk for throughput, hey for an open-loop rate),
//! and the kernel's CPU and memory counters of a process.

use std::path::Path;
use std::time::Duration;

/// The key every benchmark request carries.
pub const KEY: &str = "bench-primary-key-0123456789";

/// An nginx that answers every request itself (the upstream both proxies share).
pub fn upstream_conf(prefix: &Path, port: u16) -> String {
    format!(
        "{common}
http {{
    {temp}
    access_log off;
    keepalive_requests 1000000;
    client_max_body_size 200m;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 200 '{{\"ok\":true}}'; }}
    }}
}}
",
        common = common(prefix),
        temp = temp_paths(prefix),
    )
}

/// nginx as the peer reverse proxy: the same key check, keep-alive to the upstream, streaming
/// both ways, 100 MiB bodies, TLS 1.2/1.3 with the same certificate as the router.
pub fn proxy_conf(
    prefix: &Path,
    http: u16,
    https: u16,
    upstream: u16,
    cert: &Path,
    key: &Path,
) -> String {
    format!(
        "{common}
http {{
    {temp}
    access_log off;
    keepalive_requests 1000000;
    client_max_body_size 100m;
    upstream models {{ server 127.0.0.1:{upstream}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{http} backlog=4096;
        listen 127.0.0.1:{https} ssl backlog=4096;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location /api/v1/service/m/score {{
            if ($http_authorization != \"Bearer {KEY}\") {{ return 401; }}
            proxy_pass http://models/score;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_request_buffering off;
            proxy_buffering off;
        }}
    }}
}}
",
        common = common(prefix),
        temp = temp_paths(prefix),
        cert = cert.display(),
        key = key.display(),
    )
}

fn common(prefix: &Path) -> String {
    let p = prefix.display();
    format!(
        "daemon off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n\
         events {{ worker_connections 20000; }}"
    )
}

/// The temp paths of an `http` block, inside the prefix: nothing outside it is written.
fn temp_paths(prefix: &Path) -> String {
    let p = prefix.display();
    format!(
        "client_body_temp_path {p}/body; proxy_temp_path {p}/proxy; fastcgi_temp_path {p}/fcgi; \
         uwsgi_temp_path {p}/uwsgi; scgi_temp_path {p}/scgi;"
    )
}

/// What wrk measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wrk {
    /// Requests per second.
    pub rps: f64,
    /// Requests completed.
    pub requests: u64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Answers that were not 2xx/3xx plus socket errors.
    pub errors: u64,
}

fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (value, unit) = text.split_at(split);
    let value: f64 = value.parse().ok()?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// Parses `wrk --latency` output.
pub fn parse_wrk(text: &str) -> Wrk {
    let mut wrk = Wrk::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rps] => wrk.rps = rps.parse().unwrap_or(0.0),
            ["50%", value] => wrk.p50 = duration(value).unwrap_or_default(),
            ["99%", value] => wrk.p99 = duration(value).unwrap_or_default(),
            [count, "requests", "in", ..] => wrk.requests = count.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                wrk.errors += n.parse::<u64>().unwrap_or(0)
            }
            ["Socket", "errors:", rest @ ..] => {
                wrk.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    wrk
}

/// What hey measured at a fixed rate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hey {
    /// Mean latency.
    pub mean: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Requests per second achieved.
    pub rps: f64,
    /// Answers other than 200.
    pub errors: u64,
}

/// Parses `hey` output.
pub fn parse_hey(text: &str) -> Hey {
    let mut hey = Hey::default();
    let secs = |w: &str| Duration::from_secs_f64(w.parse().unwrap_or(0.0));
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Average:", value, "secs"] => hey.mean = secs(value),
            ["Requests/sec:", value] => hey.rps = value.parse().unwrap_or(0.0),
            ["99%", "in", value, "secs"] => hey.p99 = secs(value),
            [status, count, "responses"] if status.starts_with('[') && *status != "[200]" => {
                hey.errors += count.parse::<u64>().unwrap_or(0)
            }
            _ => {}
        }
    }
    hey
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat` (10 ms ticks).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields count from after its closing parenthesis.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// A `/proc/PID/status` field in KiB (`VmHWM:`, `VmRSS:`).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Resets a process's peak RSS to its current RSS (`clear_refs` 5), so `VmHWM` measures from now.
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_and_hey_reports_are_read() {
        let wrk = parse_wrk(
            "Running 8s test @ http://x\n  Latency Distribution\n     50%  501.00us\n     75%  0.60ms\n     99%    1.20ms\n  \
             445000 requests in 8.00s, 50.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  \
             Non-2xx or 3xx responses: 3\nRequests/sec:  55625.10\n",
        );
        assert_eq!(wrk.requests, 445_000);
        assert_eq!(wrk.p50, Duration::from_micros(501));
        assert_eq!(wrk.p99, Duration::from_micros(1200));
        assert_eq!(wrk.errors, 6);
        assert!((wrk.rps - 55625.1).abs() < 0.01);
        let hey = parse_hey(
            "Summary:\n  Average:\t0.0012 secs\n  Requests/sec:\t5000.1\nLatency distribution:\n  99% in 0.0031 secs\n\
             Status code distribution:\n  [200]\t49990 responses\n  [503]\t10 responses\n",
        );
        assert_eq!(hey.mean, Duration::from_micros(1200));
        assert_eq!(hey.p99, Duration::from_micros(3100));
        assert_eq!(hey.errors, 10);
    }
}
