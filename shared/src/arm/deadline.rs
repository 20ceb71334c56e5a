//! The whole command's time limit (`--timeout`): every request, back-off and poll fits inside it,
//! whatever the server does.

use std::time::Duration;

use tokio::time::Instant;

/// When the command must be done, and the limit it came from (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// The instant it passes.
    pub at: Instant,
    /// `--timeout` as given.
    pub limit: Duration,
}

impl Deadline {
    /// A deadline `limit` from now.
    pub fn after(limit: Duration) -> Self {
        Self {
            at: Instant::now() + limit,
            limit,
        }
    }

    /// The time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether waiting `pause` from now would pass the deadline.
    pub fn passes_within(&self, pause: Duration) -> bool {
        pause >= self.remaining()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_time_left_shrinks_to_zero() {
        let d = Deadline::after(Duration::from_secs(10));
        assert!(!d.passes_within(Duration::from_secs(9)));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(d.remaining(), Duration::from_secs(6));
        assert!(d.passes_within(Duration::from_secs(6)));
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(d.remaining(), Duration::ZERO);
    }
}
