//! One request to a plugin as the MCP face sees it from start to end: when it started, where it
//! was routed, the forwarder carrying the plugin's progress and log messages to the client, and,
//! for tool calls, the metrics and audit line recorded when it ends (refused calls included).

// Log levels are deprecated by MCP 2026-07-28 (SEP-2577); clients on earlier versions use them.
#![allow(deprecated)]

use std::time::Instant;

use rmcp::model::{JsonObject, LoggingLevel};
use rmcp::service::{RequestContext, RoleServer};

use super::notifications::Forwarder;
use super::request::{request_id, session_id};
use crate::access::Caller;
use crate::ops::{AuditEntry, Operations, Outcome};
use crate::runtime::CallScope;

pub(super) struct CallGuard<'a> {
    ctx: &'a RequestContext<RoleServer>,
    started: Instant,
    forwarder: Option<Forwarder>,
    /// What a tool call records when it ends; `None` for other requests.
    audited: Option<Audited<'a>>,
}

struct Audited<'a> {
    ops: &'a Operations,
    caller: &'a Caller,
    name: &'a str,
    arguments: Option<&'a JsonObject>,
    route: Option<(String, String)>,
}

impl<'a> CallGuard<'a> {
    /// A guard for a request that is not audited (prompts).
    pub fn new(ctx: &'a RequestContext<RoleServer>) -> Self {
        CallGuard {
            ctx,
            started: Instant::now(),
            forwarder: None,
            audited: None,
        }
    }

    /// A guard for the tool call `name`, counted and audited when it ends.
    pub fn tool_call(
        ctx: &'a RequestContext<RoleServer>,
        ops: &'a Operations,
        caller: &'a Caller,
        name: &'a str,
        arguments: Option<&'a JsonObject>,
    ) -> Self {
        CallGuard {
            audited: Some(Audited {
                ops,
                caller,
                name,
                arguments,
                route: None,
            }),
            ..CallGuard::new(ctx)
        }
    }

    /// Records where the call went: the plugin and its own name for the tool.
    pub fn route(&mut self, plugin: &str, tool: &str) {
        if let Some(a) = &mut self.audited {
            a.route = Some((plugin.to_string(), tool.to_string()));
        }
    }

    /// The scope the plugin's instance runs the call in; starts forwarding its progress (when the
    /// request carried a token) and log messages (at or above `level`) to the client.
    pub fn scope(&mut self, level: Option<LoggingLevel>, plugin: &str) -> CallScope {
        self.forwarder = Forwarder::start(self.ctx, level, plugin);
        let mut scope = CallScope::new(request_id(self.ctx));
        scope.sink = self.forwarder.as_ref().map(|f| f.sink.clone());
        scope.cancelled = Some(self.ctx.ct.clone());
        scope
    }

    /// Milliseconds since the call started, for the log line.
    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// Ends the call: waits until every notification is sent (a notification must not overtake
    /// the response), then counts and audits a tool call.
    pub async fn end(mut self, outcome: Outcome, result_bytes: u64) {
        if let Some(f) = self.forwarder.take() {
            f.finish().await;
        }
        self.record(outcome, result_bytes);
    }

    /// Ends a request that is not audited: waits until every notification is sent.
    pub async fn done(mut self) {
        if let Some(f) = self.forwarder.take() {
            f.finish().await;
        }
    }

    /// Ends a call that was refused before it reached a plugin.
    pub fn refuse(self, outcome: Outcome) {
        self.record(outcome, 0);
    }

    fn record(self, outcome: Outcome, result_bytes: u64) {
        let Some(a) = self.audited else { return };
        let took = self.started.elapsed();
        let route = a.route.as_ref().map(|(p, t)| (p.as_str(), t.as_str()));
        a.ops.metrics.call(route, outcome, took);
        if let Some(audit) = &a.ops.audit {
            audit.record(&AuditEntry {
                identity: a.caller.label(),
                tool: a.name,
                plugin: route.map(|r| r.0),
                request_id: &request_id(self.ctx),
                session: session_id(self.ctx),
                arguments: a.arguments,
                duration: took,
                outcome: outcome.as_str(),
                result_bytes: result_bytes as usize,
            });
        }
    }
}
