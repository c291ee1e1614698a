//! WIT records <-> rmcp's MCP types. Kept in one place so the two vocabularies meet only here:
//! definitions, contents, results, errors, and the call context a plugin is given.

use base64::Engine as _;
use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolResult, ContentBlock, GetPromptResult, Icon, IconTheme, Prompt, PromptArgument,
    PromptMessage, Reference, Resource as RawResource, ResourceContents as McpContents,
    ResourceTemplate as McpTemplate, Role as McpRole, Tool, ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};

use super::request::{request_id, session_id};
use crate::access::Caller;
use crate::plugin::{ExposedPrompt, ExposedTool};
use crate::runtime::bindings::pier::mcp::types::CompletionTarget;
use crate::runtime::bindings::pier::mcp::types::{
    CallContext, CallResult, Content, Error as WitError, Icon as WitIcon,
    PromptMessage as WitMessage, PromptResult, ResourceBody, ResourceContents, ResourceInfo,
    ResourceTemplate, Role,
};

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The MCP definition of a plugin tool under its exposed name.
/// A plugin's icons as MCP's (pier checked their sources when it loaded the plugin).
pub fn icons(icons: Option<&Vec<WitIcon>>) -> Option<Vec<Icon>> {
    let icons = icons?;
    Some(
        icons
            .iter()
            .map(|i| {
                let mut icon = Icon::new(i.src.clone());
                icon.mime_type = i.mime_type.clone();
                icon.sizes = (!i.sizes.is_empty()).then(|| i.sizes.clone());
                icon.theme = match i.theme.as_deref() {
                    Some("light") => Some(IconTheme::Light),
                    Some("dark") => Some(IconTheme::Dark),
                    _ => None,
                };
                icon
            })
            .collect(),
    )
}

pub fn tool(exposed: &ExposedTool, icons: Option<&Vec<WitIcon>>) -> Tool {
    let t = &exposed.definition;
    let a = &t.annotations;
    let mut annotations = ToolAnnotations::new()
        .read_only(a.read_only)
        .destructive(a.destructive)
        .idempotent(a.idempotent)
        .open_world(a.open_world);
    if let Some(title) = &t.title {
        annotations.title = Some(title.clone());
    }
    let mut tool = Tool::new(
        exposed.exposed.clone(),
        t.description.clone(),
        exposed.input_schema.clone(),
    )
    .annotate(annotations);
    if let Some(title) = &t.title {
        tool = tool.with_title(title.clone());
    }
    if let Some(out) = &exposed.output_schema {
        tool = tool.with_raw_output_schema(out.clone());
    }
    tool.icons = self::icons(icons);
    tool
}

/// A plugin's `call-result` as MCP's; structured output must be JSON (else the call is an
/// error that says so).
pub fn call_result(plugin: &str, r: &CallResult) -> CallToolResult {
    let blocks = r.content.iter().map(content).collect();
    let mut out = if r.is_error {
        CallToolResult::error(blocks)
    } else {
        CallToolResult::success(blocks)
    };
    if let Some(s) = &r.structured {
        match serde_json::from_str(s) {
            Ok(v) => out.structured_content = Some(v),
            Err(e) => {
                out = tool_error(format!(
                    "{plugin} returned structured output that is not JSON: {e}"
                ))
            }
        }
    }
    out
}

/// A plugin's answer to `call-tool` as MCP's: its result, or a tool error the model can read
/// (bad arguments, a failure inside the plugin). `not-found` (the plugin does not know the
/// tool) is the one JSON-RPC error, as for a name pier does not know.
pub fn tool_answer(
    plugin: &str,
    exposed: &str,
    answer: Result<CallResult, WitError>,
) -> Result<CallToolResult, McpError> {
    match answer {
        Ok(r) => Ok(call_result(plugin, &r)),
        Err(WitError::InvalidParams(m)) => Ok(tool_error(format!(
            "invalid arguments for `{exposed}`: {m}"
        ))),
        Err(WitError::Internal(m)) => Ok(tool_error(m)),
        Err(WitError::NotFound(m)) => Err(McpError::invalid_params(format!("{plugin}: {m}"), None)),
    }
}

/// Whether a plugin's error says it does not know what was asked for (so the next plugin may).
pub fn is_not_found(e: &WitError) -> bool {
    matches!(e, WitError::NotFound(_))
}

/// The completion target in the plugin's terms: its own prompt name, or the URI template.
pub fn completion_target(
    reference: &Reference,
    own_prompt: Option<&str>,
) -> Option<CompletionTarget> {
    match (reference, own_prompt) {
        (Reference::Prompt(_), Some(own)) => Some(CompletionTarget::Prompt(own.to_string())),
        (Reference::Resource(r), None) => Some(CompletionTarget::ResourceTemplate(r.uri.clone())),
        _ => None,
    }
}

