//! Turning a `.wasm` and its manifest into a ready plugin: verify the pin, compile (or load from
//! the cache), check the imports pier can satisfy and the exports pier needs, then ask the plugin
//! for its tools, templates and prompts once.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use wasmtime::component::InstancePre;

use super::breaker::{Breaker, BreakerState};
use super::instance::{Instance, Op, OpResult};
use super::manifest::{FileMode, Manifest};
use super::valid_exposed_name;
use crate::grants::PluginGrants;
use crate::mcp::convert;
use crate::runtime::bindings::exports::pier::mcp::{completions, prompts, resources, tools};
use crate::runtime::bindings::pier::mcp::types::ResourceTemplate;
use crate::runtime::{CacheOutcome, CompileCache, PluginIdentity, Runtime, State};

/// A plugin that failed to load, with the reason the user needs to fix it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Manifest(#[from] super::manifest::ManifestError),
    #[error(
        "sha256 mismatch: {manifest} pins {pinned} but the file's digest is {actual}; if you trust the new binary, set [plugin].sha256 to the new digest"
    )]
    PinMismatch {
        manifest: String,
        pinned: String,
        actual: String,
    },
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// The component file itself could not be read (see `folder`).
    #[error("{0}")]
    Read(String),
    #[error("cannot link: {0} (pier provides WASI 0.2 and pier:mcp/host@0.1.0)")]
    Link(String),
    #[error(
        "does not export pier:mcp/tools@0.1.0; build it against the WIT contract in wit/ (see docs/plugin-guide.md)"
    )]
    NoToolsExport,
    #[error("{0}")]
    Start(String),
    #[error("invalid plugin name: {0}")]
    Name(String),
}

/// An exposed tool: its full name, the plugin's own name for it, and its MCP definition.
#[derive(Debug, Clone)]
pub struct ExposedTool {
    pub exposed: String,
    pub tool: String,
    pub definition: rmcp::model::Tool,
}

pub(super) struct Exports {
    pub tools: tools::GuestIndices,
    pub resources: Option<resources::GuestIndices>,
    pub prompts: Option<prompts::GuestIndices>,
    pub completions: Option<completions::GuestIndices>,
}

/// A loaded plugin, ready to serve.
pub struct LoadedPlugin {
    pub name: String,
    pub manifest: Manifest,
    pub digest: String,
    pub cache: CacheOutcome,
    /// Tools the manifest allows, with exposed names.
    pub tools: Vec<ExposedTool>,
    /// Tools hidden by `[tools]` (un-prefixed names).
    pub denied_tools: Vec<String>,
    /// Tools skipped because their definition is unusable, with the reason.
    pub problems: Vec<String>,
    pub templates: Vec<ResourceTemplate>,
    /// Prompts as (the plugin's own name, MCP definition under the exposed name).
    pub prompts: Vec<(String, rmcp::model::Prompt)>,
    pub(super) runtime: Arc<Runtime>,
    pub(super) pre: InstancePre<State>,
    pub(super) exports: Exports,
    pub(super) identity: Arc<PluginIdentity>,
    pub(super) idle: Mutex<Vec<Instance>>,
    pub(super) permits: Arc<Semaphore>,
    /// Calls waiting for a permit; bounded by `[limits].queue`.
    pub(super) waiting: AtomicU32,
    pub(super) grants: PluginGrants,
    pub(super) breaker: Breaker,
    /// Calls served and calls that crashed, since load.
    pub calls: AtomicU64,
    pub failures: AtomicU64,
    /// Sandbox refusals recorded during calls, since load.
    pub denials: AtomicU64,
}

/// A plugin's live load, for `/metrics`.
pub struct PluginLoad {
    pub busy: u64,
    pub idle: u64,
    pub waiting: u64,
    pub denials: u64,
    pub crashes: u64,
}

impl LoadedPlugin {
    /// Whether the circuit breaker is letting calls through.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Instances running and idle, calls waiting, refusals and crashes, read now.
    pub fn load_now(&self) -> PluginLoad {
        let limit = self.manifest.limits.instances as usize;
        PluginLoad {
            busy: limit.saturating_sub(self.permits.available_permits()) as u64,
            idle: self.idle.lock().map(|v| v.len()).unwrap_or(0) as u64,
            waiting: u64::from(self.waiting.load(Ordering::Relaxed)),
            denials: self.denials.load(Ordering::Relaxed),
            crashes: self.failures.load(Ordering::Relaxed),
        }
    }

    pub fn has_resources(&self) -> bool {
        self.exports.resources.is_some()
    }

    pub fn has_prompts(&self) -> bool {
        self.exports.prompts.is_some()
    }

    pub fn has_completions(&self) -> bool {
        self.exports.completions.is_some()
    }

