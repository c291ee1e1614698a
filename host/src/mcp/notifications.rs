//! Forwards what a plugin reports during a call to the client that made it: `host.progress` as
//! `notifications/progress` (when the request carried a progress token) and `host.log` as
//! `notifications/message` (when the client set a level with `logging/setLevel`).
//!
//! Notifications go through a per-call channel and one forwarding task, and the call's response
//! is sent only after that task has drained: clients discard progress for a request that has
//! already been answered, so a notification must never overtake the response.

// MCP 2026-07-28 deprecates logging (SEP-2577); clients on earlier versions still use it.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::{Peer, RequestContext, RoleServer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::runtime::CallSink;
use crate::runtime::bindings::pier::mcp::types::LogLevel;

enum Note {
    Progress(ProgressNotificationParam),
    Log(LoggingMessageNotificationParam),
}

struct ChannelSink {
    token: Option<ProgressToken>,
    /// The least severe level the client wants; `None`: no log messages.
    min_level: Option<LoggingLevel>,
    /// The plugin's name, as the messages' `logger`.
    logger: String,
    tx: mpsc::UnboundedSender<Note>,
}

/// MCP's levels in rising severity (syslog's order).
pub fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

fn mcp_level(level: LogLevel) -> LoggingLevel {
    match level {
        LogLevel::Trace | LogLevel::Debug => LoggingLevel::Debug,
        LogLevel::Info => LoggingLevel::Info,
        LogLevel::Warn => LoggingLevel::Warning,
        LogLevel::Error => LoggingLevel::Error,
    }
}

impl CallSink for ChannelSink {
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        let Some(token) = &self.token else {
            return;
        };
        let mut param = ProgressNotificationParam::new(token.clone(), progress);
        if let Some(t) = total {
            param = param.with_total(t);
        }
        if let Some(m) = message {
            param = param.with_message(m);
        }
        // The guest runs synchronously inside its store: queue, never block it.
        let _ = self.tx.send(Note::Progress(param));
    }

    fn log(&self, level: LogLevel, message: &str) {
        let level = mcp_level(level);
        if self
            .min_level
            .is_some_and(|min| severity(level) >= severity(min))
        {
            let mut param = LoggingMessageNotificationParam::new(level, message.into());
            param.logger = Some(self.logger.clone());
            let _ = self.tx.send(Note::Log(param));
        }
    }
}

/// Notification plumbing for one call, when the client asked for progress or log messages.
pub struct Forwarder {
    pub sink: Arc<dyn CallSink>,
    task: JoinHandle<()>,
}

impl Forwarder {
    pub fn start(
        ctx: &RequestContext<RoleServer>,
        min_level: Option<LoggingLevel>,
        plugin: &str,
    ) -> Option<Self> {
        let token = ctx.meta.get_progress_token();
        if token.is_none() && min_level.is_none() {
            return None;
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let peer: Peer<RoleServer> = ctx.peer.clone();
        let task = tokio::spawn(async move {
            while let Some(note) = rx.recv().await {
                let sent = match note {
                    Note::Progress(p) => peer.notify_progress(p).await,
                    Note::Log(m) => peer.notify_logging_message(m).await,
                };
                if let Err(e) = sent {
                    tracing::debug!("notification not delivered: {e}");
                }
            }
        });
        Some(Forwarder {
            sink: Arc::new(ChannelSink {
                token,
                min_level,
                logger: plugin.to_string(),
                tx,
            }),
            task,
        })
    }

    /// Waits until every queued notification is sent. The instance has dropped its handle on
    /// the sink by now (the call is over), so this one is the last sender.
    pub async fn finish(self) {
        drop(self.sink);
        if tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            tracing::debug!("notification forwarding did not drain in time");
        }
    }
}
