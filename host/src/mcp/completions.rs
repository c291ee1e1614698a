//! `completion/complete`, for the arguments of prompts and resource templates.

use std::sync::Arc;

use rmcp::ErrorData as McpError;
use rmcp::model::{CompleteRequestParams, CompleteResult, CompletionInfo, Reference};
use rmcp::service::{RequestContext, RoleServer};

use super::convert;
use super::handler::PierHandler;
use crate::plugin::{Catalog, Complete, LoadedPlugin};
use crate::runtime::bindings::pier::mcp::types::CompletionTarget;

/// The plugin that owns the prompt or template, and the target in its own terms.
fn owner(
    catalog: &Catalog<LoadedPlugin>,
    reference: &Reference,
) -> Option<(Arc<LoadedPlugin>, CompletionTarget)> {
    let (plugin, own) = match reference {
        Reference::Prompt(p) => catalog.prompt(&p.name).map(|(p, own)| (p, Some(own)))?,
        Reference::Resource(r) => (catalog.template_owner(&r.uri)?, None),
        _ => return None,
    };
    Some((plugin.clone(), convert::completion_target(reference, own)?))
}

impl PierHandler {
    pub(super) async fn completion(
        &self,
        request: CompleteRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let caller = self.caller(ctx);
        let catalog = self
            .catalog_with(|c| owner(c, &request.r#ref).is_some())
            .await;
        let found = owner(&catalog, &request.r#ref);
        let Some((plugin, target)) = found.filter(|(p, _)| caller.may_see_plugin(p.name())) else {
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
        let context = request
            .context
            .and_then(|c| c.arguments)
            .map(|a| a.into_iter().collect())
            .unwrap_or_default();
        let asked = Complete {
            cx: convert::call_context(ctx, &caller),
            target,
            argument: request.argument.name,
            value: request.argument.value,
            context,
        };
        match plugin.pool.complete(asked).await {
            Ok(Ok(mut values)) => {
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
            Ok(Err(e)) => Err(convert::wit_error(plugin.name(), e)),
            Err(e) => Err(McpError::internal_error(e.to_string(), None)),
        }
    }
}
