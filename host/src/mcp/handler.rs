//! One `ServerHandler` for every plugin: tools, resources and prompts are routed by name (or URI)
//! to the plugin that offers them.

// `logging/setLevel` is deprecated by MCP 2026-07-28 (SEP-2577); clients on earlier versions use it.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    CompletionInfo, ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    Implementation, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, LoggingLevel, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Reference, ServerCapabilities, ServerConfig,
    SetLevelRequestParams,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler};
use tracing::Instrument;

use super::convert;
use super::notifications::Forwarder;
use crate::access::Caller;
use crate::ops::{AuditEntry, Operations, Outcome};
use crate::plugin::{CallError, Catalog, LoadedPlugin, Op, OpResult, Registry, result_size};
use crate::runtime::CallScope;
use crate::runtime::bindings::exports::pier::mcp::completions::CompletionTarget;
use crate::runtime::bindings::pier::mcp::types::{CallContext, Error as WitError};

/// How long a list request waits for plugins still compiling at start before answering with the
/// ones that are ready (the rest are announced with `list_changed`). `initialize` never waits.
/// Many clients list once and ignore `list_changed`, so the first list waits for the first
/// load (milliseconds warm, a second or two cold, longer on a loaded machine); only a start
/// slower than this answers with a partial list.
const FIRST_LIST_WAIT: Duration = Duration::from_secs(30);
/// How long a call to a tool that is not (yet) known waits for plugins being compiled.
const CALL_WAIT: Duration = Duration::from_secs(120);

/// The rmcp handler for the live set of plugins. Cheap to clone; every transport gets one.
#[derive(Clone)]
pub struct PierHandler {
    registry: Arc<Registry>,
    identity: Option<String>,
    ops: Arc<Operations>,
    /// The level the session's client asked for with `logging/setLevel`: plugin logs at or above
    /// it reach the client during its calls. One per session (see [`PierHandler::for_session`]).
    log_level: Arc<std::sync::Mutex<Option<LoggingLevel>>>,
}

/// What is known about a tool call when it ends, for metrics and the audit line.
struct Finished<'a> {
    caller: &'a Caller,
    name: &'a str,
    route: Option<(&'a str, &'a str)>,
    arguments: Option<&'a serde_json::Map<String, serde_json::Value>>,
    outcome: Outcome,
    result_bytes: u64,
}

impl PierHandler {
    pub fn new(registry: Arc<Registry>, identity: Option<String>, ops: Arc<Operations>) -> Self {
        PierHandler {
            registry,
            identity,
            ops,
            log_level: Arc::default(),
        }
    }

    /// A handler for a new session: shares everything but the session's own state (its log
    /// level).
    pub fn for_session(&self) -> Self {
        PierHandler {
            log_level: Arc::default(),
            ..self.clone()
        }
    }

    fn log_level(&self) -> Option<LoggingLevel> {
        self.log_level.lock().ok().and_then(|l| *l)
    }

    pub fn operations(&self) -> &Arc<Operations> {
        &self.ops
    }

    /// The caller the transport authenticated (HTTP puts a [`Caller`] in the request's
    /// extensions), else the configured identity with no scope limits (stdio).
    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Caller {
        http_parts(ctx)
            .and_then(|p| p.extensions.get::<Caller>())
            .cloned()
            .unwrap_or_else(|| Caller {
                identity: self.identity.clone(),
                scopes: None,
            })
    }

    /// Counts and audits a finished (or refused) tool call.
    fn finish(&self, ctx: &RequestContext<RoleServer>, started: Instant, f: Finished<'_>) {
        let took = started.elapsed();
        self.ops.metrics.call(f.route, f.outcome, took);
        if let Some(audit) = &self.ops.audit {
            audit.record(&AuditEntry {
                identity: f.caller.label(),
                tool: f.name,
                plugin: f.route.map(|r| r.0),
                request_id: &request_id(ctx),
                session: session_id(ctx),
                arguments: f.arguments,
                duration: took,
                outcome: f.outcome.as_str(),
                result_bytes: f.result_bytes as usize,
            });
        }
    }

