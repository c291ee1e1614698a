//! Reading the audit log back: `pier audit` picks the lines of one identity, tool, outcome or
//! time window, so an administrator can answer "who called what, when" without writing `jq`.
//!
//! The log is read a line at a time (it may be large and is only ever appended to). A line that
//! is not an audit entry (a torn last line after a crash, a hand edit) is counted and reported,
//! never fatal: the rest of the log is still read.

use std::io::BufRead;

use chrono::{DateTime, NaiveDate, Utc};
use globset::{Glob, GlobMatcher};
use serde_json::Value;

use super::Outcome;

/// Which audit lines to show. Every part that is set must match.
#[derive(Debug, Default)]
pub struct AuditQuery {
    identity: Option<GlobMatcher>,
    tool: Option<GlobMatcher>,
    outcome: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

/// What the filters were given, as text (from the command line).
#[derive(Debug, Default)]
pub struct AuditFilters<'a> {
    pub identity: Option<&'a str>,
    pub tool: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
}

/// What reading the log found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AuditScan {
    pub matched: u64,
    pub read: u64,
    /// Lines that are not audit entries (not JSON objects with a `time`).
    pub unreadable: u64,
}

/// A point in time: RFC 3339 (`2026-12-01T09:30:00Z`), a UTC date (`2026-12-01`, its midnight),
/// or an age before `now` (`30s`, `15m`, `2h`, `7d`, `2w`).
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d")
        && let Some(midnight) = day.and_hms_opt(0, 0, 0)
    {
        return Ok(midnight.and_utc());
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    let (n, unit) = t.split_at(split);
    let unit_secs = match unit {
        "s" => Some(1),
        "m" => Some(60),
        "h" => Some(3_600),
        "d" => Some(86_400),
        "w" => Some(604_800),
        _ => None,
    };
    n.parse::<i64>()
        .ok()
        .zip(unit_secs)
        .and_then(|(n, secs)| n.checked_mul(secs))
        .and_then(chrono::Duration::try_seconds)
        .and_then(|age| now.checked_sub_signed(age))
        .ok_or_else(|| {
            format!(
                "{t:?} is not a time: give 2026-12-01T09:30:00Z, a date (2026-12-01) or an age (15m, 2h, 7d)"
            )
        })
}

fn glob(key: &str, pattern: &str) -> Result<GlobMatcher, String> {
    Glob::new(pattern)
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("--{key} {pattern:?} is not a glob: {e}"))
}

impl AuditQuery {
    pub fn new(f: &AuditFilters<'_>, now: DateTime<Utc>) -> Result<Self, String> {
        let time = |key: &str, t: Option<&str>| {
            t.map(|t| parse_time(t, now).map_err(|e| format!("--{key}: {e}")))
                .transpose()
        };
        if let Some(o) = f.outcome
            && !Outcome::ALL.iter().any(|k| k.as_str() == o)
        {
            let known: Vec<&str> = Outcome::ALL.iter().map(|k| k.as_str()).collect();
            return Err(format!(
                "--outcome {o:?} is not an outcome; the log has {}",
                known.join(", ")
            ));
        }
        let query = AuditQuery {
            identity: f.identity.map(|p| glob("identity", p)).transpose()?,
            tool: f.tool.map(|p| glob("tool", p)).transpose()?,
            outcome: f.outcome.map(str::to_string),
            since: time("since", f.since)?,
            until: time("until", f.until)?,
        };
        if let (Some(s), Some(u)) = (query.since, query.until)
            && s > u
        {
            return Err(format!("--since ({s}) is after --until ({u})"));
        }
        Ok(query)
    }

    /// Whether an entry (one parsed line) is one to show; `None` when it is not an audit entry.
    pub fn matches(&self, entry: &Value) -> Option<bool> {
        let text = |k: &str| entry.get(k).and_then(Value::as_str);
        let time = DateTime::parse_from_rfc3339(text("time")?)
            .ok()?
            .with_timezone(&Utc);
        let glob_ok = |m: &Option<GlobMatcher>, v: Option<&str>| {
            m.as_ref().is_none_or(|m| m.is_match(v.unwrap_or("-")))
        };
        Some(
            glob_ok(&self.identity, text("identity"))
                && glob_ok(&self.tool, text("tool"))
                && self
                    .outcome
                    .as_ref()
                    .is_none_or(|o| text("outcome") == Some(o.as_str()))
                && self.since.is_none_or(|s| time >= s)
                && self.until.is_none_or(|u| time <= u),
        )
    }

