//! `resources/list`, `resources/templates/list` and `resources/read`, across the plugins that
//! offer resources (plugins that export none are never asked).

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult,
};
use rmcp::service::{RequestContext, RoleServer};

use super::convert;
use super::handler::PierHandler;

impl PierHandler {
    /// Every resource of the plugins the caller may see; a plugin that fails is left out (and
    /// logged), the others still answer.
    pub(super) async fn resources_list(
        &self,
        ctx: &RequestContext<RoleServer>,
    ) -> ListResourcesResult {
        let catalog = self.listing().await;
        let caller = self.caller(ctx);
        let cx = convert::call_context(ctx, &caller);
        let mut items = Vec::new();
        let offering = catalog
            .plugins()
            .iter()
            .filter(|p| p.description.offers.resources && caller.may_see_plugin(p.name()));
        for plugin in offering {
            match plugin.pool.list_resources(cx.clone()).await {
                Ok(Ok(list)) => items.extend(
                    list.iter()
                        .map(|r| convert::resource(r, plugin.description.icons.get(&r.name))),
                ),
                Ok(Err(e)) => {
                    tracing::warn!(plugin = %plugin.name(), "list-resources failed: {e:?}")
                }
                Err(e) => tracing::warn!(plugin = %plugin.name(), "{e}"),
            }
        }
        ListResourcesResult::with_all_items(items)
    }

    pub(super) async fn templates_list(
        &self,
        ctx: &RequestContext<RoleServer>,
    ) -> ListResourceTemplatesResult {
        let catalog = self.listing().await;
        let caller = self.caller(ctx);
        let items = catalog
            .plugins()
            .iter()
            .filter(|p| caller.may_see_plugin(p.name()))
            .flat_map(|p| {
                p.description
                    .templates
                    .iter()
                    .map(|t| convert::template(t, p.description.icons.get(&t.name)))
            })
            .collect();
        ListResourceTemplatesResult::with_all_items(items)
    }

    /// Asks each plugin that offers resources; the first that knows the URI answers. URIs are
    /// the plugins' own (file://, postgres://...), so pier does not rewrite them.
    pub(super) async fn resource_read(
        &self,
        request: ReadResourceRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let caller = self.caller(ctx);
        let cx = convert::call_context(ctx, &caller);
        let uri = request.uri.as_str();
        let mut last_error = None;
        let catalog = self.catalog();
        let offering = catalog
            .plugins()
            .iter()
            .filter(|p| p.description.offers.resources && caller.may_see_plugin(p.name()));
        for plugin in offering {
            match plugin.pool.read_resource(cx.clone(), uri).await {
                Ok(Ok(contents)) => {
                    let contents = contents.iter().map(convert::resource_contents).collect();
                    let result = ReadResourceResult::new(contents);
                    return Ok(ReadResourceResponse::Complete(result));
                }
                Ok(Err(e)) if convert::is_not_found(&e) => {}
                Ok(Err(e)) => last_error = Some(convert::wit_error(plugin.name(), e)),
                Err(e) => last_error = Some(McpError::internal_error(e.to_string(), None)),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            McpError::resource_not_found(
                format!("no plugin offers the resource {uri}"),
                Some(serde_json::json!({ "uri": uri })),
            )
        }))
    }
}
