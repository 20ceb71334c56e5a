//! `make bench`: the router (`kubectl aml fe serve`, release build) against nginx as reverse
//! proxies in front of the same upstream (an nginx that answers itself), in one command.
//!
//! Each proxy is pinned to CPU 0 with one worker; the upstream, the load generators and this
//! program share CPU 1. Arms alternate over `--reps` repetitions and medians are reported:
//! - throughput: `wrk -t1 -c32 --latency`, POSTs with the key; requests/s, CPU µs per request
//!   (the proxy's utime+stime over the run), p50/p99 and what they add over the upstream direct;
//! - the published azureml-fe budget: `hey` at a fixed 5 000 requests/s, mean and p99 added;
//! - memory: peak RSS growth while a 100 MiB body streams through, RSS per idle connection.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use aml_tests::FakeKube;
use aml_tests::proxy_arms;
use aml_tests::proxy_bench::{self, KEY, Wrk};
use aml_tests::router::{self as contract, RouterProcess};
use clap::Parser;

/// Router against nginx, same upstream, same cores
#[derive(Parser)]
#[command(name = "bench-router")]
struct Args {
    /// Seconds per throughput run
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Repetitions of every arm (medians reported)
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Keep-alive connections of the load generator
    #[arg(long, default_value_t = 32)]
    connections: u32,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tls")
        .join(name)
}

