//! Facts about the request being served that the transports put in rmcp's request context: the
//! HTTP request's parts, the session, the authenticated caller.

use rmcp::service::{RequestContext, RoleServer};

use crate::access::Caller;

/// The HTTP request a message came in (Streamable HTTP only).
fn http_parts(ctx: &RequestContext<RoleServer>) -> Option<&http::request::Parts> {
    ctx.extensions.get::<http::request::Parts>()
}

/// The MCP session (Streamable HTTP with sessions only).
pub(super) fn session_id(ctx: &RequestContext<RoleServer>) -> Option<&str> {
    http_parts(ctx)
        .and_then(|p| p.headers.get("mcp-session-id"))
        .and_then(|v| v.to_str().ok())
}

/// The JSON-RPC id as text (a string id as-is, a number in decimal).
pub(super) fn request_id(ctx: &RequestContext<RoleServer>) -> String {
    match serde_json::to_value(&ctx.id) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(v) => v.to_string(),
        Err(_) => String::new(),
    }
}

/// The caller the transport authenticated (HTTP puts a [`Caller`] in the request's
/// extensions), else `identity` with no scope limits (stdio).
pub(super) fn caller(ctx: &RequestContext<RoleServer>, identity: &Option<String>) -> Caller {
    http_parts(ctx)
        .and_then(|p| p.extensions.get::<Caller>())
        .cloned()
        .unwrap_or_else(|| Caller {
            identity: identity.clone(),
            ..Caller::default()
        })
}
