//! The `make bench` programs' measuring: each contestant run as a process under GNU time, median
//! wall and CPU time (children included), peak RSS, requests seen by the fake, ratios to the first.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One contestant's runs: wall time, CPU time (user + system, its children included) and peak RSS.
pub struct Timing {
    /// Who ran.
    pub name: String,
    /// Wall time of each run.
    pub wall: Vec<Duration>,
    /// CPU time of each run.
    pub cpu: Vec<Duration>,
    /// Largest resident set of any process of the run, KiB (GNU time's `%M`).
    pub peak_kib: u64,
    /// Requests the server saw in the last run.
    pub requests: usize,
}

/// The median of some durations.
pub fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time (user + system) of every child reaped so far, microsecond resolution.
fn children_cpu() -> anyhow::Result<Duration> {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    Ok(micros(usage.user_time()) + micros(usage.system_time()))
}

/// `command` run under GNU time, which writes its peak RSS (`%M`, KiB) to `stats`.
fn under_time(command: &Command, stats: &Path) -> Command {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M", "-o"])
        .arg(stats)
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    timed
}

/// Runs `command` once per run; `before` restores the server's state first, untimed; `requests`
/// counts the requests the server has seen so far.
pub fn measure(
    name: &str,
    runs: usize,
    requests: &dyn Fn() -> usize,
    before: &dyn Fn(),
    command: &dyn Fn() -> Command,
) -> anyhow::Result<Timing> {
    let stats = tempfile::NamedTempFile::new()?;
    let mut timing = Timing {
        name: name.to_string(),
        wall: vec![],
        cpu: vec![],
        peak_kib: 0,
        requests: 0,
    };
    for _ in 0..runs {
        before();
        let seen = requests();
        let cpu_before = children_cpu()?;
        let started = Instant::now();
        let output = under_time(&command(), stats.path()).output()?;
        let took = started.elapsed();
        // GNU time waits for the contestant, so its CPU time counts here once time is reaped.
        let cpu = children_cpu()? - cpu_before;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            anyhow::bail!("{name} failed: {}\n{stderr}", output.status);
        }
        let text = std::fs::read_to_string(stats.path())?;
        let Ok(peak) = text.trim().parse::<u64>() else {
            anyhow::bail!("unexpected GNU time output {text:?}")
        };
        timing.wall.push(took);
        timing.cpu.push(cpu);
        timing.peak_kib = timing.peak_kib.max(peak);
        timing.requests = requests() - seen;
    }
    Ok(timing)
}

/// Prints the contestants with their ratios to the first one.
pub fn print_table(rows: &[Timing]) {
    println!(
        "{:<40} {:>9} {:>7} {:>9} {:>7} {:>10} {:>7} {:>9}",
        "CONTESTANT", "WALL", "RATIO", "CPU", "RATIO", "PEAK RSS", "RATIO", "REQUESTS"
    );
    let (wall, cpu, peak) = (
        median(&rows[0].wall),
        median(&rows[0].cpu),
        rows[0].peak_kib,
    );
    for r in rows {
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.1}x", a / b)
            } else {
                "-".into()
            }
        };
        println!(
            "{:<40} {:>7.1}ms {:>7} {:>7.1}ms {:>7} {:>7.1}MiB {:>7} {:>9}",
            r.name,
            ms(median(&r.wall)),
            ratio(ms(median(&r.wall)), ms(wall)),
            ms(median(&r.cpu)),
            ratio(ms(median(&r.cpu)), ms(cpu)),
            r.peak_kib as f64 / 1024.0,
            ratio(r.peak_kib as f64, peak as f64),
            r.requests,
        );
    }
}
