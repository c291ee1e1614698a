//! Rate limits per identity and tool: a token bucket per (identity, tool) pair.
//!
//! Rules come from `[[rate_limits]]` in pier.toml; the first rule whose identity and tool globs
//! match a call applies. A call over the limit is not queued: it is answered at once with a tool
//! error that says when to retry, so a model (or its user) can pace itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

/// One `[[rate_limits]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateRule {
    /// Glob over the caller's identity (`*` for everyone; `-` is a caller without one).
    #[serde(default = "any")]
    pub identity: String,
    /// Glob over the exposed tool name (`postgres_*`).
    #[serde(default = "any")]
    pub tool: String,
    /// Calls per second refilled.
    pub rate: f64,
    /// Calls allowed at once before the rate applies.
    pub burst: u32,
}

fn any() -> String {
    "*".into()
}

struct Rule {
    identity: GlobMatcher,
    tool: GlobMatcher,
    rate: f64,
    burst: f64,
}

struct Bucket {
    tokens: f64,
    last: Instant,
    rule: usize,
}

/// A refused call: the limit that applied and how long until one call is allowed again.
#[derive(Debug)]
pub struct Limited {
    pub retry_in: Duration,
    pub rate: f64,
    pub burst: u32,
}

impl Limited {
    /// What the refused caller is told: the limit, and when to retry.
    pub fn message(&self, identity: &str, tool: &str) -> String {
        format!(
            "rate limit reached: identity `{identity}` may call `{tool}` {} times per second (burst {}); retry in {:.2} s",
            self.rate,
            self.burst,
            self.retry_in.as_secs_f64()
        )
    }
}

/// Buckets for callers that are idle and full are dropped once there are this many, so a stream
/// of distinct identities (through a trusted proxy) cannot grow memory without end.
const MAX_BUCKETS: usize = 10_000;

#[derive(Default)]
pub struct RateLimits {
    rules: Vec<Rule>,
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

impl RateLimits {
    pub fn new(rules: &[RateRule]) -> Result<Self, String> {
        let mut out = Vec::with_capacity(rules.len());
        for (i, r) in rules.iter().enumerate() {
            let at = format!("[[rate_limits]] entry {}", i + 1);
            if !(r.rate.is_finite() && r.rate > 0.0) {
                return Err(format!(
                    "{at}: rate must be a positive number of calls per second"
                ));
            }
            if r.burst == 0 {
                return Err(format!("{at}: burst must be at least 1"));
            }
            let glob = |g: &str, key: &str| {
                Glob::new(g)
                    .map(|g| g.compile_matcher())
                    .map_err(|e| format!("{at}: bad {key} pattern {g:?}: {e}"))
            };
            out.push(Rule {
                identity: glob(&r.identity, "identity")?,
                tool: glob(&r.tool, "tool")?,
                rate: r.rate,
                burst: f64::from(r.burst),
            });
        }
        Ok(RateLimits {
            rules: out,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Takes one call from the caller's bucket for `tool`, or says how long to wait.
    pub fn check(&self, identity: &str, tool: &str) -> Result<(), Limited> {
        self.check_at(identity, tool, Instant::now())
    }

    fn check_at(&self, identity: &str, tool: &str, now: Instant) -> Result<(), Limited> {
        let Some(index) = self
            .rules
            .iter()
            .position(|r| r.identity.is_match(identity) && r.tool.is_match(tool))
        else {
            return Ok(());
        };
        let rule = &self.rules[index];
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_BUCKETS {
            let rules = &self.rules;
            buckets.retain(|_, b| {
                let r = &rules[b.rule];
                b.tokens + now.duration_since(b.last).as_secs_f64() * r.rate < r.burst
            });
        }
        let bucket = buckets
            .entry((identity.to_string(), tool.to_string()))
            .or_insert(Bucket {
                tokens: rule.burst,
                last: now,
                rule: index,
            });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rule.rate).min(rule.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Limited {
                retry_in: Duration::from_secs_f64((1.0 - bucket.tokens) / rule.rate),
                rate: rule.rate,
                burst: rule.burst as u32,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(identity: &str, tool: &str, rate: f64, burst: u32) -> RateRule {
        RateRule {
            identity: identity.into(),
            tool: tool.into(),
            rate,
            burst,
        }
    }

    #[test]
    fn burst_then_refill() {
        let limits = RateLimits::new(&[rule("alice", "probe_*", 2.0, 3)]).expect("valid");
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limits.check_at("alice", "probe_echo", t0).is_ok());
        }
        let refused = limits
            .check_at("alice", "probe_echo", t0)
            .expect_err("over");
        assert!(
            (refused.retry_in.as_secs_f64() - 0.5).abs() < 1e-6,
            "{refused:?}"
        );
        // Other identities and tools have their own buckets, or no rule at all.
        assert!(limits.check_at("bob", "probe_echo", t0).is_ok());
        assert!(limits.check_at("alice", "other_tool", t0).is_ok());
        let later = t0 + Duration::from_millis(500);
        assert!(limits.check_at("alice", "probe_echo", later).is_ok());
        assert!(limits.check_at("alice", "probe_echo", later).is_err());
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(RateLimits::new(&[rule("*", "*", 0.0, 1)]).is_err());
        assert!(RateLimits::new(&[rule("*", "*", 1.0, 0)]).is_err());
        assert!(RateLimits::new(&[rule("[", "*", 1.0, 1)]).is_err());
    }
}
