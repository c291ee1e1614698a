//! Watches the plugin folder and tells the registry to rescan.
//!
//! File-system events (inotify and friends, through `notify`) make changes show up at once; a
//! scan every [`POLL`] catches what events miss (network filesystems, a watcher that could not
//! start). Events are coalesced: a scan runs once the folder has been quiet for [`QUIET`], and a
//! file modified less than `STABLE_AFTER` ago is left for the next scan, so a copy in progress
//! is not loaded half-written. Writing elsewhere and renaming into the folder is always safe.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::registry::{Registry, STABLE_AFTER};

/// The safety-net scan interval.
pub const POLL: Duration = Duration::from_secs(2);
/// How long the folder must be quiet before a scan.
const QUIET: Duration = Duration::from_millis(150);

/// Starts watching `dir` for the registry's lifetime.
pub fn watch_folder(registry: &Arc<Registry>, dir: PathBuf) {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = tx.send(());
        }
    })
    .and_then(|mut w| w.watch(&dir, RecursiveMode::NonRecursive).map(|()| w));
    let watcher = match watcher {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(
                folder = %dir.display(),
                "cannot watch the plugin folder ({e}); checking it every {}s instead",
                POLL.as_secs()
            );
            None
        }
    };
    let registry: Weak<Registry> = Arc::downgrade(registry);
    tokio::spawn(async move {
        // Keeps the watcher alive as long as this task runs.
        let _watcher = watcher;
        let mut again_soon = false;
        let mut events = true;
        loop {
            let wait = if again_soon { STABLE_AFTER } else { POLL };
            tokio::select! {
                event = rx.recv(), if events => {
                    if event.is_none() {
                        // No watcher (or it stopped): polling alone from now on.
                        events = false;
                        continue;
                    }
                    // Let a burst of events (copy, chmod, rename) settle into one scan.
                    while let Ok(Some(())) = tokio::time::timeout(QUIET, rx.recv()).await {}
                }
                _ = tokio::time::sleep(wait) => {}
            }
            let Some(registry) = registry.upgrade() else {
                return;
            };
            again_soon = registry.rescan().await;
        }
    });
}
