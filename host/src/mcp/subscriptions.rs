//! Who hears of a resource's changes: sessions that sent `resources/subscribe` (2025-11-25), and
//! open `subscriptions/listen` streams (2026-07-28), whose own filter names the URIs and list
//! changes they want. A plugin announces a change with `host.resource-updated`; pier sends
//! `notifications/resources/updated` to each subscriber of that URI.

use std::sync::Mutex;

use rmcp::model::{
    ResourceUpdatedNotification, ResourceUpdatedNotificationParam, ServerNotification,
};
use rmcp::service::{Peer, RoleServer, SubscriptionSink};

use crate::runtime::ResourceEvents;

struct Subscriber {
    /// The session (see `PierHandler::for_session`).
    session: u64,
    uri: String,
    peer: Peer<RoleServer>,
}

/// The most URIs one session may be subscribed to; later subscriptions are refused.
pub const MAX_PER_SESSION: usize = 1000;

#[derive(Default)]
pub(crate) struct Subscriptions {
    sessions: Mutex<Vec<Subscriber>>,
    streams: Mutex<Vec<SubscriptionSink>>,
}

impl Subscriptions {
    /// False when the session already holds [`MAX_PER_SESSION`] subscriptions.
    pub fn subscribe(&self, session: u64, uri: &str, peer: Peer<RoleServer>) -> bool {
        let Ok(mut list) = self.sessions.lock() else {
            return false;
        };
        list.retain(|s| !s.peer.is_transport_closed());
        if list.iter().any(|s| s.session == session && s.uri == uri) {
            return true;
        }
        if list.iter().filter(|s| s.session == session).count() >= MAX_PER_SESSION {
            return false;
        }
        list.push(Subscriber {
            session,
            uri: uri.to_string(),
            peer,
        });
        true
    }

    pub fn unsubscribe(&self, session: u64, uri: &str) {
        if let Ok(mut list) = self.sessions.lock() {
            list.retain(|s| !(s.session == session && s.uri == uri));
        }
    }

    /// Adds an open listen stream; it is dropped once closed.
    pub fn listen(&self, sink: SubscriptionSink) {
        if let Ok(mut list) = self.streams.lock() {
            list.push(sink);
        }
    }

    pub fn end_listen(&self, id: &rmcp::model::RequestId) {
        if let Ok(mut list) = self.streams.lock() {
            list.retain(|s| s.id() != id);
        }
    }

    /// The open listen streams, for list-change announcements.
    pub fn streams(&self) -> Vec<SubscriptionSink> {
        self.streams.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn subscribers_of(&self, uri: &str) -> (Vec<Peer<RoleServer>>, Vec<SubscriptionSink>) {
        let peers = self
            .sessions
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|s| s.uri == uri)
                    .map(|s| s.peer.clone())
                    .collect()
            })
            .unwrap_or_default();
        let streams = self
            .streams
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|s| {
                        s.accepted()
                            .resource_subscriptions
                            .as_ref()
                            .is_some_and(|u| u.iter().any(|x| x == uri))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        (peers, streams)
    }
}

impl ResourceEvents for Subscriptions {
    fn updated(&self, plugin: &str, uri: &str) {
        let (peers, streams) = self.subscribers_of(uri);
        if peers.is_empty() && streams.is_empty() {
            return;
        }
        tracing::debug!(plugin, uri, "resource updated");
        let uri = uri.to_string();
        // Called from inside the plugin's call: send without making the plugin wait.
        tokio::spawn(async move {
            let param = ResourceUpdatedNotificationParam::new(uri);
            for peer in peers {
                if let Err(e) = peer.notify_resource_updated(param.clone()).await {
                    tracing::debug!("resources/updated not delivered: {e}");
                }
            }
            for sink in streams {
                let note = ServerNotification::ResourceUpdatedNotification(
                    ResourceUpdatedNotification::new(param.clone()),
                );
                if let Err(e) = sink.send(note).await {
                    tracing::debug!("resources/updated not delivered to a listen stream: {e}");
                }
            }
        });
    }
}