/// A tool result with `isError` set and one text block.
pub fn tool_error(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// A plugin's error for a request other than a tool call, as a JSON-RPC error naming the plugin.
pub fn wit_error(plugin: &str, e: WitError) -> McpError {
    match e {
        WitError::NotFound(m) | WitError::InvalidParams(m) => {
            McpError::invalid_params(format!("{plugin}: {m}"), None)
        }
        WitError::Internal(m) => McpError::internal_error(format!("{plugin}: {m}"), None),
    }
}

/// What the plugin is told about the request: its id, session, caller, and the request's
/// `_meta` (as `mcp.meta.<key>` → JSON text; pier's own carrier of exact numbers left out).
pub fn call_context(ctx: &RequestContext<RoleServer>, caller: &Caller) -> CallContext {
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

/// Prompt arguments as the plugin takes them: strings as they are, anything else as JSON text.
pub fn prompt_arguments(arguments: Option<rmcp::model::JsonObject>) -> Vec<(String, String)> {
    arguments
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect()
}

pub fn prompt_result(p: &PromptResult) -> GetPromptResult {
    let out = GetPromptResult::new(p.messages.iter().map(prompt_message).collect());
    match &p.description {
        Some(d) => out.with_description(d.clone()),
        None => out,
    }
}

pub fn content(c: &Content) -> ContentBlock {
    match c {
        Content::Text(t) => ContentBlock::text(t.clone()),
        Content::Image(m) => ContentBlock::image(b64(&m.data), m.mime_type.clone()),
        Content::Audio(m) => ContentBlock::audio(b64(&m.data), m.mime_type.clone()),
        Content::Embedded(r) => ContentBlock::resource(resource_contents(r)),
        Content::Link(r) => ContentBlock::resource_link(resource(r, None)),
    }
}

pub fn resource_contents(r: &ResourceContents) -> McpContents {
    let c = match &r.body {
        ResourceBody::Text(t) => McpContents::text(t.clone(), r.uri.clone()),
        ResourceBody::Blob(b) => McpContents::blob(b64(b), r.uri.clone()),
    };
    match &r.mime_type {
        Some(m) => c.with_mime_type(m.clone()),
        None => c,
    }
}

pub fn resource(r: &ResourceInfo, icons: Option<&Vec<WitIcon>>) -> RawResource {
    let mut out = RawResource::new(r.uri.clone(), r.name.clone());
    if let Some(t) = &r.title {
        out = out.with_title(t.clone());
    }
    if let Some(d) = &r.description {
        out = out.with_description(d.clone());
    }
    if let Some(m) = &r.mime_type {
        out = out.with_mime_type(m.clone());
    }
    if let Some(s) = r.size {
        out = out.with_size(s);
    }
    out.icons = self::icons(icons);
    out
}

pub fn template(t: &ResourceTemplate, icons: Option<&Vec<WitIcon>>) -> McpTemplate {
    let mut out = McpTemplate::new(t.uri_template.clone(), t.name.clone());
    if let Some(x) = &t.title {
        out = out.with_title(x.clone());
    }
    if let Some(d) = &t.description {
        out = out.with_description(d.clone());
    }
    if let Some(m) = &t.mime_type {
        out = out.with_mime_type(m.clone());
    }
    out.icons = self::icons(icons);
    out
}

pub fn prompt(exposed: &ExposedPrompt, icons: Option<&Vec<WitIcon>>) -> Prompt {
    let p = &exposed.definition;
    let args: Vec<PromptArgument> = p
        .arguments
        .iter()
        .map(|a| {
            let mut arg = PromptArgument::new(a.name.clone()).with_required(a.required);
            if let Some(t) = &a.title {
                arg = arg.with_title(t.clone());
            }
            if let Some(d) = &a.description {
                arg = arg.with_description(d.clone());
            }
            arg
        })
        .collect();
    let mut out = Prompt::new(
        exposed.exposed.clone(),
        p.description.clone(),
        if args.is_empty() { None } else { Some(args) },
    );
    if let Some(t) = &p.title {
        out = out.with_title(t.clone());
    }
    out.icons = self::icons(icons);
    out
}

pub fn prompt_message(m: &WitMessage) -> PromptMessage {
    let role = match m.role {
        Role::User => McpRole::User,
        Role::Assistant => McpRole::Assistant,
    };
    PromptMessage::new(role, content(&m.content))
}
