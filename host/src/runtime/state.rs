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

use super::ask::{Asked, Asker, Interrupted, WaitClock};
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

/// Where `host.resource-updated` goes: the clients that subscribed to the URI.
pub trait ResourceEvents: Send + Sync {
    fn updated(&self, plugin: &str, uri: &str);
}

/// The call now running in this instance.
pub struct CallScope {
    pub request_id: String,
    pub sink: Option<Arc<dyn CallSink>>,
    /// How `host.ask` reaches the call's client; `None` for requests that cannot ask.
    pub asker: Option<Arc<dyn Asker>>,
    /// Cancelled when the client cancels the request or goes away.
    pub cancelled: Option<tokio_util::sync::CancellationToken>,
    pub events: Option<Arc<dyn ResourceEvents>>,
    /// Time spent waiting for the client, left out of the call's time limit.
    pub clock: Arc<WaitClock>,
}

impl CallScope {
    /// A scope that only routes `host.progress` (and nothing else) for `request_id`.
    pub fn new(request_id: String) -> Self {
        CallScope {
            request_id,
            sink: None,
            asker: None,
            cancelled: None,
            events: None,
            clock: Arc::default(),
        }
    }

    /// The scope when `request_id` is the call in progress; the plugin may act only for itself.
    fn of<'a>(scope: &'a Option<CallScope>, request_id: &str) -> Option<&'a CallScope> {
        scope.as_ref().filter(|s| s.request_id == request_id)
    }
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
    /// Set when this run of the call stopped inside `host.ask` (the trap that ended it is not a
    /// crash).
    pub interrupted: Option<Interrupted>,
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
            interrupted: None,
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
        if let Some(sink) = CallScope::of(&self.scope, &request_id).and_then(|s| s.sink.as_ref()) {
            sink.progress(progress, total, message);
        }
    }

    async fn ask(
        &mut self,
        request_id: String,
        questions: Vec<(String, host::InputRequest)>,
        required: bool,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, host::AskError>> {
        let Some(scope) = CallScope::of(&self.scope, &request_id) else {
            return Ok(Err(host::AskError::Failed(
                "ask works only during a call, with that call's call-context.request-id".into(),
            )));
        };
        let Some(asker) = scope.asker.clone() else {
            return Ok(Err(host::AskError::Unsupported(
                "this request cannot ask the client (tool calls and prompts can)".into(),
            )));
        };
        let questions = match super::ask::questions(questions) {
            Ok(q) => q,
            Err(e) => return Ok(Err(e)),
        };
        let clock = scope.clock.clone();
        let started = clock.start();
        let asked = asker.ask(questions, required).await;
        clock.stop(started);
        let stop = match asked {
            Asked::Answered(answers) => return Ok(Ok(answers)),
            Asked::Refused(e) => return Ok(Err(e)),
            Asked::MissingCapability(c) => Interrupted::MissingCapability(c),
            Asked::Later(q) => Interrupted::Later(q),
        };
        // Ends this run of the call: the instance is dropped, and the call answers from
        // `interrupted` (the questions for the client, or the missing capability).
        self.interrupted = Some(stop.clone());
        Err(stop.into())
    }

    fn cancelled(&mut self, request_id: String) -> bool {
        CallScope::of(&self.scope, &request_id)
            .and_then(|s| s.cancelled.as_ref())
            .is_some_and(|c| c.is_cancelled())
    }

    fn resource_updated(&mut self, uri: String) {
        if let Some(events) = self.scope.as_ref().and_then(|s| s.events.as_ref()) {
            events.updated(&self.plugin.name, &uri);
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