    /// Reads `log` line by line, handing each matching entry (and its line) to `emit`.
    pub fn scan(
        &self,
        log: impl BufRead,
        mut emit: impl FnMut(&Value, &str) -> std::io::Result<()>,
    ) -> std::io::Result<AuditScan> {
        let mut scan = AuditScan::default();
        for line in log.lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            scan.read += 1;
            let verdict = serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|v| self.matches(&v).map(|m| (m, v)));
            match verdict {
                None => scan.unreadable += 1,
                Some((true, entry)) => {
                    scan.matched += 1;
                    emit(&entry, &line)?;
                }
                Some((false, _)) => {}
            }
        }
        Ok(scan)
    }
}

/// One entry as a table row: time, identity, tool, outcome, milliseconds, answer bytes.
pub fn row(entry: &Value) -> String {
    let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("-");
    let ms = entry
        .get("duration_ms")
        .and_then(Value::as_f64)
        .map_or("-".to_string(), |m| format!("{m:.1}"));
    let bytes = entry
        .get("result_bytes")
        .and_then(Value::as_u64)
        .map_or("-".to_string(), |b| b.to_string());
    format!(
        "{:24}  {:16}  {:32}  {:12}  {:>9}  {:>9}",
        text("time"),
        text("identity"),
        text("tool"),
        text("outcome"),
        ms,
        bytes
    )
}

/// The header of [`row`]'s table.
pub fn header() -> String {
    format!(
        "{:24}  {:16}  {:32}  {:12}  {:>9}  {:>9}",
        "time", "identity", "tool", "outcome", "ms", "bytes"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    const LOG: &str = r#"{"time":"2026-12-01T09:00:00.000Z","identity":"alice","tool":"postgres_query","outcome":"ok","duration_ms":1.5,"result_bytes":20}
{"time":"2026-12-02T11:30:00.000Z","identity":"bob","tool":"github_get_me","outcome":"tool_error","duration_ms":3.0,"result_bytes":10}
not json
{"time":"2026-12-02T11:50:00.000Z","identity":"alice","tool":"postgres_execute","outcome":"forbidden","duration_ms":0.1,"result_bytes":0}

{"identity":"torn"}
"#;

    fn run(f: AuditFilters<'_>) -> (Vec<String>, AuditScan) {
        let q = AuditQuery::new(&f, now()).expect("valid filters");
        let mut tools = Vec::new();
        let scan = q
            .scan(LOG.as_bytes(), |e, _| {
                tools.push(e["tool"].as_str().unwrap_or("").to_string());
                Ok(())
            })
            .expect("read");
        (tools, scan)
    }

    #[test]
    fn filters_by_identity_tool_outcome_and_time() {
        let (all, scan) = run(AuditFilters::default());
        assert_eq!(all.len(), 3);
        assert_eq!(
            scan,
            AuditScan {
                matched: 3,
                read: 5,
                unreadable: 2
            }
        );
        let (alice, _) = run(AuditFilters {
            identity: Some("alice"),
            ..Default::default()
        });
        assert_eq!(alice, ["postgres_query", "postgres_execute"]);
        let (recent, _) = run(AuditFilters {
            tool: Some("postgres_*"),
            since: Some("1h"),
            ..Default::default()
        });
        assert_eq!(recent, ["postgres_execute"]);
        let (refused, _) = run(AuditFilters {
            outcome: Some("forbidden"),
            until: Some("2026-12-02T12:00:00Z"),
            ..Default::default()
        });
        assert_eq!(refused, ["postgres_execute"]);
        let (day, _) = run(AuditFilters {
            since: Some("2026-12-01"),
            until: Some("2026-12-01T23:59:59Z"),
            ..Default::default()
        });
        assert_eq!(day, ["postgres_query"]);
    }

    #[test]
    fn bad_filters_say_what_they_take() {
        let e = AuditQuery::new(
            &AuditFilters {
                since: Some("last tuesday"),
                ..Default::default()
            },
            now(),
        )
        .expect_err("not a time");
        assert!(e.contains("--since") && e.contains("7d"), "{e}");
        let e = AuditQuery::new(
            &AuditFilters {
                since: Some("1h"),
                until: Some("2d"),
                ..Default::default()
            },
            now(),
        )
        .expect_err("backwards");
        assert!(e.contains("after --until"), "{e}");
        assert!(
            AuditQuery::new(
                &AuditFilters {
                    tool: Some("["),
                    ..Default::default()
                },
                now()
            )
            .is_err()
        );
        let e = AuditQuery::new(
            &AuditFilters {
                outcome: Some("failed"),
                ..Default::default()
            },
            now(),
        )
        .expect_err("no such outcome");
        assert!(
            e.contains("tool_error") && e.contains("rate_limited"),
            "{e}"
        );
        assert_eq!(
            parse_time("7d", now()).expect("age"),
            now() - chrono::Duration::days(7)
        );
    }
}
