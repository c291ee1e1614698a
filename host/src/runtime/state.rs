//! What each instance's store carries: its WASI context, its memory limiter, the plugin's
//! identity and config, and the scope of the call in progress. Also implements the `host` import.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::filesystem::WasiFilesystemView as _;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::pier::mcp::{host, types::LogLevel};
use crate::grants::Sandbox;

/// Facts about the plugin an instance belongs to; shared by all its instances.
#[derive(Debug)]
pub struct PluginIdentity {
    pub name: String,
    pub manifest_path: PathBuf,
    pub config: BTreeMap<String, String>,
}

/// Where the current call's `host.progress` and `host.log` go besides pier's own log: set by the
/// MCP layer when the client sent a progress token or asked for log messages.
pub trait CallSink: Send + Sync {
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>);
    fn log(&self, level: LogLevel, message: &str);
}

/// The call now running in this instance.
pub struct CallScope {
    pub request_id: String,
    pub sink: Option<Arc<dyn CallSink>>,
}

pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    /// Network/HTTP checks and the refusals they recorded during the current call.
    pub sandbox: Sandbox,
    pub limiter: MemoryLimiter,
    pub plugin: Arc<PluginIdentity>,
    pub scope: Option<CallScope>,
}

impl State {
    pub fn new(wasi: WasiCtx, sandbox: Sandbox, plugin: Arc<PluginIdentity>, memory: u64) -> Self {
        State {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            sandbox,
            limiter: MemoryLimiter::new(memory),
            plugin,
            scope: None,
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.sandbox.http,
        }
    }
}

/// Caps linear memory and remembers whether the cap was hit, so the error a client sees can name
/// the limit instead of reporting a bare trap.
pub struct MemoryLimiter {
    max: u64,
    pub exceeded: bool,
}

impl MemoryLimiter {
    fn new(max: u64) -> Self {
        MemoryLimiter {
            max,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.max {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million entries is far beyond any real plugin.
        Ok(desired <= 1_000_000)
    }
}

impl host::Host for State {
    fn log(&mut self, level: LogLevel, message: String) {
        // Through the same cleaning, redaction and rate as what the plugin prints.
        let tracing_level = match level {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        };
        let message = self.sandbox.output.host_log(tracing_level, &message);
        // During a call, the caller may also hear it (`logging/setLevel`).
        if let Some(sink) = self.scope.as_ref().and_then(|s| s.sink.as_ref()) {
            sink.log(level, &message);
        }
    }

    fn progress(
        &mut self,
        request_id: String,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) {
        // Only the call in progress may report, and only for itself.
        if let Some(scope) = &self.scope
            && scope.request_id == request_id
            && let Some(sink) = &scope.sink
        {
            sink.progress(progress, total, message);
        }
    }

    fn config_get(&mut self, key: String) -> Option<String> {
        self.plugin.config.get(&key).cloned()
    }

    fn config_list(&mut self) -> Vec<(String, String)> {
        self.plugin
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn plugin_name(&mut self) -> String {
        self.plugin.name.clone()
    }

    fn manifest_path(&mut self) -> String {
        self.plugin.manifest_path.display().to_string()
    }

    async fn read_directory(
        &mut self,
        path: String,
        sizes: bool,
    ) -> Result<Vec<host::DirectoryEntry>, host::DirectoryError> {
        super::directory::read(self.filesystem(), path, sizes).await
    }
}

impl super::bindings::pier::mcp::types::Host for State {}
