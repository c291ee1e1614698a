//! The set of loaded plugins and the maps from exposed names to them.
//!
//! A plugin that fails to load is recorded with its reason and skipped; the others serve. Name
//! collisions (two plugins with one name, or two exposed tools with one name) fail the later
//! plugin with a message naming both.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::loader::{LoadError, LoadedPlugin};
use super::manifest::{Manifest, ManifestError};
use crate::runtime::{CompileCache, Runtime};

/// Where a plugin comes from.
pub enum PluginSource {
    /// `NAME.wasm` with an optional `NAME.toml` beside it.
    File(PathBuf),
    /// Bytes handed over by an embedding program, with the manifest to apply.
    Memory {
        name: String,
        wasm: Vec<u8>,
        manifest: Box<Manifest>,
    },
}

#[derive(Debug, Clone)]
pub enum PluginStatus {
    Loaded,
    /// Being compiled in the background; its tools appear when it is ready.
    Compiling,
    Failed(String),
}

/// What `pier plugins` prints, and what `serve` logs at start.
#[derive(Debug, Clone)]
pub struct PluginReport {
    pub name: String,
    pub file: Option<PathBuf>,
    pub status: PluginStatus,
    pub tools: Vec<String>,
    pub grants: Vec<String>,
    pub notes: Vec<String>,
    /// Whether the compiled code came from the cache (loaded plugins only).
    pub cache: Option<crate::runtime::CacheOutcome>,
    /// SHA-256 of the `.wasm` (loaded plugins only), for `[plugin].sha256` pins.
    pub sha256: Option<String>,
    /// Calls served and calls that crashed or timed out, since the plugin was loaded.
    pub calls: u64,
    pub failures: u64,
    /// The circuit breaker: `closed`, `half-open`, or `open (retry in N s)`.
    pub circuit: Option<String>,
}

impl PluginReport {
    /// The report of a plugin with no loaded code (compiling or failed): no tools, no counters.
    fn unloaded(name: String, file: Option<PathBuf>, status: PluginStatus) -> Self {
        PluginReport {
            name,
            file,
            status,
            tools: Vec::new(),
            grants: Vec::new(),
            notes: Vec::new(),
            cache: None,
            sha256: None,
            calls: 0,
            failures: 0,
            circuit: None,
        }
    }
}

/// One plugin's place in the catalog, in folder order, before names are checked.
pub struct Slot {
    pub name: String,
    pub file: Option<PathBuf>,
    pub state: SlotState,
    /// Shown in reports, e.g. why an update was not applied.
    pub note: Option<String>,
}

pub enum SlotState {
    Ready(Arc<LoadedPlugin>),
    Compiling,
    Failed(String),
}

/// Where an exposed name leads.
#[derive(Debug, Clone)]
pub struct Route {
    pub plugin: usize,
    pub name: String,
}

pub struct Catalog {
    pub plugins: Vec<Arc<LoadedPlugin>>,
    pub reports: Vec<PluginReport>,
    tools: HashMap<String, Route>,
    prompts: HashMap<String, Route>,
    /// Exposed names hidden by a manifest's `[tools]`, so a call can say why it is refused.
    denied: HashMap<String, PathBuf>,
}

impl Catalog {
    /// Lists `*.wasm` in `dir` (sorted, so loading order and collision messages are stable).
    pub fn scan_dir(dir: &Path) -> std::io::Result<Vec<PluginSource>> {
        let files = super::folder::components(dir)?;
        Ok(files.into_iter().map(PluginSource::File).collect())
    }

    /// Builds the name maps from slots in order; collisions fail the later plugin.
    pub fn assemble(slots: &[&Slot]) -> Self {
        let mut catalog = Catalog {
            plugins: Vec::new(),
            reports: Vec::new(),
            tools: HashMap::new(),
            prompts: HashMap::new(),
            denied: HashMap::new(),
        };
        for slot in slots {
            match &slot.state {
                SlotState::Ready(plugin) => catalog.add(plugin.clone(), slot.file.clone()),
                SlotState::Failed(reason) => {
                    catalog.fail(slot.name.clone(), slot.file.clone(), reason.clone())
                }
                SlotState::Compiling => catalog.reports.push(PluginReport::unloaded(
                    slot.name.clone(),
                    slot.file.clone(),
                    PluginStatus::Compiling,
                )),
            }
            if let (Some(note), Some(report)) = (&slot.note, catalog.reports.last_mut()) {
                report.notes.push(note.clone());
            }
        }
        catalog
    }

