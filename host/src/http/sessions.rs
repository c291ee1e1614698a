//! Streamable HTTP sessions belong to whoever created them.
//!
//! rmcp's session manager accepts any request that names a live `Mcp-Session-Id`, whoever sends
//! it; so a second token holding the first one's session id could post into that session, take
//! over its answer stream with `GET` + `Last-Event-ID`, or `DELETE` it. Here each session is
//! bound, when its `initialize` answer carries the new id, to the token digest and identity that
//! created it; every later request naming that id (POST, GET, DELETE) must come from the same
//! pair, else it gets the `404` an unknown session gets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::transport::streamable_http_server::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

/// Who created a session: the token (its digest; none when no tokens are configured) and the
/// identity (a trusted proxy's end user differs per user under one token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub token: Option<[u8; 32]>,
    pub identity: Option<String>,
}

/// Bindings kept before dead sessions are looked for and forgotten.
const PRUNE_AT: usize = 4096;

pub struct SessionOwners {
    owners: Mutex<HashMap<String, Owner>>,
    sessions: Arc<LocalSessionManager>,
}

impl SessionOwners {
    pub fn new(sessions: Arc<LocalSessionManager>) -> Self {
        SessionOwners {
            owners: Mutex::new(HashMap::new()),
            sessions,
        }
    }

    /// Whether `owner` may use session `id`: its creator may; an id never bound here is left
    /// to rmcp (which answers 404 for sessions it does not know).
    pub fn allows(&self, id: &str, owner: &Owner) -> bool {
        self.owners
            .lock()
            .map(|m| m.get(id).is_none_or(|o| o == owner))
            .unwrap_or(false)
    }

    /// Binds a session that was just created.
    pub fn bind(self: &Arc<Self>, id: &str, owner: Owner) {
        let len = match self.owners.lock() {
            Ok(mut m) => {
                m.insert(id.to_string(), owner);
                m.len()
            }
            Err(_) => return,
        };
        if len > PRUNE_AT {
            let this = self.clone();
            tokio::spawn(async move { this.prune().await });
        }
    }

    /// Forgets a session its owner deleted.
    pub fn forget(&self, id: &str) {
        if let Ok(mut m) = self.owners.lock() {
            m.remove(id);
        }
    }

    /// Drops the bindings of sessions rmcp no longer has (closed, timed out).
    async fn prune(&self) {
        let ids: Vec<String> = match self.owners.lock() {
            Ok(m) => m.keys().cloned().collect(),
            Err(_) => return,
        };
        for id in ids {
            let live = self
                .sessions
                .has_session(&Arc::from(id.as_str()))
                .await
                .unwrap_or(true);
            if !live {
                self.forget(&id);
            }
        }
    }
}
