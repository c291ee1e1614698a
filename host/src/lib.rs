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

mod grants;
pub mod inspect;
mod mcp;
pub mod plugin;
mod policy;
mod runtime;

use std::path::PathBuf;
use std::sync::Arc;

pub use mcp::PierHandler;
pub use plugin::manifest::{FileGrant, FileMode, Limits, Manifest, ManifestError};
pub use plugin::{PluginReport, PluginStatus};
pub use policy::ToolFilter;
pub use runtime::CacheOutcome;

use plugin::{Catalog, PluginSource};
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
}

/// Configures a [`Host`].
pub struct HostBuilder {
    plugin_dir: Option<PathBuf>,
    memory: Vec<PluginSource>,
    cache: Option<PathBuf>,
    identity: Option<String>,
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

    /// Compiles and loads every plugin. Plugins that fail are reported, not fatal.
    pub async fn build(self) -> Result<Host, HostError> {
        let runtime = Runtime::new().map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let cache = CompileCache::new(self.cache);
        let mut sources = Vec::new();
        if let Some(dir) = &self.plugin_dir {
            sources = Catalog::scan_dir(dir).map_err(|e| HostError::PluginDir {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        sources.extend(self.memory);
        let catalog = Arc::new(Catalog::load(runtime, &cache, sources).await);
        Ok(Host {
            handler: PierHandler::new(catalog, self.identity),
        })
    }
}

/// A running set of plugins, ready to serve MCP.
pub struct Host {
    handler: PierHandler,
}

impl Host {
    pub fn builder() -> HostBuilder {
        HostBuilder {
            plugin_dir: None,
            memory: Vec::new(),
            cache: CompileCache::default_dir(),
            identity: None,
        }
    }

    /// Loaded and failed plugins, in load order.
    pub fn reports(&self) -> &[PluginReport] {
        &self.handler.catalog().reports
    }

    /// The rmcp handler, for serving over a transport of your choice.
    pub fn handler(&self) -> PierHandler {
        self.handler.clone()
    }

    /// Serves MCP over this process's stdin/stdout until the client disconnects. Malformed
    /// input is answered with a JSON-RPC error and the session goes on.
    pub async fn serve_stdio(self) -> Result<(), HostError> {
        mcp::stdio::serve(self.handler)
            .await
            .map_err(HostError::Transport)
    }
}