    /// The reports with live counters and circuit states.
    pub fn reports_now(&self) -> Vec<PluginReport> {
        let mut reports = self.reports.clone();
        for r in &mut reports {
            if let Some(p) = self.plugins.iter().find(|p| p.name == r.name)
                && matches!(r.status, PluginStatus::Loaded)
            {
                r.calls = p.calls.load(std::sync::atomic::Ordering::Relaxed);
                r.failures = p.failures.load(std::sync::atomic::Ordering::Relaxed);
                r.circuit = Some(match p.breaker_state() {
                    super::BreakerState::Closed => "closed".into(),
                    super::BreakerState::HalfOpen => "half-open".into(),
                    super::BreakerState::Open { retry_in } => {
                        format!("open (retry in {} s)", retry_in.as_secs_f64().ceil())
                    }
                });
            }
        }
        reports
    }

    fn fail(&mut self, name: String, file: Option<PathBuf>, reason: String) {
        self.reports.push(PluginReport::unloaded(
            name,
            file,
            PluginStatus::Failed(reason),
        ));
    }

    fn add(&mut self, plugin: Arc<LoadedPlugin>, file: Option<PathBuf>) {
        let owner_of = |route: &Route, plugins: &[Arc<LoadedPlugin>]| {
            plugins
                .get(route.plugin)
                .map(|p| p.name.clone())
                .unwrap_or_default()
        };
        if let Some(other) = self.plugins.iter().find(|p| p.name == plugin.name) {
            let other_file = self
                .reports
                .iter()
                .find(|r| r.name == other.name)
                .and_then(|r| r.file.clone());
            let reason = format!(
                "plugin name `{}` is already taken by {}; give one of them another [plugin].name",
                plugin.name,
                other_file.map_or_else(
                    || "an embedded plugin".to_string(),
                    |f| f.display().to_string()
                )
            );
            return self.fail(plugin.name.clone(), file, reason);
        }
        for t in &plugin.tools {
            if let Some(route) = self.tools.get(&t.exposed) {
                let reason = format!(
                    "tool `{}` collides with the same name from plugin `{}`; rename one plugin with [plugin].name or deny the tool with [tools].deny",
                    t.exposed,
                    owner_of(route, &self.plugins)
                );
                return self.fail(plugin.name.clone(), file, reason);
            }
        }
        let index = self.plugins.len();
        for t in &plugin.tools {
            self.tools.insert(
                t.exposed.clone(),
                Route {
                    plugin: index,
                    name: t.tool.clone(),
                },
            );
        }
        for d in &plugin.denied_tools {
            self.denied.insert(
                format!("{}_{}", plugin.name, d),
                plugin.manifest.path.clone(),
            );
        }
        for (local, p) in &plugin.prompts {
            self.prompts.entry(p.name.clone()).or_insert(Route {
                plugin: index,
                name: local.clone(),
            });
        }
        let mut notes = plugin.problems.clone();
        if !plugin.denied_tools.is_empty() {
            notes.push(format!(
                "hidden by [tools]: {}",
                plugin.denied_tools.join(", ")
            ));
        }
        self.reports.push(PluginReport {
            name: plugin.name.clone(),
            file,
            status: PluginStatus::Loaded,
            tools: plugin.tools.iter().map(|t| t.exposed.clone()).collect(),
            grants: describe_grants(&plugin.manifest),
            notes,
            cache: Some(plugin.cache),
            sha256: Some(plugin.digest.clone()),
            calls: 0,
            failures: 0,
            circuit: None,
        });
        self.plugins.push(plugin);
    }