/// One throughput run of an arm: wrk's numbers and the proxy's CPU µs per request.
fn throughput(dir: &Path, url: &str, pids: &[u32], args: &Args) -> anyhow::Result<(Wrk, f64)> {
    let cpu = |pids: &[u32]| {
        pids.iter()
            .map(|p| proxy_bench::cpu_time(*p))
            .sum::<Duration>()
    };
    let before = cpu(pids);
    let run = proxy_arms::wrk(dir, url, args.seconds, args.connections)?;
    let used = cpu(pids).saturating_sub(before);
    let per_request = used.as_secs_f64() * 1e6 / run.requests.max(1) as f64;
    Ok((run, per_request))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    aml_core::init_crypto();
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
    let dir = tempfile::tempdir()?;
    let (up, nx, nxs) = (free_port(), free_port(), free_port());
    let chain = dir.path().join("chain.pem");
    std::fs::write(
        &chain,
        std::fs::read_to_string(fixture("ec.crt"))?
            + &std::fs::read_to_string(fixture("intermediate.crt"))?,
    )?;
    let key = fixture("ec.key");
    let _upstream = proxy_arms::Nginx::start(
        dir.path(),
        "upstream",
        proxy_bench::upstream_conf(&dir.path().join("upstream"), up),
        "1",
    )?;
    let nginx = proxy_arms::Nginx::start(
        dir.path(),
        "proxy",
        proxy_bench::proxy_conf(&dir.path().join("proxy"), nx, nxs, up, &chain, &key),
        "0",
    )?;

    let kube = FakeKube::start();
    let deployment = contract::v1_deployment(
        "bench",
        "m",
        &[
            ("kubectl-aml.io/max-concurrent-requests", "1024"),
            ("kubectl-aml.io/max-queue-wait-ms", "5000"),
        ],
    );
    kube.seed([
        contract::namespace("bench"),
        deployment.clone(),
        contract::keys_secret("bench", "m-keys", KEY, "bench-secondary"),
        contract::pod_of(&deployment, "m-0", up, true),
    ]);
    kube.seed([aml_tests::router::tls_secret(
        "default",
        "azuremlfessl",
        &std::fs::read_to_string(&chain)?,
        &std::fs::read_to_string(&key)?,
    )]);
    let kubeconfig = dir.path().join("kubeconfig");
    kube.write_kubeconfig(&kubeconfig, None)?;
    let plugin = std::env::current_exe()?.with_file_name("kubectl-aml-fe");
    anyhow::ensure!(
        plugin.exists(),
        "build the router first: cargo build --release -p kubectl-aml-fe"
    );
    let pinned = dir.path().join("router.sh");
    std::fs::write(
        &pinned,
        format!("#!/bin/sh\nexec taskset -c 0 {} \"$@\"\n", plugin.display()),
    )?;
    std::fs::set_permissions(&pinned, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let router = RouterProcess::start(
        pinned.to_str().unwrap(),
        &kubeconfig,
        &["--workers", "1", "--https", "127.0.0.1:0"],
    );

    let path = "/api/v1/service/m/score";
    let arms: [(&str, String, Vec<u32>); 5] = [
        (
            "upstream direct",
            format!("http://127.0.0.1:{up}/score"),
            vec![],
        ),
        (
            "nginx",
            format!("http://127.0.0.1:{nx}{path}"),
            nginx.pids(),
        ),
        (
            "router",
            format!("http://{}{path}", router.http),
            vec![router.pid()],
        ),
        (
            "nginx TLS",
            format!("https://127.0.0.1:{nxs}{path}"),
            nginx.pids(),
        ),
        (
            "router TLS",
            format!("https://{}{path}", router.https.unwrap()),
            vec![router.pid()],
        ),
    ];
    println!(
        "router benchmark: {} reps × {} s, wrk -t1 -c{}, proxies pinned to CPU 0, load and upstream on CPU 1",
        args.reps, args.seconds, args.connections
    );
    let mut results: Vec<Vec<(Wrk, f64)>> = vec![Vec::new(); arms.len()];
    for rep in 0..args.reps {
        for (i, (name, url, pids)) in arms.iter().enumerate() {
            let (run, cpu) = throughput(dir.path(), url, pids, &args)?;
            eprintln!(
                "  rep {} {name:<16} {:>9.0} req/s  {:>5.1} µs CPU/req  p50 {:?} p99 {:?}  errors {}",
                rep + 1,
                run.rps,
                cpu,
                run.p50,
                run.p99,
                run.errors
            );
            results[i].push((run, cpu));
        }
    }
    let med = |i: usize, f: fn(&(Wrk, f64)) -> f64| median(results[i].iter().map(f).collect());
    let rps = |i| med(i, |r| r.0.rps);
    let cpu = |i| med(i, |r| r.1);
    let p50 = |i| med(i, |r| r.0.p50.as_secs_f64() * 1e3);
    let p99 = |i| med(i, |r| r.0.p99.as_secs_f64() * 1e3);
    println!(
        "\n| arm | req/s | CPU µs/req | p50 ms | p99 ms | added p50 ms | added p99 ms |\n|---|---|---|---|---|---|---|"
    );
    for (i, (name, _, _)) in arms.iter().enumerate() {
        let cpu_text = if i == 0 {
            "-".to_string()
        } else {
            format!("{:.1}", cpu(i))
        };
        println!(
            "| {name} | {:.0} | {cpu_text} | {:.2} | {:.2} | {:+.2} | {:+.2} |",
            rps(i),
            p50(i),
            p99(i),
            p50(i) - p50(0),
            p99(i) - p99(0)
        );
    }

    let budget_direct = proxy_arms::hey(&arms[0].1, 5000, args.seconds)?;
    let budget_router = proxy_arms::hey(&arms[2].1, 5000, args.seconds)?;
    let added_mean = (budget_router.mean.as_secs_f64() - budget_direct.mean.as_secs_f64()) * 1e3;
    let added_p99 = (budget_router.p99.as_secs_f64() - budget_direct.p99.as_secs_f64()) * 1e3;

    let nginx_stream = proxy_arms::stream_growth(dir.path(), &arms[1].1, &nginx.pids(), false)?;
    let router_stream = proxy_arms::stream_growth(dir.path(), &arms[2].1, &[router.pid()], false)?;
    let nginx_idle = proxy_arms::idle_cost(&format!("127.0.0.1:{nx}"), &nginx.pids(), 5000);
    let router_idle = proxy_arms::idle_cost(&router.http.to_string(), &[router.pid()], 5000);

    let check = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("\n| goal | measured | |\n|---|---|---|");
    println!(
        "| plain req/s ≥ 1.0× nginx | {:.2}× | {} |",
        rps(2) / rps(1),
        check(rps(2) >= rps(1))
    );
    println!(
        "| plain CPU/req ≤ 1.0× nginx | {:.2}× | {} |",
        cpu(2) / cpu(1),
        check(cpu(2) <= cpu(1))
    );
    println!(
        "| TLS req/s ≥ 1.2× nginx | {:.2}× | {} |",
        rps(4) / rps(3),
        check(rps(4) >= 1.2 * rps(3))
    );
    println!(
        "| added p99 ≤ nginx's (plain / TLS) | {:+.2} / {:+.2} ms vs {:+.2} / {:+.2} ms | {} |",
        p99(2) - p99(0),
        p99(4) - p99(0),
        p99(1) - p99(0),
        p99(3) - p99(0),
        check(p99(2) <= p99(1) && p99(4) <= p99(3))
    );
    println!(
        "| RSS growth, 100 MiB body ≤ 16 MiB | router {router_stream:.1} MiB, nginx {nginx_stream:.1} MiB | {} |",
        check(router_stream <= 16.0)
    );
    println!(
        "| azureml-fe budget at 5 000 req/s: ≤ 3 ms mean, ≤ 15 ms p99 added | {added_mean:+.2} ms mean, {added_p99:+.2} ms p99 ({:.0} req/s, {} errors) | {} |",
        budget_router.rps,
        budget_router.errors,
        check(added_mean <= 3.0 && added_p99 <= 15.0 && budget_router.errors == 0)
    );
    println!(
        "| 5 000 req/s per pod, with room | {:.0} req/s on one core ({:.1}×) | {} |",
        rps(2),
        rps(2) / 5000.0,
        check(rps(2) >= 5000.0)
    );
    println!(
        "\nidle connections (5 000, nothing sent): router {router_idle:.2} KiB each, nginx {nginx_idle:.2} KiB each"
    );
    Ok(())
}