    /// Loads `wasm` as plugin `name` under `manifest`.
    pub async fn load(
        runtime: Arc<Runtime>,
        cache: &CompileCache,
        name: String,
        wasm: Vec<u8>,
        manifest: Manifest,
    ) -> Result<Self, LoadError> {
        super::manifest::validate_plugin_name(&name).map_err(LoadError::Name)?;
        let digest = hex::encode(Sha256::digest(&wasm));
        if let Some(pinned) = &manifest.sha256
            && *pinned != digest
        {
            return Err(LoadError::PinMismatch {
                manifest: manifest.path.display().to_string(),
                pinned: pinned.clone(),
                actual: digest,
            });
        }

        for grant in &manifest.files {
            if grant.mode == FileMode::ReadWrite && grant.host.parent().is_none() {
                tracing::warn!(
                    plugin = %name,
                    "{} grants {} read-write: the plugin may change any file pier itself may; grant the folders it needs instead",
                    manifest.path.display(),
                    grant.host.display()
                );
            }
        }

        // Compilation is CPU-bound; keep it off the async workers.
        let (component, outcome) = {
            let engine = runtime.engine.clone();
            let cache = cache.clone();
            let digest = digest.clone();
            tokio::task::spawn_blocking(move || cache.load_or_compile(&engine, &wasm, &digest))
                .await
                .map_err(|e| LoadError::Compile(e.to_string()))?
                .map_err(|e| LoadError::Compile(one_line(&format!("{e:#}"))))?
        };

        let pre = runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(one_line(&format!("{e:#}"))))?;
        let exports = Exports {
            tools: tools::GuestIndices::new(&pre).map_err(|_| LoadError::NoToolsExport)?,
            resources: resources::GuestIndices::new(&pre).ok(),
            prompts: prompts::GuestIndices::new(&pre).ok(),
            completions: completions::GuestIndices::new(&pre).ok(),
        };
        let identity = Arc::new(PluginIdentity {
            name: name.clone(),
            manifest_path: manifest.path.clone(),
            config: manifest.config.clone(),
        });
        let mut plugin = LoadedPlugin {
            permits: Arc::new(Semaphore::new(manifest.limits.instances as usize)),
            waiting: AtomicU32::new(0),
            grants: PluginGrants::new(&name, &manifest),
            breaker: Breaker::new(
                manifest.limits.failures,
                manifest.limits.failure_window,
                manifest.limits.cooldown,
            ),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            denials: AtomicU64::new(0),
            name,
            manifest,
            digest,
            cache: outcome,
            tools: Vec::new(),
            denied_tools: Vec::new(),
            problems: Vec::new(),
            templates: Vec::new(),
            prompts: Vec::new(),
            runtime,
            pre,
            exports,
            identity,
            idle: Mutex::new(Vec::new()),
        };
        plugin.describe().await?;
        Ok(plugin)
    }

    /// Asks the plugin for its tools, templates and prompts, and validates them.
    async fn describe(&mut self) -> Result<(), LoadError> {
        let start = |e: super::CallError| LoadError::Start(e.to_string());
        let OpResult::Tools(tools) = self.run(Op::ListTools, None).await.map_err(start)? else {
            return Err(LoadError::Start("list-tools gave no answer".into()));
        };
        for tool in tools {
            let exposed = format!("{}_{}", self.name, tool.name);
            if !valid_exposed_name(&exposed) {
                self.problems.push(format!(
                    "tool {:?} skipped: `{exposed}` does not match ^[a-zA-Z0-9_-]{{1,64}}$",
                    tool.name
                ));
                continue;
            }
            if !self.manifest.tools.permits(&tool.name) {
                self.denied_tools.push(tool.name.clone());
                continue;
            }
            if self.tools.iter().any(|t| t.exposed == exposed) {
                self.problems
                    .push(format!("tool {:?} skipped: listed twice", tool.name));
                continue;
            }
            match convert::tool(&exposed, &tool) {
                Ok(definition) => self.tools.push(ExposedTool {
                    exposed,
                    tool: tool.name,
                    definition,
                }),
                Err(reason) => self
                    .problems
                    .push(format!("tool {:?} skipped: {reason}", tool.name)),
            }
        }
        if self.has_resources()
            && let OpResult::Templates(t) =
                self.run(Op::ListTemplates, None).await.map_err(start)?
        {
            self.templates = t;
        }
        if self.has_prompts()
            && let OpResult::Prompts(p) = self.run(Op::ListPrompts, None).await.map_err(start)?
        {
            for prompt in p {
                let exposed = format!("{}_{}", self.name, prompt.name);
                if valid_exposed_name(&exposed) {
                    self.prompts
                        .push((prompt.name.clone(), convert::prompt(&exposed, &prompt)));
                } else {
                    self.problems
                        .push(format!("prompt {:?} skipped: bad name", prompt.name));
                }
            }
        }
        for p in &self.problems {
            tracing::warn!(plugin = %self.name, "{p}");
        }
        Ok(())
    }
}

/// wasmtime's messages can span lines (byte dumps); reports and logs want one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