    /// The current catalog or, when it lacks what was asked for (`has` says no) while plugins are
    /// still compiling, the catalog once they have loaded: a client that calls right after
    /// `initialize` must not be told a plugin's tool or prompt is unknown because it is compiling.
    async fn catalog_with(&self, has: impl Fn(&Catalog) -> bool) -> Arc<Catalog> {
        let catalog = self.catalog();
        if has(&catalog) || !(self.registry.is_loading() || self.registry.is_starting()) {
            return catalog;
        }
        // `starting` covers the moment before the background load has counted what it will
        // load: a call that arrives right after `initialize` must not find an empty catalog.
        self.registry.wait_started(CALL_WAIT).await;
        self.registry.wait_loaded(CALL_WAIT).await;
        self.catalog()
    }

    /// The current set of plugins (a snapshot: it is replaced, never changed, on reload).
    pub fn catalog(&self) -> Arc<Catalog> {
        self.registry.catalog()
    }

    fn call_context(&self, ctx: &RequestContext<RoleServer>, caller: &Caller) -> CallContext {
        let meta = ctx
            .meta
            .0
            .iter()
            .filter(|(k, _)| k.as_str() != super::exact_numbers::META_KEY)
            .map(|(k, v)| (format!("mcp.meta.{k}"), v.to_string()))
            .collect();
        CallContext {
            request_id: request_id(ctx),
            session: session_id(ctx).map(str::to_string),
            identity: caller.identity.clone(),
            meta,
        }
    }
}

/// The HTTP request a message came in (Streamable HTTP only).
fn http_parts(ctx: &RequestContext<RoleServer>) -> Option<&http::request::Parts> {
    ctx.extensions.get::<http::request::Parts>()
}

fn session_id(ctx: &RequestContext<RoleServer>) -> Option<&str> {
    http_parts(ctx)
        .and_then(|p| p.headers.get("mcp-session-id"))
        .and_then(|v| v.to_str().ok())
}

fn request_id(ctx: &RequestContext<RoleServer>) -> String {
    match serde_json::to_value(&ctx.id) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(v) => v.to_string(),
        Err(_) => String::new(),
    }
}

fn scope(ctx: &RequestContext<RoleServer>, notes: Option<&Forwarder>) -> CallScope {
    CallScope {
        request_id: request_id(ctx),
        sink: notes.map(|f| f.sink.clone()),
    }
}

