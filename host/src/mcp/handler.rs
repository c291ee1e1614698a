//! One `ServerHandler` for every plugin. It holds what all requests share and delegates each
//! feature to its own module: `tools`, `resources`, `prompts`, `completions`.

// `logging/setLevel` is deprecated by MCP 2026-07-28 (SEP-2577); clients on earlier versions use it.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, CompleteRequestParams,
    CompleteResult, DiscoverResult, GetPromptRequestParams, GetPromptResponse, GetTaskParams,
    GetTaskResult, Implementation, InitializeRequestParams, InitializeResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, LoggingLevel,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter,
    UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{RequestContext, RoleServer, SubscriptionContext};
use rmcp::{ErrorData as McpError, ServerHandler};

use super::announce::Announcer;
use super::asking::StateSeal;
use super::subscriptions::Subscriptions;
use crate::access::Caller;
use crate::ops::Operations;
use crate::plugin::{Catalog, LoadedPlugin, Registry};

/// How long a list request waits for plugins still compiling at start before answering with the
/// ones that are ready (the rest are announced with `list_changed`); `initialize` waits at most
/// [`INSTRUCTIONS_WAIT`]. Many clients list once and ignore `list_changed`, so the first list waits for the first
/// load (milliseconds warm, a second or two cold, longer on a loaded machine); only a start
/// slower than this answers with a partial list.
const FIRST_LIST_WAIT: Duration = Duration::from_secs(30);
/// How long `initialize` (and `server/discover`) wait for the plugins' first load, so that their
/// instructions are in the answer: a warm start loads in milliseconds; a plugin still compiling
/// after this is left out of this client's instructions (its tools are announced as usual).
const INSTRUCTIONS_WAIT: Duration = Duration::from_secs(1);
/// How long a call to a tool that is not (yet) known waits for plugins being compiled.
const CALL_WAIT: Duration = Duration::from_secs(120);

/// The rmcp handler for the live set of plugins. Cheap to clone; every transport gets one.
#[derive(Clone)]
pub struct PierHandler {
    pub(super) registry: Arc<Registry>,
    identity: Option<String>,
    /// pier's read-only switch: why only read-only tools are served, when it is on.
    read_only: Option<Arc<str>>,
    pub(super) ops: Arc<Operations>,
    announcer: Arc<Announcer>,
    /// The level the session's client asked for with `logging/setLevel`: plugin logs at or above
    /// it reach the client during its calls. One per session (see [`PierHandler::for_session`]).
    log_level: Arc<std::sync::Mutex<Option<LoggingLevel>>>,
    /// Resource subscriptions of every session and listen stream.
    pub(super) subscriptions: Arc<Subscriptions>,
    /// This session's number among the subscriptions (0 on stdio).
    pub(super) session: u64,
    sessions: Arc<std::sync::atomic::AtomicU64>,
    /// Seals the answers a 2026-07-28 call has gathered into its `requestState`.
    pub(super) seal: Arc<StateSeal>,
    /// pier.toml's `confirm`: exposed tool names whose calls the user confirms first.
    pub(super) confirm: Arc<crate::policy::ToolGlobs>,
    /// Tool calls running as tasks, for every session.
    pub(super) tasks: Arc<super::tasks::Tasks>,
}

impl PierHandler {
    /// Must be called inside the tokio runtime: it starts the task that announces changes.
    pub(crate) fn new(
        registry: Arc<Registry>,
        identity: Option<String>,
        read_only: bool,
        ops: Arc<Operations>,
    ) -> Result<Self, String> {
        let subscriptions = Arc::new(Subscriptions::default());
        Ok(PierHandler {
            announcer: Announcer::start(registry.changes(), subscriptions.clone()),
            subscriptions,
            session: 0,
            sessions: Arc::default(),
            seal: Arc::new(StateSeal::from_env()?),
            confirm: Arc::default(),
            tasks: Arc::default(),
            registry,
            identity,
            read_only: read_only.then(|| {
                Arc::from(
                    "pier serves read-only (`pier serve --read-only`, or read_only = true in pier.toml; without it the tool can be called)",
                )
            }),
            ops,
            log_level: Arc::default(),
        })
    }

    /// With pier.toml's `confirm` list.
    pub(crate) fn with_confirm(mut self, confirm: crate::policy::ToolGlobs) -> Self {
        self.confirm = Arc::new(confirm);
        self
    }

    /// A handler for a new session: shares everything but the session's own state (its log
    /// level, its number for resource subscriptions).
    pub fn for_session(&self) -> Self {
        let session = 1 + self
            .sessions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        PierHandler {
            log_level: Arc::default(),
            session,
            ..self.clone()
        }
    }

