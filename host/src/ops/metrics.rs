//! Counters for `/metrics`, in Prometheus' text format.
//!
//! Calls are counted as they finish (by plugin, tool and outcome, with a latency histogram);
//! per-plugin gauges (instances, queue, denials, crashes) are read from the live catalog at scrape
//! time, so nothing is counted twice. Label values are only names pier knows (loaded plugins and
//! their tools); a call to an unknown tool is counted under `-`, so a client cannot grow the
//! series without end by inventing names.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::plugin::{Catalog, LoadedPlugin};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(usize)]
pub enum Outcome {
    Ok,
    /// The tool answered with `isError` (including bad arguments and plugin failures).
    ToolError,
    /// Refused before reaching the plugin: out of the caller's scopes.
    Forbidden,
    RateLimited,
    UnknownTool,
    /// The call ended asking the client questions it answers in a later request (2026-07-28).
    InputRequired,
    /// The user did not confirm the call (or could not be asked), so it did not run.
    NotConfirmed,
    /// The call goes on as a task (its end is the task's, read with `tasks/get`).
    Task,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::ToolError,
        Outcome::Forbidden,
        Outcome::RateLimited,
        Outcome::UnknownTool,
        Outcome::InputRequired,
        Outcome::NotConfirmed,
        Outcome::Task,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::Forbidden => "forbidden",
            Outcome::RateLimited => "rate_limited",
            Outcome::UnknownTool => "unknown_tool",
            Outcome::InputRequired => "input_required",
            Outcome::NotConfirmed => "not_confirmed",
            Outcome::Task => "task",
        }
    }
}

#[derive(Default)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Why the HTTP layer turned a request away before MCP saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rejection {
    Unauthorized,
    ForbiddenHost,
    ForbiddenOrigin,
    /// A session id presented by someone other than its creator.
    ForeignSession,
    /// A connection closed to make room, or refused, at `[http].max_connections`.
    ConnectionLimit,
}

impl Rejection {
    fn as_str(self) -> &'static str {
        match self {
            Rejection::Unauthorized => "unauthorized",
            Rejection::ForbiddenHost => "forbidden_host",
            Rejection::ForbiddenOrigin => "forbidden_origin",
            Rejection::ForeignSession => "foreign_session",
            Rejection::ConnectionLimit => "connection_limit",
        }
    }
}

/// One tool's counters: calls per outcome, and the latency of those that reached the plugin.
#[derive(Default)]
struct ToolStats {
    outcomes: [u64; Outcome::ALL.len()],
    latency: Latency,
}

/// Keyed plugin → tool, so the per-call update looks names up by `&str` and allocates only the
/// first time a tool is seen.
#[derive(Default)]
struct Counts {
    tools: BTreeMap<String, BTreeMap<String, ToolStats>>,
    rejected: BTreeMap<Rejection, u64>,
}

#[derive(Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

impl Metrics {
    /// Counts one finished call. `route` (plugin, tool) is `None` when the tool is unknown.
    pub fn call(&self, route: Option<(&str, &str)>, outcome: Outcome, took: Duration) {
        let (plugin, tool) = route.unwrap_or(("-", "-"));
        let Ok(mut c) = self.counts.lock() else {
            return;
        };
        if !c.tools.contains_key(plugin) {
            c.tools.insert(plugin.to_string(), BTreeMap::new());
        }
        let Some(tools) = c.tools.get_mut(plugin) else {
            return;
        };
        if !tools.contains_key(tool) {
            tools.insert(tool.to_string(), ToolStats::default());
        }
        let Some(stats) = tools.get_mut(tool) else {
            return;
        };
        stats.outcomes[outcome as usize] += 1;
        if route.is_some() && matches!(outcome, Outcome::Ok | Outcome::ToolError) {
            let secs = took.as_secs_f64();
            let l = &mut stats.latency;
            for (i, le) in BUCKETS.iter().enumerate() {
                if secs <= *le {
                    l.buckets[i] += 1;
                }
            }
            l.sum += secs;
            l.count += 1;
        }
    }

    pub fn rejected(&self, why: Rejection) {
        if let Ok(mut c) = self.counts.lock() {
            *c.rejected.entry(why).or_default() += 1;
        }
    }

