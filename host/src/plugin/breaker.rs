//! The circuit breaker of one plugin: a plugin that keeps crashing or timing out stops being
//! called for a while, so it cannot eat every request's time limit, and is then tried again with
//! one call.
//!
//! Closed: calls pass; each crash or timeout is remembered for `[limits].failure_window`. When
//! `[limits].failures` of them fall in the window, the circuit opens for `[limits].cooldown`;
//! calls fail at once with when to retry. After that one call is let through (half-open): if it
//! succeeds the circuit closes, if it fails it opens again for twice as long (up to 32x).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most the cooldown grows after repeated failed trials.
const MAX_BACKOFF: u32 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { retry_in: Duration },
    HalfOpen,
}

#[derive(Debug)]
enum Inner {
    Closed { failures: VecDeque<Instant> },
    Open { until: Instant },
    HalfOpen { trial_running: bool },
}

#[derive(Debug)]
pub struct Breaker {
    failures: u32,
    window: Duration,
    cooldown: Duration,
    state: Mutex<(Inner, u32)>,
}

/// Why a call was not let through.
#[derive(Debug, Clone, Copy)]
pub struct Rejected {
    pub retry_in: Duration,
}

impl Breaker {
    pub fn new(failures: u32, window: Duration, cooldown: Duration) -> Self {
        Breaker {
            failures: failures.max(1),
            window,
            cooldown,
            state: Mutex::new((
                Inner::Closed {
                    failures: VecDeque::new(),
                },
                1,
            )),
        }
    }

    /// Lets a call through, or says when to retry.
    pub fn admit(&self) -> Result<(), Rejected> {
        let Ok(mut guard) = self.state.lock() else {
            return Ok(());
        };
        let (inner, _) = &mut *guard;
        match inner {
            Inner::Closed { .. } => Ok(()),
            Inner::Open { until } => {
                let now = Instant::now();
                if now >= *until {
                    *inner = Inner::HalfOpen {
                        trial_running: true,
                    };
                    Ok(())
                } else {
                    Err(Rejected {
                        retry_in: *until - now,
                    })
                }
            }
            Inner::HalfOpen { trial_running } => {
                if *trial_running {
                    // One trial at a time; the others wait for its verdict.
                    Err(Rejected {
                        retry_in: Duration::from_secs(1),
                    })
                } else {
                    *trial_running = true;
                    Ok(())
                }
            }
        }
    }

    /// Records how an admitted call ended. `crashed` is a trap, timeout or memory overrun; an
    /// answer of any kind (even a tool error) counts as health.
    pub fn record(&self, crashed: bool) {
        let Ok(mut guard) = self.state.lock() else {
            return;
        };
        let (inner, backoff) = &mut *guard;
        let now = Instant::now();
        match inner {
            Inner::Closed { failures } => {
                if !crashed {
                    return;
                }
                failures.push_back(now);
                while failures
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > self.window)
                {
                    failures.pop_front();
                }
                if failures.len() as u32 >= self.failures {
                    *inner = Inner::Open {
                        until: now + self.cooldown * *backoff,
                    };
                }
            }
            Inner::HalfOpen { .. } => {
                if crashed {
                    *backoff = (*backoff * 2).min(MAX_BACKOFF);
                    *inner = Inner::Open {
                        until: now + self.cooldown * *backoff,
                    };
                } else {
                    *backoff = 1;
                    *inner = Inner::Closed {
                        failures: VecDeque::new(),
                    };
                }
            }
            // A call admitted before the circuit opened finished late; the open period stands.
            Inner::Open { .. } => {}
        }
    }

    /// An admitted call that never reached the plugin (refused as busy): it proves nothing, so a
    /// half-open circuit lets the next call be the trial.
    pub fn abandon(&self) {
        if let Ok(mut guard) = self.state.lock()
            && let Inner::HalfOpen { trial_running } = &mut guard.0
        {
            *trial_running = false;
        }
    }

    pub fn state(&self) -> BreakerState {
        let Ok(guard) = self.state.lock() else {
            return BreakerState::Closed;
        };
        match &guard.0 {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } => BreakerState::Open {
                retry_in: until.saturating_duration_since(Instant::now()),
            },
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_n_failures_then_half_opens_and_closes() {
        let b = Breaker::new(2, Duration::from_secs(60), Duration::from_millis(30));
        assert!(b.admit().is_ok());
        b.record(true);
        b.record(false);
        assert_eq!(b.state(), BreakerState::Closed);
        b.record(true);
        let r = b.admit().expect_err("open after two crashes");
        assert!(r.retry_in <= Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.admit().is_ok(), "half-open trial");
        assert!(b.admit().is_err(), "only one trial at a time");
        b.record(false);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failed_trial_doubles_the_cooldown() {
        let b = Breaker::new(1, Duration::from_secs(60), Duration::from_millis(20));
        b.record(true);
        std::thread::sleep(Duration::from_millis(25));
        assert!(b.admit().is_ok());
        b.record(true);
        match b.state() {
            BreakerState::Open { retry_in } => assert!(retry_in > Duration::from_millis(20)),
            other => panic!("expected open, got {other:?}"),
        }
    }

    #[test]
    fn old_failures_leave_the_window() {
        let b = Breaker::new(2, Duration::from_millis(10), Duration::from_secs(1));
        b.record(true);
        std::thread::sleep(Duration::from_millis(20));
        b.record(true);
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
