//! The router's limits and failure answers: 413 before reading and while streaming (memory not
//! growing with the body), slow clients dropped, the FIFO queue and 503 overloaded, no ready
//! replicas, 504 for a slow replica, 502 for a killed or crashing one and the next request served
//! by another.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::router_env::*;

const MIB: u64 = 1024 * 1024;

fn big_file(dir: &std::path::Path, mib: u64) -> String {
    let path = dir.join(format!("body-{mib}m"));
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(mib * MIB).unwrap();
    format!("@{}", path.display())
}

#[test]
fn bodies_over_the_limit_get_413_before_reading_or_once_the_stream_passes_it() {
    let ctx = cluster();
    let replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = start(&ctx, &["--max-body-bytes", &(8 * MIB).to_string()]);
    let url = score_url(&router, "sentiment");
    let body = big_file(ctx.dir.path(), 64);
    let before = peak_rss_kib(router.pid());

    // Content-Length says too much: answered before any of the body is read.
    let declared = post(&url, &body, &[]);
    assert_eq!(declared.status, 413, "{declared:?}");
    assert_eq!(
        declared.body,
        format!(
            "Request body for service sentiment is larger than {} bytes\n",
            8 * MIB
        )
    );
    assert_eq!(replicas[0].requests(), 0, "the model never saw it");

    // Chunked, no length: cut off as soon as the stream passes the limit.
    let streamed = post(&url, &body, &["-H", "Transfer-Encoding: chunked"]);
    assert_eq!(streamed.status, 413, "{streamed:?}");
    let forwarded = replicas[0]
        .seen()
        .body_bytes
        .load(std::sync::atomic::Ordering::SeqCst) as u64;
    assert!(
        forwarded <= 8 * MIB + MIB,
        "forwarded {forwarded} bytes past an 8 MiB limit"
    );

    let growth = peak_rss_kib(router.pid()).saturating_sub(before);
    assert!(
        growth < 16 * 1024,
        "peak RSS grew {growth} KiB for 128 MiB of refused bodies"
    );
    router.wait_log(&["413: body over --max-body-bytes"]);
}

#[test]
fn a_100_mib_body_streams_through_without_memory_growing_with_it() {
    let ctx = cluster();
    let replicas = v1_service(
        &ctx,
        "sentiment",
        1,
        &[("kubectl-aml.io/request-timeout-ms", "120000")],
    );
    let router = start(&ctx, &[]);
    let before = peak_rss_kib(router.pid());
    let answer = post(
        &score_url(&router, "sentiment"),
        &big_file(ctx.dir.path(), 100),
        &[],
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["bytes"].as_u64(), Some(100 * MIB));
    assert_eq!(replicas[0].requests(), 1);
    let growth = peak_rss_kib(router.pid()).saturating_sub(before);
    assert!(
        growth < 16 * 1024,
        "peak RSS grew {growth} KiB while 100 MiB streamed"
    );
}

#[test]
fn clients_that_send_headers_slowly_or_never_are_dropped_after_the_header_timeout() {
    let ctx = cluster();
    let _replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = start(&ctx, &["--header-timeout", "1s"]);
    let closed_within = |partial: &[u8]| {
        let mut stream = TcpStream::connect(router.http).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(partial).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 512];
        // hyper answers 408 or just closes; either way the connection ends.
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        started.elapsed()
    };
    let trickled = closed_within(b"POST /api/v1/service/sentiment/score HTTP/1.1\r\nHost: r\r\n");
    let silent = closed_within(b"");
    for waited in [trickled, silent] {
        assert!(
            waited >= Duration::from_millis(800) && waited < Duration::from_secs(5),
            "closed after {waited:?}"
        );
    }
}

