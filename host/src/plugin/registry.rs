//! The live set of plugins: loaded in the background, swapped when their files change, and each
//! change published (the MCP face tells its clients; see `mcp::announce`).
//!
//! The [`Catalog`] is an immutable snapshot; the registry replaces it whole on each change. A call
//! holds the `Arc<LoadedPlugin>` it started with, so a swap never disturbs a running call: it
//! finishes on the old version, new calls go to the new one, and the old instances go away when
//! the last call using them ends. An update that fails to load leaves the old version serving.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::catalog::{Catalog, PluginSource, Slot, SlotState};
use super::loader::{LoadFor, LoadedPlugin, load_source};
use super::report::{PluginReport, PluginStatus};
use crate::policy::PluginPolicy;
use crate::runtime::{CompileCache, Runtime};

/// A file younger than this may still be being written; it is loaded on a later scan.
pub const STABLE_AFTER: Duration = Duration::from_millis(300);

/// What identifies one version of a plugin on disk: the `.wasm`, its manifest and its
/// signature file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    wasm: (u64, SystemTime),
    manifest: Option<(u64, SystemTime)>,
    signature: Option<(u64, SystemTime)>,
}

fn stat(path: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
}

fn fingerprint(wasm: &Path) -> Option<Fingerprint> {
    Some(Fingerprint {
        wasm: stat(wasm)?,
        manifest: stat(&wasm.with_extension("toml")),
        signature: stat(&super::loader::signature_path(wasm)),
    })
}

impl Fingerprint {
    /// Whether both files have been left alone for [`STABLE_AFTER`].
    fn is_settled(&self) -> bool {
        let now = SystemTime::now();
        let old = |t: SystemTime| now.duration_since(t).is_ok_and(|age| age >= STABLE_AFTER);
        old(self.wasm.1)
            && self.manifest.is_none_or(|m| old(m.1))
            && self.signature.is_none_or(|s| old(s.1))
    }
}

/// One plugin the registry knows, by where it comes from.
struct Tracked {
    /// The `.wasm` path, or `None` for a plugin handed over in memory.
    file: Option<PathBuf>,
    fingerprint: Option<Fingerprint>,
    slot: Slot<LoadedPlugin>,
}

pub(crate) struct Registry {
    runtime: Arc<Runtime>,
    cache: CompileCache,
    /// `[policy]`: which plugins may load at all.
    policy: PluginPolicy,
    /// Whether a plugin with an embedded listing is listed before it is compiled.
    load_for: LoadFor,
    dir: Option<PathBuf>,
    /// Held for the length of a load or rescan, so changes apply one at a time.
    tracked: tokio::sync::Mutex<Vec<Tracked>>,
    catalog: RwLock<Arc<Catalog<LoadedPlugin>>>,
    /// Loads in progress; calls to unknown tools wait for it to reach zero.
    loading: watch::Sender<usize>,
    /// True until the first load of the folder has finished.
    starting: watch::Sender<bool>,
    /// Counts the changes clients should hear about (a plugin's tools, resources or prompts
    /// may have come, gone or changed).
    changes: watch::Sender<u64>,
}

impl Registry {
    pub fn new(
        runtime: Arc<Runtime>,
        cache: CompileCache,
        dir: Option<PathBuf>,
        policy: PluginPolicy,
        load_for: LoadFor,
    ) -> Arc<Self> {
        Arc::new(Registry {
            runtime,
            cache,
            policy,
            load_for,
            dir,
            tracked: tokio::sync::Mutex::new(Vec::new()),
            catalog: RwLock::new(Arc::new(Catalog::assemble(&[]))),
            loading: watch::Sender::new(0),
            starting: watch::Sender::new(true),
            changes: watch::Sender::new(0),
        })
    }

