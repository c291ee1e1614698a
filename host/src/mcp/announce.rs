//! Tells connected clients when the tools, resources or prompts on offer change.
//!
//! The registry only publishes that its catalog changed; this is where that becomes MCP's
//! `notifications/*/list_changed`, sent to every client still connected. A change is announced
//! only if some client was sent a list since the last announcement: until one has, no client
//! can hold a stale list.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use rmcp::Peer;
use rmcp::service::RoleServer;
use tokio::sync::watch;

use super::subscriptions::Subscriptions;

pub(crate) struct Announcer {
    peers: Mutex<Vec<Peer<RoleServer>>>,
    /// Open `subscriptions/listen` streams (2026-07-28), each told what it asked to hear.
    subscriptions: Arc<Subscriptions>,
    /// Whether a client has been sent a list since the last announcement.
    listed: AtomicBool,
}

impl Announcer {
    /// Starts announcing each change `changes` tells of, for as long as the announcer is kept.
    pub fn start(
        mut changes: watch::Receiver<u64>,
        subscriptions: Arc<Subscriptions>,
    ) -> Arc<Self> {
        let announcer = Arc::new(Announcer {
            peers: Mutex::new(Vec::new()),
            subscriptions,
            listed: AtomicBool::new(false),
        });
        let weak: Weak<Announcer> = Arc::downgrade(&announcer);
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let Some(announcer) = weak.upgrade() else {
                    return;
                };
                announcer.announce().await;
            }
        });
        announcer
    }

    /// Remembers a connected client so it hears about changes.
    pub fn add_peer(&self, peer: Peer<RoleServer>) {
        if let Ok(mut peers) = self.peers.lock() {
            // HTTP sessions come and go; forget the ended ones so the list stays small.
            peers.retain(|p| !p.is_transport_closed());
            peers.push(peer);
        }
    }

    /// Records that a client was sent a tools, resources or prompts list.
    pub fn note_listed(&self) {
        self.listed.store(true, Ordering::Release);
    }

    async fn announce(&self) {
        // A listen stream asked to hear every change.
        for sink in self.subscriptions.streams() {
            use rmcp::model::{
                PromptListChangedNotification, ResourceListChangedNotification,
                ServerNotification as N, ToolListChangedNotification,
            };
            let accepted = sink.accepted().clone();
            let notes = [
                (
                    accepted.tools_list_changed,
                    N::ToolListChangedNotification(ToolListChangedNotification::default()),
                ),
                (
                    accepted.resources_list_changed,
                    N::ResourceListChangedNotification(ResourceListChangedNotification::default()),
                ),
                (
                    accepted.prompts_list_changed,
                    N::PromptListChangedNotification(PromptListChangedNotification::default()),
                ),
            ];
            for (wanted, note) in notes {
                if wanted == Some(true)
                    && let Err(e) = sink.send(note).await
                {
                    tracing::debug!("list change not delivered to a listen stream: {e}");
                }
            }
        }
        // Clients that were told re-list if they care; until one does, no list can be stale.
        if !self.listed.swap(false, Ordering::AcqRel) {
            return;
        }
        let peers: Vec<Peer<RoleServer>> = match self.peers.lock() {
            Ok(p) => p.clone(),
            Err(_) => return,
        };
        let mut lost = false;
        for peer in &peers {
            let sent = peer.notify_tool_list_changed().await.is_ok()
                && peer.notify_resource_list_changed().await.is_ok()
                && peer.notify_prompt_list_changed().await.is_ok();
            lost |= !sent;
        }
        if lost && let Ok(mut list) = self.peers.lock() {
            list.retain(|p| !p.is_transport_closed());
        }
    }
}
