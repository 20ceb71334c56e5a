//! `scale plan` and `simulate` on inputs meant to exhaust them: devices, FIFOs, directories and
//! huge files as traces, rows a year away, rates and times past the limits, replica counts that
//! would overflow — each refused with exit 2 and the limit in the message; the longest trace at the
//! most replicas runs in bounded memory.

use std::process::Command;

use aml_tests::TestContext;

use crate::common::assert_code;

type Scale = kubectl_aml_scale::Cli;

const HEADER: &str = "seconds,rps,request_seconds\n";

#[tokio::test]
async fn traces_that_are_not_files_or_too_big_are_refused_by_name() {
    let ctx = TestContext::new();
    let fifo = ctx.path("fifo.csv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let huge = ctx.path("huge.csv");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(17 * 1024 * 1024)
        .unwrap();
    let dir = ctx.path("");
    let cases = [
        ("/dev/zero", "is a character device, not a regular file"),
        (
            fifo.to_str().unwrap(),
            "is a FIFO (named pipe), not a regular file",
        ),
        (dir.to_str().unwrap(), "is a directory, not a regular file"),
        (huge.to_str().unwrap(), "is larger than 16777216 bytes"),
    ];
    for (path, words) in cases {
        for verb in ["simulate", "replay"] {
            let mut args = vec![verb, "--trace", path];
            if verb == "replay" {
                args.extend(["--url", "http://127.0.0.1:1/score"]);
            }
            let out = ctx.run::<Scale>(&args).await;
            assert_code(&out, 2);
            assert!(out.stderr.contains(words), "{args:?}: {out}");
        }
    }
}

#[tokio::test]
async fn rows_past_the_limits_are_refused_with_the_limit() {
    let ctx = TestContext::new();
    let cases = [
        (
            "0,1,1\n31536000,1,1\n",
            "second 31536000 is past the longest trace (604800 s, 7 days)",
        ),
        ("0,1e300,1\n", "rps `1e300` is over the limit (1000000)"),
        ("0,1,inf\n", "`inf` is not a valid request time"),
        (
            "0,1,86400\n",
            "request time `86400` is over the limit (3600)",
        ),
        (
            "18446744073709551616,1,1\n",
            "is not a whole number of seconds",
        ),
    ];
    for (rows, words) in cases {
        let path = ctx.path("t.csv");
        std::fs::write(&path, format!("{HEADER}{rows}")).unwrap();
        let out = ctx
            .run::<Scale>(&["simulate", "--trace", path.to_str().unwrap()])
            .await;
        assert_code(&out, 2);
        assert!(out.stderr.contains(words), "{rows}: {out}");
    }
}

#[tokio::test]
async fn flags_that_would_overflow_are_refused() {
    let ctx = TestContext::new();
    let trace = ctx.path("t.csv");
    std::fs::write(&trace, format!("{HEADER}0,1,1\n10,0,1\n")).unwrap();
    let trace = trace.to_str().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (
            &["plan", "--rps", "1e308", "--request-time", "1s"],
            "--rps must be 0 to 1000000 requests per second, not `1e308`",
        ),
        (
            &["plan", "--rps", "inf", "--request-time", "1s"],
            "--rps must be 0 to 1000000",
        ),
        (
            &["plan", "--rps", "NaN", "--request-time", "1s"],
            "--rps must be 0 to 1000000",
        ),
        (
            &["plan", "--rps", "1", "--request-time", "2h"],
            "--request-time must be longer than 0 and at most 3600 s",
        ),
        (
            &[
                "plan",
                "--replicas",
                "18446744073709551615",
                "--request-time",
                "1s",
            ],
            "replicas is over the limit of 10000",
        ),
        (
            &["simulate", "--trace", trace, "--max-replicas", "4294967295"],
            "replicas is over the limit of 10000",
        ),
        (
            &["simulate", "--trace", trace, "--capacity", "10001"],
            "10001 replicas is over the limit of 10000",
        ),
        (
            &["simulate", "--trace", trace, "--initial-replicas", "99999"],
            "over the limit of 10000",
        ),
        (
            &["simulate", "--trace", trace, "--startup", "200h"],
            "at most 7 days",
        ),
    ];
    for (args, words) in cases {
        let out = ctx.run::<Scale>(args).await;
        assert_code(&out, 2);
        assert!(out.stderr.contains(words), "{args:?}: {out}");
        assert!(
            !out.stdout.contains("inf") && out.stdout.is_empty(),
            "{out}"
        );
    }
}

/// A week at the most replicas, a row every few minutes swinging from nothing to a million
/// requests a second of an hour each: the table keeps only its chart's peaks.
#[test]
fn the_longest_trace_at_the_most_replicas_runs_in_bounded_memory() {
    let ctx = TestContext::new();
    let mut text = String::from(HEADER);
    let loads = [
        (0.0, 1.0),
        (1_000_000.0, 3600.0),
        (10.0, 0.1),
        (1000.0, 60.0),
    ];
    for (i, second) in (0..604_799u64).step_by(307).enumerate() {
        let (rps, time) = loads[i % loads.len()];
        text.push_str(&format!("{second},{rps},{time}\n"));
    }
    text.push_str("604799,0,1\n");
    let path = ctx.path("week.csv");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aml-scale-dup"))
        .args([
            "simulate",
            "--trace",
            path.to_str().unwrap(),
            "--max-replicas",
            "10000",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("REPLICAS OVER 604800 S"), "{stdout}");
    // The only child this test waited for: its peak resident memory.
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let peak_kib = usage.max_rss();
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB for a table");
}