    pub fn tool(&self, exposed: &str) -> Option<(&Arc<LoadedPlugin>, &str)> {
        let route = self.tools.get(exposed)?;
        Some((self.plugins.get(route.plugin)?, route.name.as_str()))
    }

    pub fn prompt(&self, exposed: &str) -> Option<(&Arc<LoadedPlugin>, &str)> {
        let route = self.prompts.get(exposed)?;
        Some((self.plugins.get(route.plugin)?, route.name.as_str()))
    }

    /// The manifest that hides `exposed`, if a `[tools]` filter does.
    pub fn denied_by(&self, exposed: &str) -> Option<&Path> {
        self.denied.get(exposed).map(|p| p.as_path())
    }

    pub fn all_tools(&self) -> Vec<rmcp::model::Tool> {
        self.plugins
            .iter()
            .flat_map(|p| p.tools.iter().map(|t| t.definition.clone()))
            .collect()
    }

    pub fn all_prompts(&self) -> Vec<rmcp::model::Prompt> {
        self.plugins
            .iter()
            .flat_map(|p| p.prompts.iter().map(|(_, def)| def.clone()))
            .collect()
    }
}

/// Loads one source into a slot (ready or failed), logging the outcome.
pub async fn load_source(
    runtime: Arc<Runtime>,
    cache: &CompileCache,
    source: PluginSource,
) -> Slot {
    let (name, file, loaded) = match source {
        PluginSource::File(path) => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let result = load_file(runtime, cache, &path, &stem).await;
            (stem, Some(path), result)
        }
        PluginSource::Memory {
            name,
            wasm,
            manifest,
        } => {
            let r = LoadedPlugin::load(runtime, cache, name.clone(), wasm, *manifest).await;
            (name, None, r)
        }
    };
    let state = match loaded {
        Ok(plugin) => {
            tracing::info!(
                plugin = %plugin.name,
                tools = plugin.tools.len(),
                cache = ?plugin.cache,
                "loaded"
            );
            SlotState::Ready(Arc::new(plugin))
        }
        Err(e) => {
            tracing::error!(plugin = %name, file = ?file, "not loaded: {e}");
            SlotState::Failed(e.to_string())
        }
    };
    Slot {
        name,
        file,
        state,
        note: None,
    }
}

async fn load_file(
    runtime: Arc<Runtime>,
    cache: &CompileCache,
    path: &Path,
    stem: &str,
) -> Result<LoadedPlugin, LoadError> {
    let manifest_path = path.with_extension("toml");
    let manifest = match super::folder::manifest_text(&manifest_path) {
        Ok(Some(text)) => {
            let base = manifest_path.parent().unwrap_or(Path::new("."));
            Manifest::parse(&text, &manifest_path, base)?
        }
        Ok(None) => Manifest::empty(manifest_path),
        Err(message) => {
            return Err(ManifestError {
                path: manifest_path.display().to_string(),
                message,
            }
            .into());
        }
    };
    let file = path.to_path_buf();
    let wasm = tokio::task::spawn_blocking(move || super::folder::read_component(&file))
        .await
        .map_err(|e| LoadError::Read(e.to_string()))?
        .map_err(LoadError::Read)?;
    let name = manifest.name.clone().unwrap_or_else(|| stem.to_string());
    LoadedPlugin::load(runtime, cache, name, wasm, manifest).await
}

/// One line per grant, in manifest syntax, for reports.
pub fn describe_grants(m: &Manifest) -> Vec<String> {
    let mut out: Vec<String> = m
        .files
        .iter()
        .map(|f| {
            if f.host.to_string_lossy() == f.guest {
                format!("files {} ({})", f.guest, f.mode.as_str())
            } else {
                format!(
                    "files {} as {} ({})",
                    f.host.display(),
                    f.guest,
                    f.mode.as_str()
                )
            }
        })
        .collect();
    out.extend(m.env.iter().map(|e| format!("env {e}")));
    out.extend(m.network.iter().map(|g| format!("network {}", g.text)));
    if m.block_private && !m.network.is_empty() {
        out.push("block_private".to_string());
    }
    out.extend(m.http.iter().map(|g| format!("http {}", g.text)));
    out
}
