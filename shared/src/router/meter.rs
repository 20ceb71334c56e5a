//! Time-weighted load of one pool, as Knative's `RequestStats` keeps it: at every change the
//! levels that held since the previous change are integrated, so a window's average busy replicas
//! and queued requests are exact, however short the bursts (a sample every so often would miss
//! them). The autoscaler reads one window per tick from every router pod.

use serde::Serialize;
use tokio::time::Instant;

/// The load of one window.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// How long the window lasted.
    pub seconds: f64,
    /// Average replicas' worth of requests in flight (in flight / slots per replica).
    pub busy: f64,
    /// Average requests waiting for a slot.
    pub queued: f64,
    /// Ready replicas at the window's end.
    pub ready: u32,
    /// Requests given a slot during the window.
    pub requests: u64,
}

/// The integrals since the window started.
#[derive(Debug, Clone)]
pub struct Meter {
    since: Instant,
    last: Instant,
    busy_area: f64,
    queued_area: f64,
    requests: u64,
    /// The window closed last, to fill a sliding second.
    previous: Window,
}

impl Meter {
    /// A meter whose first window starts at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            since: now,
            last: now,
            busy_area: 0.0,
            queued_area: 0.0,
            requests: 0,
            previous: Window::default(),
        }
    }

    /// The last `span` up to `now`, without closing anything: the open window so far, topped up
    /// with the end of the previous one (taken as even over its length). A load step shows at
    /// once, yet each value is still weighted by time.
    pub fn sliding(
        &self,
        now: Instant,
        span: std::time::Duration,
        busy: f64,
        queued: usize,
        ready: u32,
    ) -> Window {
        let open = now.saturating_duration_since(self.since).as_secs_f64();
        let tail = now.saturating_duration_since(self.last).as_secs_f64();
        let busy_area = self.busy_area + busy * tail;
        let queued_area = self.queued_area + queued as f64 * tail;
        let span = span.as_secs_f64();
        let borrowed = (span - open).clamp(0.0, self.previous.seconds);
        let seconds = open + borrowed;
        let average = |area: f64, before: f64| {
            if seconds > 0.0 {
                (area + before * borrowed) / seconds
            } else {
                0.0
            }
        };
        Window {
            seconds,
            busy: average(busy_area, self.previous.busy),
            queued: average(queued_area, self.previous.queued),
            ready,
            requests: self.requests,
        }
    }

    /// Accounts the time since the last change at the levels that held until `now`; call before
    /// every change of the levels.
    pub fn advance(&mut self, now: Instant, busy: f64, queued: usize) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.busy_area += busy * dt;
        self.queued_area += queued as f64 * dt;
        self.last = self.last.max(now);
    }

    /// Counts a request that got a slot.
    pub fn served(&mut self) {
        self.requests += 1;
    }

    /// Closes the window at `now` (levels as they are) and starts the next.
    pub fn take(&mut self, now: Instant, busy: f64, queued: usize, ready: u32) -> Window {
        self.advance(now, busy, queued);
        let seconds = now.saturating_duration_since(self.since).as_secs_f64();
        let average = |area: f64| if seconds > 0.0 { area / seconds } else { 0.0 };
        let window = Window {
            seconds,
            busy: average(self.busy_area),
            queued: average(self.queued_area),
            ready,
            requests: self.requests,
        };
        *self = Self::new(now);
        self.previous = window;
        window
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn levels_are_weighted_by_how_long_they_held() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut meter = Meter::new(t0);
        // Idle for 500 ms, then 2 busy and 4 queued for 250 ms, then 1 busy for 250 ms.
        meter.advance(at(500), 0.0, 0);
        meter.served();
        meter.served();
        meter.advance(at(750), 2.0, 4);
        let window = meter.take(at(1000), 1.0, 0, 3);
        assert_eq!(window.seconds, 1.0);
        assert!((window.busy - 0.75).abs() < 1e-9, "{window:?}");
        assert!((window.queued - 1.0).abs() < 1e-9, "{window:?}");
        assert_eq!((window.ready, window.requests), (3, 2));

        // Half a second into the next window at 3 busy: the last second is half each.
        let sliding = meter.sliding(at(1500), Duration::from_secs(1), 3.0, 0, 3);
        assert!((sliding.seconds - 1.0).abs() < 1e-9, "{sliding:?}");
        assert!(
            (sliding.busy - (0.75 + 3.0) / 2.0).abs() < 1e-9,
            "{sliding:?}"
        );
        assert!((sliding.queued - 0.5).abs() < 1e-9, "{sliding:?}");

        // The next window starts where this one ended, with the levels still held.
        let next = meter.take(at(2000), 1.0, 0, 3);
        assert!((next.busy - 1.0).abs() < 1e-9, "{next:?}");
        assert_eq!(next.requests, 0);
    }
}
