//! Refusals made while a call runs. The guest only sees an error code (`access-denied`); pier
//! keeps the full sentence (what was tried, the manifest line that would allow it) so it can log
//! it at once and add it to the tool error the client sees.

use std::sync::{Arc, Mutex};

/// Keeps at most this many refusals per call: a plugin retrying in a loop must not grow memory.
const MAX_KEPT: usize = 8;

/// Shared between an instance's WASI hooks (which record) and the call runner (which takes).
#[derive(Clone, Default)]
pub struct Denials(Arc<Mutex<Vec<String>>>);

impl Denials {
    /// Logs the refusal and keeps it for the current call's error text.
    pub fn record(&self, plugin: &str, refusal: impl std::fmt::Display) {
        let text = refusal.to_string();
        tracing::warn!(plugin, denied = true, "{text}");
        if let Ok(mut kept) = self.0.lock()
            && kept.len() < MAX_KEPT
            && !kept.contains(&text)
        {
            kept.push(text);
        }
    }

    /// Returns and forgets the refusals recorded since the last call.
    pub fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut kept| std::mem::take(&mut *kept))
            .unwrap_or_default()
    }
}
