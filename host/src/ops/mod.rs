//! What an operator needs around the calls: metrics, the audit log and rate limits. One
//! [`Operations`] is shared by every transport, so stdio and HTTP are counted, audited and
//! limited alike.

pub mod audit;
pub mod audit_query;
pub mod metrics;
pub mod rate_limit;
mod redact;

pub use audit::{AuditConfig, AuditEntry, AuditLog};
pub use metrics::{Metrics, Outcome, Rejection};
pub use rate_limit::{Limited, RateLimits, RateRule};
pub use redact::Redactor;

/// Metrics (always on), the audit log and rate limits (when configured).
#[derive(Default)]
pub struct Operations {
    pub metrics: Metrics,
    pub audit: Option<AuditLog>,
    pub limits: RateLimits,
}
