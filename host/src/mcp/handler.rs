//! One `ServerHandler` for every plugin: tools, resources and prompts are routed by name (or URI)
//! to the plugin that offers them.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler};
use tracing::Instrument;

use super::convert;
use super::progress::Forwarder;
use crate::plugin::{CallError, Catalog, LoadedPlugin, Op, OpResult, Registry};
use crate::runtime::CallScope;
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
}

impl PierHandler {
    pub fn new(registry: Arc<Registry>, identity: Option<String>) -> Self {
        PierHandler { registry, identity }
    }

    /// The current set of plugins (a snapshot: it is replaced, never changed, on reload).
    pub fn catalog(&self) -> Arc<Catalog> {
        self.registry.catalog()
    }

    fn call_context(&self, ctx: &RequestContext<RoleServer>) -> CallContext {
        let meta = ctx
            .meta
            .0
            .iter()
            .map(|(k, v)| (format!("mcp.meta.{k}"), v.to_string()))
            .collect();
        CallContext {
            request_id: request_id(ctx),
            session: None,
            identity: self.identity.clone(),
            meta,
        }
    }
}

fn request_id(ctx: &RequestContext<RoleServer>) -> String {
    match serde_json::to_value(&ctx.id) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(v) => v.to_string(),
        Err(_) => String::new(),
    }
}

fn scope(ctx: &RequestContext<RoleServer>, progress: Option<&Forwarder>) -> CallScope {
    CallScope {
        request_id: request_id(ctx),
        progress: progress.map(|f| f.sink.clone()),
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
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        self.registry.wait_started(FIRST_LIST_WAIT).await;
        self.registry.note_listed();
        Ok(ListToolsResult::with_all_items(self.catalog().all_tools()))
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
        let name = request.name.as_ref();
        let mut catalog = self.catalog();
        if catalog.tool(name).is_none() && self.registry.is_loading() {
            // The tool may belong to a plugin still compiling: wait for it rather than fail.
            self.registry.wait_loaded(CALL_WAIT).await;
            catalog = self.catalog();
        }
        let Some((plugin, tool)) = catalog.tool(name) else {
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
        let arguments = request
            .arguments
            .map(serde_json::Value::Object)
            .unwrap_or_else(|| serde_json::json!({}))
            .to_string();
        let cx = self.call_context(&ctx);
        let span =
            tracing::info_span!("tool", plugin = %plugin.name, tool = %tool, id = %cx.request_id);
        async move {
            let started = std::time::Instant::now();
            let op = Op::CallTool {
                cx: &cx,
                name: tool,
                arguments: &arguments,
            };
            let progress = Forwarder::start(&ctx);
            let outcome = plugin.run(op, Some(scope(&ctx, progress.as_ref()))).await;
            if let Some(p) = progress {
                p.finish().await;
            }
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
            tracing::info!(
                ms = started.elapsed().as_secs_f64() * 1000.0,
                is_error = result.is_error.unwrap_or(false),
                "call"
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
        let cx = self.call_context(&ctx);
        let mut items = Vec::new();
        let catalog = self.catalog();
        for plugin in catalog.plugins.iter().filter(|p| p.has_resources()) {
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
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        self.registry.wait_started(FIRST_LIST_WAIT).await;
        self.registry.note_listed();
        let items = self
            .catalog()
            .plugins
            .iter()
            .flat_map(|p| p.templates.iter().map(convert::template))
            .collect();
        Ok(ListResourceTemplatesResult::with_all_items(items))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let cx = self.call_context(&ctx);
        let uri = request.uri.as_str();
        // Ask each plugin that offers resources; the first that knows the URI answers. URIs are
        // the plugins' own (file://, postgres://...), so pier does not rewrite them.
        let mut last_error = None;
        let catalog = self.catalog();
        for plugin in catalog.plugins.iter().filter(|p| p.has_resources()) {
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
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        self.registry.wait_started(FIRST_LIST_WAIT).await;
        self.registry.note_listed();
        Ok(ListPromptsResult::with_all_items(
            self.catalog().all_prompts(),
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let catalog = self.catalog();
        let Some((plugin, name)) = catalog.prompt(&request.name) else {
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
        let cx = self.call_context(&ctx);
        let op = Op::GetPrompt {
            cx: &cx,
            name,
            arguments: &args,
        };
        let progress = Forwarder::start(&ctx);
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