fn tool_error(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

fn plugin_failure(e: &CallError) -> McpError {
    McpError::internal_error(e.to_string(), None)
}

fn wit_error(plugin: &LoadedPlugin, e: WitError) -> McpError {
    match e {
        WitError::NotFound(m) => McpError::invalid_params(format!("{}: {m}", plugin.name), None),
        WitError::InvalidParams(m) => {
            McpError::invalid_params(format!("{}: {m}", plugin.name), None)
        }
        WitError::Internal(m) => McpError::internal_error(format!("{}: {m}", plugin.name), None),
    }
}

impl ServerHandler for PierHandler {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_logging()
            .enable_completions()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("pier", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "pier hosts sandboxed plugins; each tool is named <plugin>_<tool> and can reach only what its manifest grants.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        self.registry.wait_started(FIRST_LIST_WAIT).await;
        self.registry.note_listed();
        let catalog = self.catalog();
        let mut tools = catalog.all_tools();
        let caller = self.caller(&ctx);
        if caller.scopes.is_some() {
            tools.retain(|t| {
                catalog
                    .tool(&t.name)
                    .is_some_and(|(p, own)| caller.may_call(&p.name, own))
            });
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let caller = self.caller(&ctx);
        // The plugin that owns the prompt or template, and the target in its own terms.
        let owner = |catalog: &Catalog| match &request.r#ref {
            Reference::Prompt(p) => catalog
                .prompt(&p.name)
                .map(|(plugin, own)| (plugin.clone(), CompletionTarget::Prompt(own.to_string()))),
            Reference::Resource(r) => catalog
                .plugins
                .iter()
                .find(|p| p.templates.iter().any(|t| t.uri_template == r.uri))
                .map(|p| (p.clone(), CompletionTarget::ResourceTemplate(r.uri.clone()))),
            _ => None,
        };
        let catalog = self.catalog_with(|c| owner(c).is_some()).await;
        let found = owner(&catalog);
        let Some((plugin, target)) = found.filter(|(p, _)| caller.may_see_plugin(&p.name)) else {
            let message = match &request.r#ref {
                Reference::Prompt(p) => format!(
                    "unknown prompt `{}`; prompts/list shows what can be completed",
                    p.name
                ),
                Reference::Resource(r) => format!(
                    "unknown resource template `{}`; resources/templates/list shows what can be completed",
                    r.uri
                ),
                _ => "pier completes arguments of prompts (ref/prompt) and resource templates (ref/resource) only".into(),
            };
            return Err(McpError::invalid_params(message, None));
        };
        if !plugin.has_completions() {
            return Ok(CompleteResult::new(CompletionInfo::default()));
        }
        let context: Vec<(String, String)> = request
            .context
            .and_then(|c| c.arguments)
            .map(|a| a.into_iter().collect())
            .unwrap_or_default();
        let cx = self.call_context(&ctx, &caller);
        let op = Op::Complete {
            cx: &cx,
            target: &target,
            argument: &request.argument.name,
            value: &request.argument.value,
            context: &context,
        };
        match plugin.run(op, None).await {
            Ok(OpResult::Completions(Ok(mut values))) => {
                let total = values.len();
                values.truncate(CompletionInfo::MAX_VALUES);
                let info = CompletionInfo::with_pagination(
                    values,
                    u32::try_from(total).ok(),
                    total > CompletionInfo::MAX_VALUES,
                )
                .map_err(|e| McpError::internal_error(e, None))?;
                Ok(CompleteResult::new(info))
            }
            Ok(OpResult::Completions(Err(e))) => Err(wit_error(&plugin, e)),
            Ok(_) => Ok(CompleteResult::new(CompletionInfo::default())),
            Err(e) => Err(plugin_failure(&e)),
        }
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Ok(mut level) = self.log_level.lock() {
            *level = Some(request.level);
        }
        Ok(())
    }

    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        tracing::info!("client initialized");
        self.registry.add_peer(context.peer);
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let started = Instant::now();
        let name = request.name.as_ref();
        let caller = self.caller(&ctx);
        let args = request.arguments.as_ref();
        let refused = |route, outcome| Finished {
            caller: &caller,
            name,
            route,
            arguments: args,
            outcome,
            result_bytes: 0,
        };
        let catalog = self.catalog_with(|c| c.tool(name).is_some()).await;
        let Some((plugin, tool)) = catalog.tool(name) else {
            self.finish(&ctx, started, refused(None, Outcome::UnknownTool));
            if let Some(manifest) = catalog.denied_by(name) {
                return Err(McpError::invalid_params(
                    format!(
                        "tool `{name}` is disabled by [tools] in {}; remove it from deny (or add it to allow) to use it",
                        manifest.display()
                    ),
                    None,
                ));
            }
            return Err(McpError::invalid_params(
                format!("unknown tool `{name}`; tools/list shows the available tools"),
                None,
            ));
        };
        let route = Some((plugin.name.as_str(), tool));
        if !caller.may_call(&plugin.name, tool) {
            self.finish(&ctx, started, refused(route, Outcome::Forbidden));
            let scopes = caller
                .scopes
                .as_ref()
                .map(|s| s.describe())
                .unwrap_or_default();
            return Err(McpError::invalid_params(
                format!(
                    "tool `{name}` is outside the scopes of identity `{}` ({scopes}); a token whose scopes include \"{}\" or \"{}:{tool}\" can call it",
                    caller.label(),
                    plugin.name,
                    plugin.name
                ),
                None,
            ));
        }
        if let Err(limited) = self.ops.limits.check(caller.label(), name) {
            self.finish(&ctx, started, refused(route, Outcome::RateLimited));
            return Ok(CallToolResponse::Complete(tool_error(format!(
                "rate limit reached: identity `{}` may call `{name}` {} times per second (burst {}); retry in {:.2} s",
                caller.label(),
                limited.rate,
                limited.burst,
                limited.retry_in.as_secs_f64()
            ))));
        }
        let arguments = super::exact_numbers::arguments_text(
            args,
            ctx.meta.0.get(super::exact_numbers::META_KEY),
        );
        let cx = self.call_context(&ctx, &caller);
        let span = tracing::info_span!("tool", plugin = %plugin.name, tool = %tool, id = %cx.request_id, identity = %caller.label());
        async move {
            let op = Op::CallTool {
                cx: &cx,
                name: tool,
                arguments: &arguments,
            };
            let progress = Forwarder::start(&ctx, self.log_level(), &plugin.name);
            let outcome = plugin.run(op, Some(scope(&ctx, progress.as_ref()))).await;
            if let Some(p) = progress {
                p.finish().await;
            }
            let result_bytes = outcome.as_ref().map(result_size).unwrap_or(0);
            let result = match outcome {
                Ok(OpResult::Call(Ok(r))) => {
                    let mut out = if r.is_error {
                        CallToolResult::error(r.content.iter().map(convert::content).collect())
                    } else {
                        CallToolResult::success(r.content.iter().map(convert::content).collect())
                    };
                    if let Some(s) = &r.structured {
                        match serde_json::from_str(s) {
                            Ok(v) => out.structured_content = Some(v),
                            Err(e) => {
                                out = tool_error(format!(
                                    "{} returned structured output that is not JSON: {e}",
                                    plugin.name
                                ))
                            }
                        }
                    }
                    out
                }
                Ok(OpResult::Call(Err(WitError::InvalidParams(m)))) => {
                    tool_error(format!("invalid arguments for `{name}`: {m}"))
                }
                Ok(OpResult::Call(Err(WitError::NotFound(m)))) => {
                    self.finish(&ctx, started, refused(route, Outcome::UnknownTool));
                    return Err(McpError::invalid_params(
                        format!("{}: {m}", plugin.name),
                        None,
                    ));
                }
                Ok(OpResult::Call(Err(WitError::Internal(m)))) => tool_error(m),
                Ok(_) => tool_error("the plugin gave an answer of the wrong kind".into()),
                Err(e) => {
                    tracing::warn!("{e}");
                    tool_error(e.to_string())
                }
            };
            let is_error = result.is_error.unwrap_or(false);
            tracing::info!(
                ms = started.elapsed().as_secs_f64() * 1000.0,
                is_error,
                "call"
            );
            let outcome = if is_error {
                Outcome::ToolError
            } else {
                Outcome::Ok
            };
            self.finish(
                &ctx,
                started,
                Finished {
                    result_bytes,
                    ..refused(route, outcome)
                },
            );
            Ok(CallToolResponse::Complete(result))
        }
        .instrument(span)
        .await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        self.registry.wait_started(FIRST_LIST_WAIT).await;
        self.registry.note_listed();
        let caller = self.caller(&ctx);
        let cx = self.call_context(&ctx, &caller);
        let mut items = Vec::new();
        let catalog = self.catalog();
        let visible = |p: &&Arc<LoadedPlugin>| p.has_resources() && caller.may_see_plugin(&p.name);
        for plugin in catalog.plugins.iter().filter(visible) {
            match plugin.run(Op::ListResources { cx: &cx }, None).await {
                Ok(OpResult::Resources(Ok(list))) => {
                    items.extend(list.iter().map(convert::resource))
                }
                Ok(OpResult::Resources(Err(e))) => {
                    tracing::warn!(plugin = %plugin.name, "list-resources failed: {e:?}")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(plugin = %plugin.name, "{e}"),
            }
        }
        Ok(ListResourcesResult::with_all_items(items))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        self.registry.wait_started(FIRST_LIST_WAIT).await;
        self.registry.note_listed();
        let caller = self.caller(&ctx);
        let items = self
            .catalog()
            .plugins
            .iter()
            .filter(|p| caller.may_see_plugin(&p.name))
            .flat_map(|p| p.templates.iter().map(convert::template))
            .collect();
        Ok(ListResourceTemplatesResult::with_all_items(items))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let caller = self.caller(&ctx);
        let cx = self.call_context(&ctx, &caller);
        let uri = request.uri.as_str();
        // Ask each plugin that offers resources; the first that knows the URI answers. URIs are
        // the plugins' own (file://, postgres://...), so pier does not rewrite them.
        let mut last_error = None;
        let catalog = self.catalog();
        let visible = |p: &&Arc<LoadedPlugin>| p.has_resources() && caller.may_see_plugin(&p.name);
        for plugin in catalog.plugins.iter().filter(visible) {
            match plugin.run(Op::ReadResource { cx: &cx, uri }, None).await {
                Ok(OpResult::Read(Ok(contents))) => {
                    let contents = contents.iter().map(convert::resource_contents).collect();
                    return Ok(ReadResourceResponse::Complete(ReadResourceResult::new(
                        contents,
                    )));
                }
                Ok(OpResult::Read(Err(WitError::NotFound(_)))) => {}
                Ok(OpResult::Read(Err(e))) => last_error = Some(wit_error(plugin, e)),
                Ok(_) => {}
                Err(e) => last_error = Some(plugin_failure(&e)),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            McpError::resource_not_found(format!("no plugin offers the resource {uri}"), None)
        }))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        self.registry.wait_started(FIRST_LIST_WAIT).await;
        self.registry.note_listed();
        let catalog = self.catalog();
        let mut prompts = catalog.all_prompts();
        let caller = self.caller(&ctx);
        prompts.retain(|p| {
            catalog
                .prompt(&p.name)
                .is_some_and(|(plugin, _)| caller.may_see_plugin(&plugin.name))
        });
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let catalog = self
            .catalog_with(|c| c.prompt(&request.name).is_some())
            .await;
        let caller = self.caller(&ctx);
        let found = catalog
            .prompt(&request.name)
            .filter(|(plugin, _)| caller.may_see_plugin(&plugin.name));
        let Some((plugin, name)) = found else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown prompt `{}`; prompts/list shows the available prompts",
                    request.name
                ),
                None,
            ));
        };
        let args: Vec<(String, String)> = request
            .arguments
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect();
        let cx = self.call_context(&ctx, &caller);
        let op = Op::GetPrompt {
            cx: &cx,
            name,
            arguments: &args,
        };
        let progress = Forwarder::start(&ctx, self.log_level(), &plugin.name);
        let outcome = plugin.run(op, Some(scope(&ctx, progress.as_ref()))).await;
        if let Some(p) = progress {
            p.finish().await;
        }
        match outcome {
            Ok(OpResult::Prompt(Ok(p))) => {
                let mut out =
                    GetPromptResult::new(p.messages.iter().map(convert::prompt_message).collect());
                if let Some(d) = p.description {
                    out = out.with_description(d);
                }
                Ok(GetPromptResponse::Complete(out))
            }
            Ok(OpResult::Prompt(Err(e))) => Err(wit_error(plugin, e)),
            Ok(_) => Err(McpError::internal_error(
                "the plugin gave an answer of the wrong kind",
                None,
            )),
            Err(e) => Err(plugin_failure(&e)),
        }
    }
}
