//! Forwards `host.progress` from a plugin to the client as `notifications/progress`.
//!
//! Notifications go through a per-call channel and one forwarding task, and the call's response
//! is sent only after that task has drained: clients discard progress for a request that has
//! already been answered, so a notification must never overtake the response.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext, RoleServer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::runtime::ProgressSink;

struct ChannelSink {
    token: ProgressToken,
    tx: mpsc::UnboundedSender<ProgressNotificationParam>,
}

impl ProgressSink for ChannelSink {
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        let mut param = ProgressNotificationParam::new(self.token.clone(), progress);
        if let Some(t) = total {
            param = param.with_total(t);
        }
        if let Some(m) = message {
            param = param.with_message(m);
        }
        // The guest runs synchronously inside its store: queue, never block it.
        let _ = self.tx.send(param);
    }
}

/// Progress plumbing for one call, when the client asked for progress.
pub struct Forwarder {
    pub sink: Arc<dyn ProgressSink>,
    task: JoinHandle<()>,
}

impl Forwarder {
    pub fn start(ctx: &RequestContext<RoleServer>) -> Option<Self> {
        let token = ctx.meta.get_progress_token()?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let peer: Peer<RoleServer> = ctx.peer.clone();
        let task = tokio::spawn(async move {
            while let Some(param) = rx.recv().await {
                if let Err(e) = peer.notify_progress(param).await {
                    tracing::debug!("progress notification not delivered: {e}");
                }
            }
        });
        Some(Forwarder {
            sink: Arc::new(ChannelSink { token, tx }),
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
            tracing::debug!("progress forwarding did not drain in time");
        }
    }
}