    /// The current snapshot.
    pub fn catalog(&self) -> Arc<Catalog<LoadedPlugin>> {
        match self.catalog.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn plugin_dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Whether the first load of the folder has not finished yet.
    pub fn is_starting(&self) -> bool {
        *self.starting.borrow()
    }

    /// Whether any plugin is being compiled right now.
    pub fn is_loading(&self) -> bool {
        *self.loading.borrow() > 0
    }

    /// Waits until no plugin is being compiled, or `limit` passes.
    pub async fn wait_loaded(&self, limit: Duration) {
        let mut rx = self.loading.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|n| *n == 0)).await;
    }

    /// Waits until the first load of every plugin has finished, or `limit` passes.
    pub async fn wait_started(&self, limit: Duration) {
        let mut rx = self.starting.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|starting| !*starting)).await;
    }

    /// Every plugin's report, with live counters and circuit states.
    pub fn reports_now(&self) -> Vec<PluginReport> {
        let catalog = self.catalog();
        let mut reports = catalog.reports().to_vec();
        for r in &mut reports {
            if let Some(p) = catalog.plugins().iter().find(|p| p.name() == r.name)
                && matches!(r.status, PluginStatus::Loaded)
            {
                let health = p.pool.health();
                let counters = health.counters();
                r.calls = counters.calls;
                r.failures = counters.failures;
                r.circuit = Some(health.circuit());
            }
        }
        reports
    }

    /// Tells of each change that clients should hear about, from now on.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Loads the plugin folder and `extra` sources. Every plugin is listed as compiling at once;
    /// each becomes ready (and is announced) as its load finishes.
    pub async fn load_all(self: &Arc<Self>, extra: Vec<PluginSource>) -> std::io::Result<()> {
        let mut sources = match &self.dir {
            Some(dir) => match scan_dir(dir) {
                Ok(s) => s,
                Err(e) => {
                    // Nothing will load; lists must not wait for it.
                    self.starting.send_replace(false);
                    return Err(e);
                }
            },
            None => Vec::new(),
        };
        sources.extend(extra);
        let mut tracked = self.tracked.lock().await;
        if sources.is_empty() {
            self.starting.send_replace(false);
        }
        let mut pending = Vec::new();
        for source in sources {
            let (name, file) = match &source {
                PluginSource::File(p) => (stem(p), Some(p.clone())),
                PluginSource::Memory { name, .. } => (name.clone(), None),
            };
            // The watcher may have picked a file up already (it can run before this does).
            if file.is_some() && tracked.iter().any(|t| t.file == file) {
                continue;
            }
            tracked.push(Tracked {
                fingerprint: file.as_deref().and_then(fingerprint),
                slot: Slot {
                    name,
                    file: file.clone(),
                    state: SlotState::Compiling,
                    note: None,
                },
                file,
            });
            pending.push((tracked.len() - 1, source));
        }
        self.loading.send_modify(|n| *n += pending.len());
        self.publish(&tracked);
        for (i, source) in pending.into_iter() {
            let slot = load_source(
                self.runtime.clone(),
                &self.cache,
                &self.policy,
                source,
                self.load_for,
            )
            .await;
            tracked[i].slot = slot;
            self.publish(&tracked);
            self.loading.send_modify(|n| *n = n.saturating_sub(1));
            self.announce();
        }
        self.starting.send_replace(false);
        Ok(())
    }

    /// Compares the folder with what is loaded: loads new files, swaps changed ones, unloads
    /// removed ones. Returns true if a file was still too fresh to load (scan again soon).
    pub async fn rescan(self: &Arc<Self>) -> bool {
        let Some(dir) = self.dir.clone() else {
            return false;
        };
        let files: Vec<PathBuf> = match super::folder::components(&dir) {
            Ok(files) => files,
            Err(e) => {
                tracing::warn!(folder = %dir.display(), "cannot scan the plugin folder: {e}");
                return false;
            }
        };
        let mut tracked = self.tracked.lock().await;
        let mut changed = false;
        let mut unsettled = false;

        let before = tracked.len();
        tracked.retain(|t| match &t.file {
            Some(f) => files.contains(f),
            None => true,
        });
        if tracked.len() != before {
            tracing::info!("plugin file removed; unloaded");
            // A plugin refused because its name was taken is still loaded (collisions are
            // decided when the snapshot is assembled), so it takes the freed names now.
            changed = true;
        }

        for file in files {
            let Some(print) = fingerprint(&file) else {
                continue;
            };
            let known = tracked.iter().position(|t| t.file.as_ref() == Some(&file));
            if let Some(i) = known
                && tracked[i].fingerprint.as_ref() == Some(&print)
            {
                continue;
            }
            if !print.is_settled() {
                unsettled = true;
                continue;
            }
            let index = match known {
                Some(i) => i,
                None => {
                    tracked.push(Tracked {
                        file: Some(file.clone()),
                        fingerprint: None,
                        slot: Slot {
                            name: stem(&file),
                            file: Some(file.clone()),
                            state: SlotState::Compiling,
                            note: None,
                        },
                    });
                    // Appended, not sorted in: on a name collision the plugin already serving
                    // keeps its names and the newcomer is the one that fails.
                    self.publish(&tracked);
                    tracked.len() - 1
                }
            };
            tracing::info!(file = %file.display(), "plugin file changed; loading");
            self.loading.send_modify(|n| *n += 1);
            // An update of a plugin that is serving is compiled before it is swapped in, embedded
            // listing or not: the old version serves meanwhile, and stays if the new one fails.
            let load_for = match tracked[index].slot.state {
                SlotState::Ready(_) => LoadFor::Compiled,
                _ => self.load_for,
            };
            let new = load_source(
                self.runtime.clone(),
                &self.cache,
                &self.policy,
                PluginSource::File(file.clone()),
                load_for,
            )
            .await;
            self.loading.send_modify(|n| *n = n.saturating_sub(1));
            let entry = &mut tracked[index];
            entry.fingerprint = Some(print);
            entry.slot = match (new.state, &entry.slot.state) {
                (SlotState::Failed(reason), SlotState::Ready(old)) => {
                    tracing::warn!(
                        plugin = %old.name(),
                        "update not applied, still serving the previous version: {reason}"
                    );
                    Slot {
                        name: entry.slot.name.clone(),
                        file: entry.slot.file.clone(),
                        state: SlotState::Ready(old.clone()),
                        note: Some(format!(
                            "an update failed to load and was not applied (still serving the previous version): {reason}"
                        )),
                    }
                }
                (state, _) => Slot { state, ..new },
            };
            changed = true;
        }
        if changed {
            self.publish(&tracked);
            self.announce();
        }
        unsettled
    }

    fn publish(&self, tracked: &[Tracked]) {
        let slots: Vec<&Slot<LoadedPlugin>> = tracked.iter().map(|t| &t.slot).collect();
        let catalog = Arc::new(Catalog::assemble(&slots));
        match self.catalog.write() {
            Ok(mut c) => *c = catalog,
            Err(poisoned) => *poisoned.into_inner() = catalog,
        }
    }

    /// Publishes that the catalog changed in a way clients should hear about.
    fn announce(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Lists `*.wasm` in `dir` (sorted, so loading order and collision messages are stable).
fn scan_dir(dir: &Path) -> std::io::Result<Vec<PluginSource>> {
    let files = super::folder::components(dir)?;
    Ok(files.into_iter().map(PluginSource::File).collect())
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
