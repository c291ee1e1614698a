//! Time: the call's budget (pier's `[limits].timeout`, passed in the call context) so that a
//! rate-limit wait or a directory scan stops before pier stops the call, and wall-clock seconds
//! for cache ages and `7d`-style windows.

/// The limit assumed when pier did not say (its default `[limits].timeout`).
const DEFAULT_LIMIT_MS: u64 = 30_000;

/// When the current call started and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start_ns: u64,
    limit_ms: u64,
}

impl Clock {
    pub fn start(limit_ms: Option<u64>) -> Clock {
        Clock {
            start_ns: monotonic_ns(),
            limit_ms: limit_ms.unwrap_or(DEFAULT_LIMIT_MS),
        }
    }

    pub fn elapsed_ms(&self) -> u64 {
        monotonic_ns().saturating_sub(self.start_ns) / 1_000_000
    }

    /// Whether `ms` more still fit in the call, keeping a tenth of it (at least 500 ms) to
    /// shape and send the answer.
    pub fn fits(&self, ms: u64) -> bool {
        let reserve = (self.limit_ms / 10).max(500);
        self.elapsed_ms() + ms + reserve <= self.limit_ms
    }

    pub fn sleep_ms(&self, ms: u64) {
        #[cfg(target_arch = "wasm32")]
        {
            wasi::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }
}

fn monotonic_ns() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        wasi::clocks::monotonic_clock::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
        ORIGIN
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_nanos() as u64
    }
}

pub use pier_sdk::time::now_secs;

/// A point in time as Slack's `oldest`/`latest` take it (`"1712345678.000000"`), from a ts
/// (kept as it is: a ts is a string, never a float), seconds, a date (`2026-11-30`, midnight
/// UTC), a date and time (`2026-11-30T14:05:00Z`) or an age before now (`30m`, `12h`, `7d`,
/// `2w`).
pub fn slack_time(text: &str, now: u64) -> Result<String, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "{text:?} is not a time: give a Slack ts (\"1712345678.123456\"), seconds, a date \
             (2026-11-30), a date and time (2026-11-30T14:05:00Z) or an age (30m, 12h, 7d, 2w)"
        )
    };
    if let Some((secs, frac)) = t.split_once('.')
        && !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Ok(t.to_string());
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(format!("{t}.000000"));
    }
    if let Some(unit) = t.chars().last()
        && let Ok(n) = t[..t.len() - unit.len_utf8()].parse::<u64>()
    {
        let secs = match unit {
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        return Ok(format!("{}.000000", now.saturating_sub(n * secs)));
    }
    let (date, time) = match t.split_once(['T', ' ']) {
        Some((d, rest)) => (d, Some(rest.trim_end_matches('Z'))),
        None => (t, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<i64>(), d.parse::<i64>()) else {
        return Err(bad());
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(time) = time {
        let hms: Vec<&str> = time.split(':').collect();
        let field = |i: usize| hms.get(i).map_or(Ok(0), |v| v.parse::<i64>());
        let (Ok(h), Ok(mi), Ok(s)) = (field(0), field(1), field(2)) else {
            return Err(bad());
        };
        secs += h * 3_600 + mi * 60 + s;
    }
    if secs < 0 {
        return Err(bad());
    }
    Ok(format!("{secs}.000000"))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A ts as `YYYY-MM-DDTHH:MM:SSZ`, for people and models reading answers.
pub fn iso(ts: &str) -> Option<String> {
    let secs: i64 = ts.split('.').next()?.parse().ok()?;
    Some(pier_sdk::time::iso(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_form_become_slack_timestamps() {
        let now = 1_764_590_400; // 2025-12-01T12:00:00Z
        assert_eq!(
            slack_time("1712345678.123456", now),
            Ok("1712345678.123456".into())
        );
        assert_eq!(
            slack_time("1712345678", now),
            Ok("1712345678.000000".into())
        );
        assert_eq!(
            slack_time("1d", now),
            Ok(format!("{}.000000", now - 86_400))
        );
        assert_eq!(slack_time("2h", now), Ok(format!("{}.000000", now - 7_200)));
        assert_eq!(
            slack_time("2025-12-01", now),
            Ok("1764547200.000000".into())
        );
        assert_eq!(
            slack_time("2025-12-01T12:00:00Z", now),
            Ok("1764590400.000000".into())
        );
        assert!(slack_time("yesterday", now).is_err());
        assert!(slack_time("7y", now).is_err());
        assert_eq!(
            iso("1764590400.000100").as_deref(),
            Some("2025-12-01T12:00:00Z")
        );
    }
}
