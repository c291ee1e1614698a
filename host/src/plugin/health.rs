//! A plugin's health: its circuit breaker and the counters `pier plugins` and `/metrics` show.
//!
//! Every request to a plugin passes [`Health::admit`] first and reports its verdict through the
//! [`Trial`] it got back, so what counts as a failure is decided here, once, for every kind of
//! request.

use std::sync::atomic::{AtomicU64, Ordering};

use super::breaker::{Breaker, BreakerState};
use super::call_error::CallError;
use super::manifest::Limits;

pub(crate) struct Health {
    breaker: Breaker,
    /// Calls served and calls that crashed, since load.
    calls: AtomicU64,
    failures: AtomicU64,
    /// Sandbox refusals recorded during calls, since load.
    denials: AtomicU64,
}

/// The counters, read now.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    pub calls: u64,
    pub failures: u64,
    pub denials: u64,
}

/// An admitted request. Dropped without [`Trial::finish`] (the caller went away mid-call), it
/// frees a half-open circuit's trial slot instead of recording a verdict.
pub(crate) struct Trial<'a> {
    health: &'a Health,
    finished: bool,
}

impl Health {
    pub fn new(limits: &Limits) -> Self {
        Health {
            breaker: Breaker::new(limits.failures, limits.failure_window, limits.cooldown),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            denials: AtomicU64::new(0),
        }
    }

    /// Lets a request through, or refuses it while the circuit is open.
    pub fn admit(
        &self,
        plugin: &str,
        limits: &Limits,
        manifest: &str,
    ) -> Result<Trial<'_>, CallError> {
        if let Err(rejected) = self.breaker.admit() {
            return Err(CallError::CircuitOpen {
                plugin: plugin.to_string(),
                failures: limits.failures,
                window: limits.failure_window,
                retry_in_s: rejected.retry_in.as_secs_f64().ceil() as u64,
                manifest: manifest.to_string(),
            });
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(Trial {
            health: self,
            finished: false,
        })
    }

    pub fn add_denials(&self, n: usize) {
        self.denials.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn counters(&self) -> Counters {
        Counters {
            calls: self.calls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            denials: self.denials.load(Ordering::Relaxed),
        }
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// The circuit as `pier plugins` shows it: `closed`, `half-open`, or `open (retry in N s)`.
    pub fn circuit(&self) -> String {
        match self.breaker_state() {
            BreakerState::Closed => "closed".into(),
            BreakerState::HalfOpen => "half-open".into(),
            BreakerState::Open { retry_in } => {
                format!("open (retry in {} s)", retry_in.as_secs_f64().ceil())
            }
        }
    }
}

impl Trial<'_> {
    /// Records how the request ended.
    pub fn finish<T>(mut self, result: &Result<T, CallError>) {
        self.finished = true;
        let health = self.health;
        let crashed = matches!(
            result,
            Err(CallError::Timeout { .. }
                | CallError::Memory { .. }
                | CallError::Trap { .. }
                | CallError::Instantiate { .. })
        );
        if crashed {
            health.failures.fetch_add(1, Ordering::Relaxed);
        }
        // What opens the circuit is what makes every caller wait: calls that run out their time
        // and instances that cannot start. A trap or a memory overrun is answered at once and
        // is most often caused by that call's input (a tree too deep, a file too big), so one
        // caller sending such inputs must not shut the plugin off for everyone.
        let unhealthy = matches!(
            result,
            Err(CallError::Timeout { .. } | CallError::Instantiate { .. })
        );
        // A busy refusal says nothing about the plugin's health; everything else does.
        if matches!(result, Err(CallError::Busy { .. })) {
            health.breaker.abandon();
        } else {
            health.breaker.record(unhealthy);
        }
    }
}

impl Drop for Trial<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.health.breaker.abandon();
        }
    }
}