    /// The level a request's log messages are sent at: its own `_meta` level (2026-07-28),
    /// else the session's `logging/setLevel`; none, none are sent.
    pub(super) fn log_level_for(&self, ctx: &RequestContext<RoleServer>) -> Option<LoggingLevel> {
        ctx.meta
            .log_level()
            .or_else(|| self.log_level.lock().ok().and_then(|l| *l))
    }

    /// Metrics, audit log and rate limits.
    pub fn operations(&self) -> &Arc<Operations> {
        &self.ops
    }

    /// The request's caller, under pier's read-only switch when it is on (it wins over a
    /// token's own `read_only` in the refusal: it is the one to turn off).
    pub(super) fn caller(&self, ctx: &RequestContext<RoleServer>) -> Caller {
        let mut caller = super::request::caller(ctx, &self.identity);
        if self.read_only.is_some() {
            caller.read_only = self.read_only.clone();
        }
        caller
    }

    /// The server's `instructions`: pier's sentence, then each loaded plugin's own under its
    /// name (plugins still loading when a client initializes are not in its copy).
    fn instructions(&self) -> String {
        let mut text = String::from(
            "pier hosts sandboxed plugins; each tool is named <plugin>_<tool> (unless its manifest sets another prefix) and can reach only what its manifest grants.",
        );
        for plugin in self.catalog().plugins() {
            if let Some(own) = &plugin.description.instructions {
                text.push_str(&format!("\n\n## {}\n{own}", plugin.name()));
            }
        }
        text
    }

    /// `scope` with the ways back to the client: asking it, and announcing resource updates.
    pub(super) fn asking_scope(
        &self,
        mut scope: crate::runtime::CallScope,
        asking: &super::asking::Asking,
    ) -> crate::runtime::CallScope {
        scope.asker = Some(asking.asker());
        scope.events = Some(self.subscriptions.clone());
        scope
    }

    /// The current set of plugins (a snapshot: it is replaced, never changed, on reload).
    pub(super) fn catalog(&self) -> Arc<Catalog<LoadedPlugin>> {
        self.registry.catalog()
    }

    /// The catalog a list request answers from: after the first load of every plugin (or
    /// [`FIRST_LIST_WAIT`]), noting that a client now holds a list (so changes are announced).
    pub(super) async fn listing(&self) -> Arc<Catalog<LoadedPlugin>> {
        self.registry.wait_started(FIRST_LIST_WAIT).await;
        self.announcer.note_listed();
        self.catalog()
    }

    /// The current catalog or, when it lacks what was asked for (`has` says no) while plugins are
    /// still compiling, the catalog once they have loaded: a client that calls right after
    /// `initialize` must not be told a plugin's tool or prompt is unknown because it is compiling.
    pub(super) async fn catalog_with(
        &self,
        has: impl Fn(&Catalog<LoadedPlugin>) -> bool,
    ) -> Arc<Catalog<LoadedPlugin>> {
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
}

impl ServerHandler for PierHandler {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_logging()
            .enable_completions()
            .enable_tasks()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("pier", env!("CARGO_PKG_VERSION")))
            .with_instructions(self.instructions())
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        self.registry.wait_started(INSTRUCTIONS_WAIT).await;
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        self.registry.wait_started(INSTRUCTIONS_WAIT).await;
        Ok(DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            self.get_info(),
        ))
    }

    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        tracing::info!("client initialized");
        self.announcer.add_peer(context.peer);
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

    async fn get_task(
        &self,
        request: GetTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let caller = self.caller(&ctx);
        let task = self.tasks.get(caller.label(), &request.task_id)?;
        Ok(GetTaskResult::new(task))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let caller = self.caller(&ctx);
        self.tasks
            .update(caller.label(), &request.task_id, request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let caller = self.caller(&ctx);
        self.tasks.cancel(caller.label(), &request.task_id)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if self
            .subscriptions
            .subscribe(self.session, &request.uri, ctx.peer.clone())
        {
            Ok(())
        } else {
            Err(McpError::invalid_params(
                format!(
                    "this session already holds {} subscriptions; unsubscribe from some first",
                    super::subscriptions::MAX_PER_SESSION
                ),
                None,
            ))
        }
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscriptions.unsubscribe(self.session, &request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // Every URI may be subscribed to (a plugin says when one changes), and every list
        // change is announced; rmcp keeps only what was asked for.
        Some(requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let id = context.sink().id().clone();
        self.subscriptions.listen(context.sink().clone());
        context.cancelled().await;
        self.subscriptions.end_listen(&id);
        Ok(())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(self.tools_list(&ctx).await)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.tool_call(request, &ctx).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(self.resources_list(&ctx).await)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(self.templates_list(&ctx).await)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.resource_read(request, &ctx).await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(self.prompts_list(&ctx).await)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        self.prompt_get(request, &ctx).await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        self.completion(request, &ctx).await
    }
}