/// Writes one request per connection, in order, 30 ms apart, and returns the connections.
fn send_in_order(
    router: &aml_tests::router::RouterProcess,
    service: &str,
    ids: &[&str],
    delay_ms: u32,
) -> Vec<TcpStream> {
    ids.iter()
        .map(|id| {
            let mut stream = TcpStream::connect(router.http).unwrap();
            let request = format!(
                "POST /api/v1/service/{service}/score HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer {PRIMARY}\r\n\
                 x-request-id: {id}\r\nx-test-delay-ms: {delay_ms}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
            // The next one only once the router holds this one (in flight or queued), so the
            // order they arrive in is the order they were sent in, however loaded the machine.
            let labels = format!("service=\"{service}\"");
            let held = || {
                let gauge = |name| router.metric(name, &[&labels]).unwrap_or(0.0);
                gauge("azureml_fe_inflight_requests") + gauge("azureml_fe_queued_requests")
            };
            let before = held();
            stream.write_all(request.as_bytes()).unwrap();
            eventually(Duration::from_secs(10), "the router took the request", || held() > before);
            stream
        })
        .collect()
}

fn status_of(mut stream: TcpStream) -> (u16, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

#[test]
fn waiting_requests_are_served_first_in_first_out_and_the_queue_is_visible() {
    let ctx = cluster();
    let replicas = v1_service(
        &ctx,
        "fifo",
        1,
        &[("kubectl-aml.io/max-queue-wait-ms", "10000")],
    );
    let router = start(&ctx, &[]);
    let ids = ["q0", "q1", "q2", "q3", "q4", "q5"];
    let streams = send_in_order(&router, "fifo", &ids, 150);
    let queued = router.metric("azureml_fe_queued_requests", &["service=\"fifo\""]);
    assert!(queued.is_some_and(|q| q >= 3.0), "queued {queued:?}");
    for stream in streams {
        assert_eq!(status_of(stream).0, 200);
    }
    assert_eq!(*replicas[0].seen().arrived.lock().unwrap(), ids);
    assert_eq!(
        replicas[0]
            .seen()
            .max_inflight
            .load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one at a time per replica"
    );
}

#[test]
fn a_wait_past_max_queue_wait_is_503_overloaded_and_no_replica_is_503_no_ready_replicas() {
    let ctx = cluster();
    let _busy = v1_service(
        &ctx,
        "busy",
        1,
        &[("kubectl-aml.io/max-queue-wait-ms", "200")],
    );
    let empty = aml_tests::router::v1_deployment(
        "ws1",
        "empty",
        &[("kubectl-aml.io/max-queue-wait-ms", "200")],
    );
    ctx.kube.seed([
        empty.clone(),
        aml_tests::router::keys_secret("ws1", "empty-keys", PRIMARY, SECONDARY),
    ]);
    let router = start(&ctx, &[]);

    let mut streams = send_in_order(&router, "busy", &["long", "late"], 1500);
    let (status, body) = status_of(streams.pop().unwrap());
    assert_eq!(
        (status, body.as_str()),
        (503, "Too many requests for service busy (overloaded)\n")
    );
    assert_eq!(status_of(streams.pop().unwrap()).0, 200);

    let started = Instant::now();
    let none = score(&score_url(&router, "empty"), &[]);
    assert_eq!(
        (none.status, none.body.as_str()),
        (503, "No ready replicas for service empty\n")
    );
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "it waited max-queue-wait first"
    );

    // A replica that turns ready during the wait takes the waiting request.
    let late = aml_tests::model_server::ModelServer::start("empty-0");
    ctx.kube.seed([aml_tests::router::pod_of(
        &empty,
        "empty-0",
        late.port(),
        false,
    )]);
    ctx.kube
        .update("apps/v1", "Deployment", "ws1", "empty", |d| {
            d["metadata"]["annotations"]["kubectl-aml.io/max-queue-wait-ms"] =
                serde_json::json!("5000");
        });
    std::thread::sleep(Duration::from_millis(300));
    let kube = &ctx.kube;
    std::thread::scope(|s| {
        let waiting = s.spawn(|| score(&score_url(&router, "empty"), &[]));
        std::thread::sleep(Duration::from_millis(300));
        aml_tests::router::set_ready(kube, "ws1", "empty-0", true);
        assert_eq!(waiting.join().unwrap().status, 200);
    });
}

#[test]
fn a_replica_slower_than_the_request_timeout_gets_504() {
    let ctx = cluster();
    let _replicas = v1_service(
        &ctx,
        "slow",
        1,
        &[("kubectl-aml.io/request-timeout-ms", "300")],
    );
    let router = start(&ctx, &[]);
    let started = Instant::now();
    let answer = score(
        &score_url(&router, "slow"),
        &["-H", "x-test-delay-ms: 3000"],
    );
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (504, "Request to service slow timed out after 300 ms\n")
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(
        score(&score_url(&router, "slow"), &[]).status,
        200,
        "the slot was given back"
    );
}

#[test]
fn a_killed_replica_gets_502_and_the_next_requests_go_to_another() {
    let ctx = cluster();
    let mut replicas = v1_service(&ctx, "s", 2, &[]);
    let router = start(&ctx, &[]);
    let url = score_url(&router, "s");
    std::thread::scope(|scope| {
        let hanging = scope.spawn(|| score(&url, &["-H", "x-test-hang: 1"]));
        eventually(Duration::from_secs(5), "the request reached s-0", || {
            replicas[0].requests() == 1
        });
        replicas[0].kill();
        let answer = hanging.join().unwrap();
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (
                502,
                "Replica closed connection before replying for service s\n"
            )
        );
    });
    // s-0 is still Ready in the cluster: its refused connection sends each request on to s-1.
    for _ in 0..5 {
        let answer = score(&url, &[]);
        assert_eq!(
            (answer.status, answer.json()["replica"].as_str()),
            (200, Some("s-1"))
        );
    }
    let crashed = score(&url, &["-H", "x-test-drop: 1"]);
    assert_eq!(
        crashed.status, 502,
        "a replica closing mid-request is 502, not retried"
    );
    router.wait_log(&["502:"]);
}

/// A client that sends its whole body without waiting (no `Expect: 100-continue`), reading only
/// once it is done, still gets the 413: the router reads and discards what keeps arriving for a
/// while after answering (nginx's lingering close). Closing on unread bytes makes the kernel reset
/// the connection, and the client's next write fails before it ever reads the answer (curl's
/// "Send failure: Connection reset by peer").
#[test]
fn a_client_still_sending_its_body_reads_the_413_not_a_reset() {
    let ctx = cluster();
    let _replicas = v1_service(&ctx, "sentiment", 1, &[]);
    let router = start(&ctx, &["--max-body-bytes", &MIB.to_string()]);
    for declared in [true, false] {
        let mut stream = TcpStream::connect(router.http).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let length = if declared {
            format!("Content-Length: {}\r\n", 16 * MIB)
        } else {
            "Transfer-Encoding: chunked\r\n".to_string()
        };
        let head = format!(
            "POST /api/v1/service/sentiment/score HTTP/1.1\r\nHost: r\r\n\
             Authorization: Bearer {PRIMARY}\r\n{length}\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        // 16 times the limit, more than the sockets' buffers hold, written blindly.
        for n in 0..256 {
            let written = if declared {
                stream.write_all(&chunk)
            } else {
                stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .and_then(|()| stream.write_all(&chunk))
                    .and_then(|()| stream.write_all(b"\r\n"))
            };
            if let Err(e) = written {
                panic!("declared {declared}: write {n} failed: {e}");
            }
        }
        let mut answer = Vec::new();
        let read = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.starts_with("HTTP/1.1 413"),
            "declared {declared}: {read:?} {text:?}"
        );
    }
}