    /// The whole exposition, counters and the catalog's gauges.
    pub(crate) fn render(&self, catalog: &Catalog<LoadedPlugin>) -> String {
        let mut out = String::with_capacity(4096);
        if let Ok(c) = self.counts.lock() {
            header(
                &mut out,
                "pier_tool_calls_total",
                "counter",
                "Tool calls by plugin, tool and outcome.",
            );
            let each = || {
                c.tools
                    .iter()
                    .flat_map(|(p, tools)| tools.iter().map(move |(t, s)| (p, t, s)))
            };
            for (p, t, stats) in each() {
                for o in Outcome::ALL {
                    let n = stats.outcomes[o as usize];
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "pier_tool_calls_total{{plugin=\"{}\",tool=\"{}\",outcome=\"{}\"}} {n}",
                            esc(p),
                            esc(t),
                            o.as_str()
                        );
                    }
                }
            }
            header(
                &mut out,
                "pier_tool_call_duration_seconds",
                "histogram",
                "Time from request to answer of tool calls that reached a plugin.",
            );
            for (p, t, l) in each().map(|(p, t, s)| (p, t, &s.latency)) {
                if l.count == 0 {
                    continue;
                }
                let labels = format!("plugin=\"{}\",tool=\"{}\"", esc(p), esc(t));
                for (i, le) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "pier_tool_call_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                        l.buckets[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "pier_tool_call_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    l.count
                );
                let _ = writeln!(
                    out,
                    "pier_tool_call_duration_seconds_sum{{{labels}}} {}",
                    l.sum
                );
                let _ = writeln!(
                    out,
                    "pier_tool_call_duration_seconds_count{{{labels}}} {}",
                    l.count
                );
            }
            header(
                &mut out,
                "pier_http_rejected_total",
                "counter",
                "HTTP requests turned away before MCP: bad or missing token, foreign Host or Origin.",
            );
            for (why, n) in &c.rejected {
                let _ = writeln!(
                    out,
                    "pier_http_rejected_total{{reason=\"{}\"}} {n}",
                    why.as_str()
                );
            }
        }
        plugin_gauges(&mut out, catalog);
        out
    }
}

fn plugin_gauges(out: &mut String, catalog: &Catalog<LoadedPlugin>) {
    let loads: Vec<_> = catalog
        .plugins()
        .iter()
        .map(|p| (esc(p.name()), p.pool.load_now()))
        .collect();
    header(out, "pier_plugins", "gauge", "Plugins by status.");
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    for r in catalog.reports() {
        let status = match r.status {
            crate::PluginStatus::Loaded => "loaded",
            crate::PluginStatus::Compiling => "compiling",
            crate::PluginStatus::Failed(_) => "failed",
        };
        *by_status.entry(status).or_default() += 1;
    }
    for (status, n) in by_status {
        let _ = writeln!(out, "pier_plugins{{status=\"{status}\"}} {n}");
    }
    header(
        out,
        "pier_instances",
        "gauge",
        "Plugin instances running a call (busy) or kept for the next one (idle).",
    );
    for (name, l) in &loads {
        let _ = writeln!(
            out,
            "pier_instances{{plugin=\"{name}\",state=\"busy\"}} {}",
            l.busy
        );
        let _ = writeln!(
            out,
            "pier_instances{{plugin=\"{name}\",state=\"idle\"}} {}",
            l.idle
        );
    }
    header(
        out,
        "pier_queue_waiting",
        "gauge",
        "Calls waiting for a free instance.",
    );
    for (name, l) in &loads {
        let _ = writeln!(out, "pier_queue_waiting{{plugin=\"{name}\"}} {}", l.waiting);
    }
    header(
        out,
        "pier_denials_total",
        "counter",
        "Sandbox refusals (a socket, file, HTTP origin or variable the manifest does not grant).",
    );
    for (name, l) in &loads {
        let _ = writeln!(out, "pier_denials_total{{plugin=\"{name}\"}} {}", l.denials);
    }
    header(
        out,
        "pier_plugin_crashes_total",
        "counter",
        "Calls that trapped, ran out of memory or time.",
    );
    for (name, l) in &loads {
        let _ = writeln!(
            out,
            "pier_plugin_crashes_total{{plugin=\"{name}\"}} {}",
            l.crashes
        );
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Escapes a label value (backslash, quote, newline), as the text format requires.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_histogram_render() {
        let m = Metrics::default();
        m.call(
            Some(("probe", "echo")),
            Outcome::Ok,
            Duration::from_micros(800),
        );
        m.call(
            Some(("probe", "echo")),
            Outcome::Ok,
            Duration::from_millis(20),
        );
        m.call(None, Outcome::UnknownTool, Duration::ZERO);
        m.rejected(Rejection::Unauthorized);
        let text = m.render(&Catalog::assemble(&[]));
        assert!(
            text.contains("pier_tool_calls_total{plugin=\"probe\",tool=\"echo\",outcome=\"ok\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "pier_tool_calls_total{plugin=\"-\",tool=\"-\",outcome=\"unknown_tool\"} 1"
            )
        );
        assert!(text.contains(
            "pier_tool_call_duration_seconds_bucket{plugin=\"probe\",tool=\"echo\",le=\"0.001\"} 1"
        ));
        assert!(text.contains(
            "pier_tool_call_duration_seconds_bucket{plugin=\"probe\",tool=\"echo\",le=\"0.025\"} 2"
        ));
        assert!(
            text.contains(
                "pier_tool_call_duration_seconds_count{plugin=\"probe\",tool=\"echo\"} 2"
            )
        );
        assert!(text.contains("pier_http_rejected_total{reason=\"unauthorized\"} 1"));
        assert_eq!(esc("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
