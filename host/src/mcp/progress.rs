//! Forwards `host.progress` from a plugin to the client as `notifications/progress`.

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RoleServer};

use crate::runtime::ProgressSink;

pub struct PeerProgress {
    pub peer: Peer<RoleServer>,
    pub token: ProgressToken,
}

impl ProgressSink for PeerProgress {
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        let mut param = ProgressNotificationParam::new(self.token.clone(), progress);
        if let Some(t) = total {
            param = param.with_total(t);
        }
        if let Some(m) = message {
            param = param.with_message(m);
        }
        let peer = self.peer.clone();
        // The guest is running synchronously inside its store; sending must not block it.
        tokio::spawn(async move {
            if let Err(e) = peer.notify_progress(param).await {
                tracing::debug!("progress notification not delivered: {e}");
            }
        });
    }
}
