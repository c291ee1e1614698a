//! `prompts/list` and `prompts/get`.

use rmcp::ErrorData as McpError;
use rmcp::model::{GetPromptRequestParams, GetPromptResponse, ListPromptsResult};
use rmcp::service::{RequestContext, RoleServer};

use super::asking::{self, Asking};
use super::call_guard::CallGuard;
use super::convert;
use super::handler::PierHandler;

impl PierHandler {
    /// Every prompt of the plugins the caller may see (a name two plugins share goes to the
    /// first).
    pub(super) async fn prompts_list(&self, ctx: &RequestContext<RoleServer>) -> ListPromptsResult {
        let catalog = self.listing().await;
        let caller = self.caller(ctx);
        let prompts = catalog
            .plugins()
            .iter()
            .flat_map(|p| p.description.prompts.iter().map(move |x| (p, x)))
            .filter(|(_, p)| {
                catalog
                    .prompt(&p.exposed)
                    .is_some_and(|(plugin, _)| caller.may_see_plugin(plugin.name()))
            })
            .map(|(plugin, p)| convert::prompt(p, plugin.description.icons.get(&p.local)))
            .collect();
        ListPromptsResult::with_all_items(prompts)
    }

    pub(super) async fn prompt_get(
        &self,
        request: GetPromptRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let catalog = self
            .catalog_with(|c| c.prompt(&request.name).is_some())
            .await;
        let caller = self.caller(ctx);
        let found = catalog
            .prompt(&request.name)
            .filter(|(plugin, _)| caller.may_see_plugin(plugin.name()));
        let Some((plugin, name)) = found else {
            let message = format!(
                "unknown prompt `{}`; prompts/list shows the available prompts",
                request.name
            );
            return Err(McpError::invalid_params(message, None));
        };
        let binding = asking::binding(
            caller.label(),
            "prompts/get",
            &request.name,
            request.arguments.as_ref(),
        );
        let asking = Asking::start(
            ctx,
            &self.seal,
            binding,
            request.input_responses.as_ref(),
            request.request_state.as_deref(),
        )?;
        let arguments = convert::prompt_arguments(request.arguments);
        let cx = convert::call_context(ctx, &caller);
        let mut call = CallGuard::new(ctx);
        let scope = self.asking_scope(call.scope(self.log_level_for(ctx), plugin.name()), &asking);
        let outcome = plugin
            .pool
            .get_prompt(cx, name, arguments, Some(scope))
            .await;
        call.done().await;
        match outcome {
            Ok(Ok(p)) => Ok(GetPromptResponse::Complete(convert::prompt_result(&p))),
            Ok(Err(e)) => Err(convert::wit_error(plugin.name(), e)),
            Err(e) => match asking.interrupted(&self.seal, &e) {
                Some(Ok(questions)) => Ok(GetPromptResponse::InputRequired(questions)),
                Some(Err(why)) => Err(why.error(plugin.name())),
                None => Err(McpError::internal_error(e.to_string(), None)),
            },
        }
    }
}
