//! pier: an embeddable MCP host whose tools live in sandboxed WebAssembly components.
//!
//! The `pier` binary is a thin CLI over this library; embed the same host in your own program:
//!
//! ```no_run
//! # async fn run() -> Result<(), pier::HostError> {
//! let host = pier::Host::builder()
//!     .plugin_dir("/etc/pier/plugins")
//!     .build()
//!     .await?;
//! for report in host.reports() {
//!     eprintln!("{}: {:?}", report.name, report.status);
//! }
//! host.serve_stdio().await?;
//! # Ok(()) }
//! ```
//!
//! `Host::handler()` hands back the rmcp `ServerHandler` instead, to serve over any rmcp
//! transport you choose.
//!
//! The embedding API is what this file exports: [`Host`] and its builder, the manifest types,
//! plugin reports, and the settings, HTTP, access and operations modules a server needs. The
//! rooms behind it (`plugin`, `grants`, `runtime`, `mcp`) are private to the crate.

pub mod access;
pub mod client_config;
mod grammar;
mod grants;
pub mod http;
pub mod inspect;
mod mcp;
pub mod ops;
mod plugin;
pub mod policy;
mod runtime;
pub mod scaffold;
pub mod seal;
mod secrets;
pub mod settings;

use std::path::PathBuf;
use std::sync::Arc;

pub use mcp::PierHandler;
pub use plugin::manifest::{
    FileGrant, FileMode, Limits, Manifest, ManifestError, parse_duration, parse_size,
};
pub use plugin::manifest_edit;
pub use plugin::report::{json as reports_json, table as reports_table};
pub use plugin::{PluginReport, PluginStatus};
pub use policy::ToolFilter;
pub use runtime::CacheOutcome;

use plugin::{PluginSource, Registry};
use runtime::{CompileCache, Runtime};

/// Errors that stop the host as a whole. A single plugin failing is not one of them: it is
/// reported in [`Host::reports`] and the others serve.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot read the plugin folder {path}: {reason}")]
    PluginDir { path: String, reason: String },
    #[error("MCP transport failed: {0}")]
    Transport(String),
    #[error("cannot set up the request-state key: {0}")]
    StateKey(String),
    #[error("pier.toml: confirm: {0}")]
    Confirm(String),
}

/// Configures a [`Host`].
pub struct HostBuilder {
    plugin_dir: Option<PathBuf>,
    memory: Vec<PluginSource>,
    cache: Option<PathBuf>,
    identity: Option<String>,
    read_only: bool,
    confirm: Vec<String>,
    policy: policy::PluginPolicy,
    watch: bool,
    ops: ops::Operations,
}

