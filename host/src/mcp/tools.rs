//! `tools/list` and `tools/call`: routing an exposed name to its plugin, the caller's scopes and
//! rate limit, and the plugin's answer as MCP's.

use rmcp::ErrorData as McpError;
use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ListToolsResult};
use rmcp::service::{RequestContext, RoleServer};
use tracing::Instrument;

use super::asking::{self, Asking};
use super::call_guard::CallGuard;
use super::confirm::{self, Confirmed, Source};
use super::convert;
use super::handler::PierHandler;
use crate::access::ToolRef;
use crate::ops::Outcome;
use crate::plugin::{CallError, ExposedTool};
use crate::runtime::bindings::pier::mcp::types::TaskSupport;

fn tool_ref<'a>(plugin: &'a str, t: &'a ExposedTool) -> ToolRef<'a> {
    ToolRef {
        plugin,
        tool: &t.local,
        read_only: t.definition.annotations.read_only,
    }
}

impl PierHandler {
    /// Every tool the caller may call.
    pub(super) async fn tools_list(&self, ctx: &RequestContext<RoleServer>) -> ListToolsResult {
        let catalog = self.listing().await;
        let caller = self.caller(ctx);
        let tools = catalog
            .plugins()
            .iter()
            .flat_map(|p| {
                let caller = &caller;
                p.description
                    .tools
                    .iter()
                    .filter(move |t| caller.may_call(tool_ref(p.name(), t)))
                    .map(|t| convert::tool(t, p.description.icons.get(&t.local)))
            })
            .collect();
        ListToolsResult::with_all_items(tools)
    }

    pub(super) async fn tool_call(
        &self,
        request: CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.as_ref();
        let caller = self.caller(ctx);
        let args = request.arguments.as_ref();
        let mut call = CallGuard::tool_call(ctx, &self.ops, &caller, name, args);
        let catalog = self.catalog_with(|c| c.tool(name).is_some()).await;
        let Some((plugin, tool)) = catalog.tool(name) else {
            call.refuse(Outcome::UnknownTool);
            return Err(McpError::invalid_params(catalog.why_unknown(name), None));
        };
        call.route(plugin.name(), tool);
        let read_only = plugin
            .description
            .tools
            .iter()
            .find(|t| t.local == tool)
            .is_some_and(|t| t.definition.annotations.read_only);
        let what = ToolRef {
            plugin: plugin.name(),
            tool,
            read_only,
        };
        if let Some(refusal) = caller.refusal(name, what) {
            call.refuse(Outcome::Forbidden);
            return Err(McpError::invalid_params(refusal, None));
        }
        if let Err(limited) = self.ops.limits.check(caller.label(), name) {
            call.refuse(Outcome::RateLimited);
            let text = limited.message(caller.label(), name);
            return Ok(CallToolResponse::Complete(convert::tool_error(text)));
        }
        let arguments = super::exact_numbers::arguments_text(
            args,
            ctx.meta.0.get(super::exact_numbers::META_KEY),
        );
        let binding = asking::binding(caller.label(), "tools/call", name, args);
        let asking = match Asking::start(
            ctx,
            &self.seal,
            binding,
            request.input_responses.as_ref(),
            request.request_state.as_deref(),
        ) {
            Ok(a) => a,
            Err(refused) => {
                call.refuse(Outcome::ToolError);
                return Err(refused);
            }
        };
        let manifest = plugin.description.manifest.path.display().to_string();
        let confirmation = if plugin.description.confirms(tool) {
            Some(Source::Plugin {
                manifest: &manifest,
            })
        } else {
            self.confirm.matches(name).then_some(Source::Host)
        };
        let cx = convert::call_context(ctx, &caller);
        let routed = catalog.clone();
        let owner = caller.label().to_string();
        let span = tracing::info_span!("tool", plugin = %plugin.name(), tool = %tool, id = %cx.request_id, identity = %caller.label());
        async move {
            if let Some(source) = confirmation {
                match confirm::ask(asking.asker().as_ref(), name, tool, args, source).await {
                    Confirmed::Yes => tracing::info!("confirmed by the user"),
                    Confirmed::No(why) => {
                        tracing::info!("not confirmed: {why}");
                        call.end(Outcome::NotConfirmed, 0).await;
                        return Ok(CallToolResponse::Complete(convert::tool_error(why)));
                    }
                    Confirmed::Later(questions) => {
                        // The question goes back in the result; nothing runs until the retry
                        // brings the answer.
                        let waiting = CallError::InputRequired { questions };
                        call.end(Outcome::InputRequired, 0).await;
                        return match asking.interrupted(&self.seal, &waiting) {
                            Some(Ok(result)) => Ok(CallToolResponse::InputRequired(result)),
                            Some(Err(why)) => Err(why.error(plugin.name())),
                            None => Err(McpError::internal_error(waiting.to_string(), None)),
                        };
                    }
                }
            }
            match plugin.description.task_support(tool) {
                TaskSupport::Forbidden => {}
                support => {
                    let caps = ctx.client_capabilities();
                    if caps.as_ref().is_some_and(|c| c.supports_tasks()) {
                        let created = self.tasks.create(
                            &owner,
                            routed,
                            name,
                            tool,
                            cx,
                            arguments,
                            caps,
                            self.subscriptions.clone(),
                            ctx.peer.clone(),
                        );
                        call.end(Outcome::Task, 0).await;
                        return Ok(CallToolResponse::Task(created));
                    }
                    if support == TaskSupport::Required {
                        call.end(Outcome::ToolError, 0).await;
                        let tasks = rmcp::model::ClientCapabilities::builder()
                            .enable_tasks()
                            .build();
                        return Err(McpError::missing_required_client_capability(tasks));
                    }
                }
            }
            let scope =
                self.asking_scope(call.scope(self.log_level_for(ctx), plugin.name()), &asking);
            let answer = plugin
                .pool
                .call_tool(cx, tool, arguments, Some(scope))
                .await;
            let bytes = answer.as_ref().map_or(0, |a| a.bytes);
            let result: CallToolResult = match answer.map(|a| a.result) {
                Ok(answer) => match convert::tool_answer(plugin.name(), name, answer) {
                    Ok(result) => result,
                    Err(not_found) => {
                        call.end(Outcome::UnknownTool, 0).await;
                        return Err(not_found);
                    }
                },
                Err(e) => match asking.interrupted(&self.seal, &e) {
                    Some(Ok(questions)) => {
                        tracing::info!(ms = call.elapsed_ms(), "input required");
                        call.end(Outcome::InputRequired, 0).await;
                        return Ok(CallToolResponse::InputRequired(questions));
                    }
                    Some(Err(why)) if asking.answers_in_result() => {
                        call.end(Outcome::ToolError, 0).await;
                        return Err(why.error(plugin.name()));
                    }
                    Some(Err(why)) => convert::tool_error(why.error(plugin.name()).message.into()),
                    None => {
                        tracing::warn!("{e}");
                        convert::tool_error(e.to_string())
                    }
                },
            };
            let is_error = result.is_error.unwrap_or(false);
            tracing::info!(ms = call.elapsed_ms(), is_error, "call");
            let outcome = if is_error {
                Outcome::ToolError
            } else {
                Outcome::Ok
            };
            call.end(outcome, bytes).await;
            Ok(CallToolResponse::Complete(result))
        }
        .instrument(span)
        .await
    }
}
