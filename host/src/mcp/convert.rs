//! WIT records <-> rmcp's MCP types. Kept in one place so the two vocabularies meet only here.

use std::sync::Arc;

use base64::Engine as _;
use rmcp::model::{
    ContentBlock, JsonObject, Prompt, PromptArgument, PromptMessage, Resource as RawResource,
    ResourceContents as McpContents, ResourceTemplate as McpTemplate, Role as McpRole, Tool,
    ToolAnnotations,
};

use crate::runtime::bindings::pier::mcp::types::{
    Content, Prompt as WitPrompt, PromptMessage as WitMessage, ResourceBody, ResourceContents,
    ResourceInfo, ResourceTemplate, Role, Tool as WitTool,
};

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn schema(text: &str, what: &str) -> Result<Arc<JsonObject>, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => Ok(Arc::new(map)),
        Ok(_) => Err(format!("{what} is not a JSON object")),
        Err(e) => Err(format!("{what} is not valid JSON: {e}")),
    }
}

/// The MCP definition of a plugin tool under its exposed name.
pub fn tool(exposed: &str, t: &WitTool) -> Result<Tool, String> {
    let input = schema(&t.input_schema, "input-schema")?;
    let a = &t.annotations;
    let mut annotations = ToolAnnotations::new()
        .read_only(a.read_only)
        .destructive(a.destructive)
        .idempotent(a.idempotent)
        .open_world(a.open_world);
    if let Some(title) = &t.title {
        annotations.title = Some(title.clone());
    }
    let mut tool =
        Tool::new(exposed.to_string(), t.description.clone(), input).annotate(annotations);
    if let Some(title) = &t.title {
        tool = tool.with_title(title.clone());
    }
    if let Some(out) = &t.output_schema {
        tool = tool.with_raw_output_schema(schema(out, "output-schema")?);
    }
    Ok(tool)
}

pub fn content(c: &Content) -> ContentBlock {
    match c {
        Content::Text(t) => ContentBlock::text(t.clone()),
        Content::Image(m) => ContentBlock::image(b64(&m.data), m.mime_type.clone()),
        Content::Audio(m) => ContentBlock::audio(b64(&m.data), m.mime_type.clone()),
        Content::Embedded(r) => ContentBlock::resource(resource_contents(r)),
        Content::Link(r) => ContentBlock::resource_link(resource(r)),
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

pub fn resource(r: &ResourceInfo) -> RawResource {
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
    out
}

pub fn template(t: &ResourceTemplate) -> McpTemplate {
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
    out
}

pub fn prompt(exposed: &str, p: &WitPrompt) -> Prompt {
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
        exposed.to_string(),
        p.description.clone(),
        if args.is_empty() { None } else { Some(args) },
    );
    if let Some(t) = &p.title {
        out = out.with_title(t.clone());
    }
    out
}

pub fn prompt_message(m: &WitMessage) -> PromptMessage {
    let role = match m.role {
        Role::User => McpRole::User,
        Role::Assistant => McpRole::Assistant,
    };
    PromptMessage::new(role, content(&m.content))
}