impl HostBuilder {
    /// Loads every `NAME.wasm` in `dir`, each with its optional `NAME.toml` manifest.
    pub fn plugin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.plugin_dir = Some(dir.into());
        self
    }

    /// Adds a plugin from bytes, under `name`, with the given manifest (use
    /// [`Manifest::empty`] for no grants, or [`Manifest::parse`] for TOML text).
    pub fn plugin(mut self, name: impl Into<String>, wasm: Vec<u8>, manifest: Manifest) -> Self {
        self.memory.push(PluginSource::Memory {
            name: name.into(),
            wasm,
            manifest: Box::new(manifest),
        });
        self
    }

    /// Where compiled components are cached; `None` turns the cache off.
    /// Defaults to the per-user cache folder.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache = dir;
        self
    }

    /// The caller identity plugins see in their call context (for stdio, where no transport
    /// authenticates the caller).
    pub fn identity(mut self, identity: Option<String>) -> Self {
        self.identity = identity;
        self
    }

    /// Serve only tools annotated read-only, across all plugins: the others are not listed and
    /// calls to them are refused, saying why.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Tools (globs over exposed names) whose every call the user confirms first, whatever
    /// their plugins say (pier.toml's `confirm`).
    pub fn confirm(mut self, tools: Vec<String>) -> Self {
        self.confirm = tools;
        self
    }

    /// Which plugins may load at all (`[policy]` of pier.toml, see
    /// [`settings::Settings::plugin_policy`]). Default: any plugin in the folder.
    pub fn policy(mut self, policy: policy::PluginPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Metrics, audit log and rate limits (see [`settings::Settings::operations`]). Default:
    /// metrics only.
    pub fn operations(mut self, ops: ops::Operations) -> Self {
        self.ops = ops;
        self
    }

    /// Watch the plugin folder: new, replaced and removed files (and edited manifests) are
    /// loaded, swapped or unloaded while serving, and clients are told. Off by default.
    pub fn watch(mut self, watch: bool) -> Self {
        self.watch = watch;
        self
    }

    /// Compiles and loads every plugin, then returns. Plugins that fail are reported, not fatal.
    pub async fn build(self) -> Result<Host, HostError> {
        // Loaded means compiled: a plugin's embedded listing is not taken ahead of its code.
        let (host, registry, memory) = self.prepare(plugin::LoadFor::Compiled)?;
        registry
            .load_all(memory)
            .await
            .map_err(|e| host.dir_error(e))?;
        Ok(host)
    }

    /// Returns at once and loads plugins in the background: a client can initialize while
    /// plugins compile, and each plugin's tools are announced (`list_changed`) when it is ready.
    /// A call to a tool of a plugin still compiling waits for it.
    pub async fn start(self) -> Result<Host, HostError> {
        let (host, registry, memory) = self.prepare(plugin::LoadFor::Serving)?;
        // Fail now, not in the background, if the folder cannot be read at all.
        if let Some(dir) = registry.plugin_dir() {
            std::fs::read_dir(dir).map_err(|e| host.dir_error(e))?;
        }
        tokio::spawn(async move {
            if let Err(e) = registry.load_all(memory).await {
                tracing::error!("cannot load plugins: {e}");
            }
        });
        Ok(host)
    }

    fn prepare(
        self,
        load_for: plugin::LoadFor,
    ) -> Result<(Host, Arc<Registry>, Vec<PluginSource>), HostError> {
        let runtime = Runtime::new().map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let cache = CompileCache::new(self.cache);
        let registry = Registry::new(
            runtime,
            cache,
            self.plugin_dir.clone(),
            self.policy,
            load_for,
        );
        if self.watch
            && let Some(dir) = &self.plugin_dir
        {
            plugin::watch_folder(&registry, dir.clone());
        }
        let host = Host {
            handler: PierHandler::new(
                registry.clone(),
                self.identity,
                self.read_only,
                Arc::new(self.ops),
            )
            .map_err(HostError::StateKey)?
            .with_confirm(
                policy::ToolGlobs::new("confirm", &self.confirm).map_err(HostError::Confirm)?,
            ),
            registry: registry.clone(),
        };
        Ok((host, registry, self.memory))
    }
}

/// A running set of plugins, ready to serve MCP.
pub struct Host {
    handler: PierHandler,
    registry: Arc<Registry>,
}

impl Host {
    pub fn builder() -> HostBuilder {
        HostBuilder {
            plugin_dir: None,
            memory: Vec::new(),
            cache: CompileCache::default_dir(),
            identity: None,
            read_only: false,
            confirm: Vec::new(),
            policy: policy::PluginPolicy::default(),
            watch: false,
            ops: ops::Operations::default(),
        }
    }

    /// Loaded, compiling and failed plugins, in folder order, with live call counters.
    pub fn reports(&self) -> Vec<PluginReport> {
        self.registry.reports_now()
    }

    /// Waits until no plugin is being compiled (or `limit` passes).
    pub async fn wait_ready(&self, limit: std::time::Duration) {
        self.registry.wait_loaded(limit).await;
    }

    /// The rmcp handler, for serving over a transport of your choice.
    pub fn handler(&self) -> PierHandler {
        self.handler.clone()
    }

    fn dir_error(&self, e: std::io::Error) -> HostError {
        HostError::PluginDir {
            path: self
                .registry
                .plugin_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            reason: e.to_string(),
        }
    }

    /// Serves MCP over this process's stdin/stdout until the client disconnects. Malformed
    /// input is answered with a JSON-RPC error and the session goes on.
    pub async fn serve_stdio(self) -> Result<(), HostError> {
        let ops = self.handler.operations().clone();
        let result = mcp::stdio::serve(self.handler)
            .await
            .map_err(HostError::Transport);
        if let Some(audit) = &ops.audit {
            audit.close();
        }
        result
    }

    /// Serves MCP over Streamable HTTP at `/mcp` (with `/healthz`, `/readyz`, `/metrics`) until
    /// `shutdown` resolves. `bound` is told the address listened on (useful with port 0).
    pub async fn serve_http(
        self,
        opts: http::HttpOptions,
        bound: impl FnOnce(std::net::SocketAddr),
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), http::HttpError> {
        let ops = self.handler.operations().clone();
        let result = http::serve(self.handler, self.registry, opts, bound, shutdown).await;
        if let Some(audit) = &ops.audit {
            audit.close();
        }
        result
    }
}
