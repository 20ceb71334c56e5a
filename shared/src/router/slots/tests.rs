use super::*;

fn replicas(names: &[&str]) -> Vec<Arc<Replica>> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| Replica::new(n.to_string(), ([127, 0, 0, 1], 9000 + i as u16).into()))
        .collect()
}

const WAIT: Duration = Duration::from_millis(200);

#[tokio::test]
async fn first_available_packs_small_capacities_on_the_first_replicas() {
    let pool = Pool::new(1);
    pool.set_ready(replicas(&["b", "a", "c"]));
    let first = pool.acquire(WAIT, None).await.unwrap();
    let second = pool.acquire(WAIT, None).await.unwrap();
    assert_eq!(
        (
            first.replica().name.as_str(),
            second.replica().name.as_str()
        ),
        ("a", "b")
    );
    drop(first);
    let again = pool.acquire(WAIT, None).await.unwrap();
    assert_eq!(
        again.replica().name,
        "a",
        "the freed first replica is picked first"
    );
    assert_eq!(pool.counts().inflight, 2);
}

#[tokio::test]
async fn capacities_above_three_go_round_robin() {
    let pool = Pool::new(4);
    pool.set_ready(replicas(&["a", "b", "c"]));
    let mut names = Vec::new();
    let mut held = Vec::new();
    for _ in 0..6 {
        let lease = pool.acquire(WAIT, None).await.unwrap();
        names.push(lease.replica().name.clone());
        held.push(lease);
    }
    assert_eq!(names, ["a", "b", "c", "a", "b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_fifo_order_by_direct_hand_off() {
    let pool = Pool::new(1);
    pool.set_ready(replicas(&["a"]));
    let busy = pool.acquire(WAIT, None).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for n in 0..3 {
        let (pool, tx) = (pool.clone(), tx.clone());
        tokio::spawn(async move {
            let lease = pool.acquire(Duration::from_secs(5), None).await.unwrap();
            tx.send(n).unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(lease);
        });
        // Queue them in a known order.
        tokio::task::yield_now().await;
    }
    assert_eq!(pool.counts().queued, 3);
    drop(busy);
    let order: Vec<i32> = [rx.recv().await, rx.recv().await, rx.recv().await]
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(order, [0, 1, 2]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        pool.counts(),
        Counts {
            ready: 1,
            ..Counts::default()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_wait_past_the_limit_is_overloaded_or_no_replicas() {
    let pool = Pool::new(1);
    assert_eq!(
        pool.acquire(WAIT, None).await.err(),
        Some(Refusal::NoReplicas)
    );
    pool.set_ready(replicas(&["a"]));
    let _busy = pool.acquire(WAIT, None).await.unwrap();
    assert_eq!(
        pool.acquire(WAIT, None).await.err(),
        Some(Refusal::Overloaded)
    );
    assert_eq!(
        pool.acquire(Duration::ZERO, None).await.err(),
        Some(Refusal::Overloaded)
    );
    assert_eq!(pool.counts().queued, 0, "timed-out waiters leave the queue");
}

#[tokio::test(start_paused = true)]
async fn a_replica_turning_ready_serves_waiters_and_a_draining_one_takes_no_new_requests() {
    let pool = Pool::new(1);
    let waiting = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.acquire(Duration::from_secs(5), None).await })
    };
    tokio::task::yield_now().await;
    assert_eq!(pool.counts().queued, 1);
    let set = replicas(&["a", "b"]);
    pool.set_ready(vec![set[0].clone()]);
    let lease = waiting.await.unwrap().unwrap();
    assert_eq!(lease.replica().name, "a");

    // `a` drains: its request finishes, new ones go to `b`.
    pool.set_ready(vec![set[1].clone()]);
    let next = pool.acquire(WAIT, None).await.unwrap();
    assert_eq!(next.replica().name, "b");
    drop(lease);
    assert_eq!(set[0].inflight(), 0);
    assert_eq!(pool.counts().inflight, 1);
}

#[tokio::test(start_paused = true)]
async fn cancelled_waiters_leave_the_queue_and_lost_hand_offs_come_back() {
    let pool = Pool::new(1);
    pool.set_ready(replicas(&["a"]));
    let busy = pool.acquire(WAIT, None).await.unwrap();
    let waiting = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.acquire(Duration::from_secs(5), None).await })
    };
    tokio::task::yield_now().await;
    assert_eq!(pool.counts().queued, 1);
    waiting.abort();
    let _ = waiting.await;
    assert_eq!(pool.counts().queued, 0);
    drop(busy);
    assert_eq!(pool.counts().inflight, 0, "the slot is free again");
}

#[tokio::test]
async fn more_capacity_serves_waiters_and_ejected_or_avoided_replicas_come_last() {
    let pool = Pool::new(1);
    let set = replicas(&["a", "b"]);
    pool.set_ready(set.clone());
    set[0].eject();
    let lease = pool.acquire(WAIT, None).await.unwrap();
    assert_eq!(lease.replica().name, "b");
    let fallback = pool.acquire(WAIT, None).await.unwrap();
    assert_eq!(
        fallback.replica().name,
        "a",
        "an ejected replica still serves when nothing else can"
    );
    drop((lease, fallback));
    let avoided = pool.acquire(WAIT, Some(&set[1])).await.unwrap();
    assert_eq!(avoided.replica().name, "a");

    let waiting = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.acquire(Duration::from_secs(5), None).await })
    };
    let _b = pool.acquire(WAIT, None).await.unwrap();
    tokio::task::yield_now().await;
    pool.set_capacity(2);
    assert!(waiting.await.unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn windows_weight_busy_and_queued_by_time() {
    let pool = Pool::new(1);
    pool.set_ready(replicas(&["a"]));
    let _ = pool.take_window();
    let busy = pool.acquire(WAIT, None).await.unwrap();
    let waiting = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.acquire(Duration::from_secs(5), None).await })
    };
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(busy);
    let second = waiting.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let window = pool.take_window();
    // 1 busy throughout; 1 queued for the first half.
    assert!((window.seconds - 1.0).abs() < 1e-6, "{window:?}");
    assert!((window.busy - 1.0).abs() < 1e-6, "{window:?}");
    assert!((window.queued - 0.5).abs() < 1e-6, "{window:?}");
    assert_eq!((window.ready, window.requests), (1, 2));
    drop(second);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let idle = pool.take_window();
    assert_eq!((idle.busy, idle.queued, idle.requests), (0.0, 0.0, 0));
}
