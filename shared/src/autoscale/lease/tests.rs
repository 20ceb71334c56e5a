use super::*;

fn clocks() -> (Instant, Timestamp) {
    (
        Instant::now(),
        Timestamp::from_second(1_800_000_000).unwrap(),
    )
}

fn after(start: (Instant, Timestamp), seconds: u64) -> (Instant, Timestamp) {
    let d = Duration::from_secs(seconds);
    (start.0 + d, start.1 + d)
}

/// Plays `elector`'s plan against `lease` as the API server would (every write succeeds).
fn step(elector: &mut Elector, lease: &mut Option<Record>, at: (Instant, Timestamp)) -> Plan {
    let plan = elector.plan(lease.as_ref(), at.0, at.1);
    if let Plan::Create(record) | Plan::Update(record) = &plan {
        *lease = Some(record.clone());
        elector.written(record.clone(), at.0);
    }
    plan
}

#[test]
fn the_first_creates_and_leads_the_second_follows_while_it_renews() {
    let t0 = clocks();
    let mut lease = None;
    let (mut a, mut b) = (
        Elector::new("a", Timing::default()),
        Elector::new("b", Timing::default()),
    );
    assert!(matches!(step(&mut a, &mut lease, t0), Plan::Create(_)));
    assert!(a.leading(t0.0));
    for second in (5..=60).step_by(5) {
        let now = after(t0, second);
        assert!(
            matches!(step(&mut a, &mut lease, now), Plan::Update(_)),
            "renewal at {second}"
        );
        assert_eq!(
            step(&mut b, &mut lease, now),
            Plan::Follow { holder: "a".into() }
        );
        assert!(a.leading(now.0) && !b.leading(now.0));
    }
    let record = lease.unwrap();
    assert_eq!((record.transitions, record.acquired), (0, Some(t0.1)));
    assert_eq!(record.renewed, Some(after(t0, 60).1));
}

#[test]
fn a_silent_leader_is_replaced_only_after_a_full_duration_and_stops_acting_before() {
    let t0 = clocks();
    let mut lease = None;
    let (mut a, mut b) = (
        Elector::new("a", Timing::default()),
        Elector::new("b", Timing::default()),
    );
    step(&mut a, &mut lease, t0);
    // a dies (or is cut off) right after renewing; b looks every 2 s.
    let mut took_over = None;
    for second in (2..=30).step_by(2) {
        let now = after(t0, second);
        if matches!(step(&mut b, &mut lease, now), Plan::Update(_)) {
            took_over = Some(second);
            break;
        }
    }
    // b first saw the lease at 2 s, so it waits until 2 + 15 s.
    assert_eq!(took_over, Some(18));
    assert!(
        !a.leading(after(t0, 10).0),
        "a stopped acting 10 s after its last renewal"
    );
    assert!(a.leading(after(t0, 9).0));
    let record = lease.unwrap();
    assert_eq!(
        (record.holder.as_deref(), record.transitions),
        (Some("b"), 1)
    );
}

#[test]
fn a_released_lease_is_taken_at_once_and_a_failed_write_is_not_leading() {
    let t0 = clocks();
    let released = Record {
        holder: None,
        duration: Duration::from_secs(15),
        acquired: None,
        renewed: None,
        transitions: 3,
    };
    let mut b = Elector::new("b", Timing::default());
    match b.plan(Some(&released), t0.0, t0.1) {
        Plan::Update(record) => assert_eq!(
            (record.holder.as_deref(), record.transitions),
            (Some("b"), 4)
        ),
        other => panic!("{other:?}"),
    }
    // The write lost a race: b does not lead.
    b.write_failed();
    assert!(!b.leading(t0.0));
    assert_eq!(b.leading_for(t0.0), Duration::ZERO);
}

#[test]
fn clocks_of_other_machines_do_not_matter() {
    let t0 = clocks();
    let mut b = Elector::new("b", Timing::default());
    // a's renewals carry a wall clock far in the past: b still waits a full duration from when it
    // saw the record change, not from what the record says.
    let mut record = Record {
        holder: Some("a".into()),
        duration: Duration::from_secs(15),
        acquired: Some(Timestamp::UNIX_EPOCH),
        renewed: Some(Timestamp::UNIX_EPOCH),
        transitions: 0,
    };
    assert!(matches!(
        b.plan(Some(&record), t0.0, t0.1),
        Plan::Follow { .. }
    ));
    // a renews at 10 s (the record changes): b's wait starts again.
    record.renewed = Some(Timestamp::UNIX_EPOCH + Duration::from_secs(10));
    assert!(matches!(
        b.plan(Some(&record), after(t0, 10).0, t0.1),
        Plan::Follow { .. }
    ));
    assert!(matches!(
        b.plan(Some(&record), after(t0, 24).0, t0.1),
        Plan::Follow { .. }
    ));
    assert!(matches!(
        b.plan(Some(&record), after(t0, 25).0, t0.1),
        Plan::Update(_)
    ));
}
