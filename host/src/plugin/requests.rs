//! The requests pier sends a plugin, one type each, and the typed methods of [`Pool`] that send
//! them. A request knows the export it calls, what its answer costs against
//! `[limits].result_size`, and how pier's refusal notes join a failed answer; the pool's one
//! generic run does the rest. A request for an interface the plugin does not export is answered
//! here, without taking an instance.

use super::call_error::CallError;
use super::pool::{Instance, Pool, Request};
use crate::grants::credentials::redact;
use crate::runtime::CallScope;
use crate::runtime::bindings::pier::mcp::types::CompletionTarget;
use crate::runtime::bindings::pier::mcp::types::{
    CallContext, CallResult, Content, Error as WitError, PluginInfo, Prompt, PromptResult,
    ResourceBody, ResourceContents, ResourceInfo, ResourceTemplate, Tool,
};

/// What a plugin answered to `call-tool`, with its size.
pub(crate) struct ToolAnswer {
    pub result: Result<CallResult, WitError>,
    pub bytes: u64,
}

fn missing(interface: &str) -> wasmtime::Error {
    wasmtime::format_err!("the component does not export pier:mcp/{interface}")
}

fn with_note(e: WitError, note: &str) -> WitError {
    match e {
        WitError::NotFound(m) => WitError::NotFound(format!("{m}\n{note}")),
        WitError::InvalidParams(m) => WitError::InvalidParams(format!("{m}\n{note}")),
        WitError::Internal(m) => WitError::Internal(format!("{m}\n{note}")),
    }
}

fn redact_text(text: &mut String, secrets: &[String]) {
    if let std::borrow::Cow::Owned(clean) = redact(text, secrets) {
        *text = clean;
    }
}

fn redact_contents(c: &mut ResourceContents, secrets: &[String]) {
    if let ResourceBody::Text(t) = &mut c.body {
        redact_text(t, secrets);
    }
}

fn redact_content(c: &mut Content, secrets: &[String]) {
    match c {
        Content::Text(t) => redact_text(t, secrets),
        Content::Embedded(e) => redact_contents(e, secrets),
        Content::Link(l) => {
            redact_text(&mut l.uri, secrets);
            if let Some(d) = &mut l.description {
                redact_text(d, secrets);
            }
        }
        Content::Image(_) | Content::Audio(_) => {}
    }
}

fn contents_size(c: &ResourceContents) -> u64 {
    let body = match &c.body {
        ResourceBody::Text(t) => t.len(),
        ResourceBody::Blob(b) => b.len(),
    };
    (c.uri.len() + body) as u64
}

struct ListTools;

impl Request for ListTools {
    type Answer = Vec<Tool>;
    async fn run(self, inst: &mut Instance) -> wasmtime::Result<Vec<Tool>> {
        inst.tools.call_list_tools(&mut inst.store).await
    }
}

struct CallTool {
    cx: CallContext,
    name: String,
    arguments: String,
}

impl Request for CallTool {
    type Answer = Result<CallResult, WitError>;
    async fn run(self, inst: &mut Instance) -> wasmtime::Result<Self::Answer> {
        inst.tools
            .call_call_tool(&mut inst.store, &self.cx, &self.name, &self.arguments)
            .await
    }
    fn size(answer: &Self::Answer) -> u64 {
        let Ok(r) = answer else { return 0 };
        let blocks: u64 = r
            .content
            .iter()
            .map(|c| match c {
                Content::Text(t) => t.len() as u64,
                Content::Image(m) | Content::Audio(m) => m.data.len() as u64,
                Content::Embedded(e) => contents_size(e),
                Content::Link(l) => (l.uri.len() + l.name.len()) as u64,
            })
            .sum();
        blocks + r.structured.as_ref().map_or(0, |s| s.len() as u64)
    }
    fn redact(answer: Self::Answer, secrets: &[String]) -> Self::Answer {
        answer.map(|mut r| {
            r.content
                .iter_mut()
                .for_each(|c| redact_content(c, secrets));
            if let Some(s) = &mut r.structured {
                redact_text(s, secrets);
            }
            r
        })
    }
    fn explain(answer: Self::Answer, note: &str) -> Self::Answer {
        match answer {
            Ok(mut r) if r.is_error => {
                r.content.push(Content::Text(note.to_string()));
                Ok(r)
            }
            Err(e) => Err(with_note(e, note)),
            ok => ok,
        }
    }
}

struct ListResources {
    cx: CallContext,
}

impl Request for ListResources {
    type Answer = Result<Vec<ResourceInfo>, WitError>;
    async fn run(self, inst: &mut Instance) -> wasmtime::Result<Self::Answer> {
        let r = inst
            .resources
            .as_ref()
            .ok_or_else(|| missing("resources"))?;
        r.call_list_resources(&mut inst.store, &self.cx).await
    }
    fn explain(answer: Self::Answer, note: &str) -> Self::Answer {
        answer.map_err(|e| with_note(e, note))
    }
}

struct ListTemplates;

impl Request for ListTemplates {
    type Answer = Vec<ResourceTemplate>;
    async fn run(self, inst: &mut Instance) -> wasmtime::Result<Self::Answer> {
        let r = inst
            .resources
            .as_ref()
            .ok_or_else(|| missing("resources"))?;
        r.call_list_templates(&mut inst.store).await
    }
}

struct ReadResource {
    cx: CallContext,
    uri: String,
}

impl Request for ReadResource {
    type Answer = Result<Vec<ResourceContents>, WitError>;
    async fn run(self, inst: &mut Instance) -> wasmtime::Result<Self::Answer> {
        let r = inst
            .resources
            .as_ref()
            .ok_or_else(|| missing("resources"))?;
        r.call_read_resource(&mut inst.store, &self.cx, &self.uri)
            .await
    }
    fn size(answer: &Self::Answer) -> u64 {
        answer
            .as_ref()
            .map_or(0, |list| list.iter().map(contents_size).sum())
    }
    fn redact(answer: Self::Answer, secrets: &[String]) -> Self::Answer {
        answer.map(|mut list| {
            list.iter_mut().for_each(|c| redact_contents(c, secrets));
            list
        })
    }
    fn explain(answer: Self::Answer, note: &str) -> Self::Answer {
        answer.map_err(|e| with_note(e, note))
    }
}

struct ListPrompts;

impl Request for ListPrompts {
    type Answer = Vec<Prompt>;
    async fn run(self, inst: &mut Instance) -> wasmtime::Result<Self::Answer> {
        let p = inst.prompts.as_ref().ok_or_else(|| missing("prompts"))?;
        p.call_list_prompts(&mut inst.store).await
    }
}

struct GetPrompt {
    cx: CallContext,
    name: String,
    arguments: Vec<(String, String)>,
}

impl Request for GetPrompt {
    type Answer = Result<PromptResult, WitError>;
    fn redact(answer: Self::Answer, secrets: &[String]) -> Self::Answer {
        answer.map(|mut p| {
            p.messages
                .iter_mut()
                .for_each(|m| redact_content(&mut m.content, secrets));
            p
        })
    }
    async fn run(self, inst: &mut Instance) -> wasmtime::Result<Self::Answer> {
        let p = inst.prompts.as_ref().ok_or_else(|| missing("prompts"))?;
        p.call_get_prompt(&mut inst.store, &self.cx, &self.name, &self.arguments)
            .await
    }
    fn explain(answer: Self::Answer, note: &str) -> Self::Answer {
        answer.map_err(|e| with_note(e, note))
    }
}

/// A `complete` request: which prompt or template, which argument, what has been typed so far
/// and the values of the other arguments.
pub(crate) struct Complete {
    pub cx: CallContext,
    pub target: CompletionTarget,
    pub argument: String,
    pub value: String,
    pub context: Vec<(String, String)>,
}

impl Request for Complete {
    type Answer = Result<Vec<String>, WitError>;
    async fn run(self, inst: &mut Instance) -> wasmtime::Result<Self::Answer> {
        let c = inst
            .completions
            .as_ref()
            .ok_or_else(|| missing("completions"))?;
        c.call_complete(
            &mut inst.store,
            &self.cx,
            &self.target,
            &self.argument,
            &self.value,
            &self.context,
        )
        .await
    }
}

struct Describe;

impl Request for Describe {
    type Answer = PluginInfo;
    async fn run(self, inst: &mut Instance) -> wasmtime::Result<PluginInfo> {
        let a = inst.about.as_ref().ok_or_else(|| missing("about"))?;
        a.call_describe(&mut inst.store).await
    }
}

/// The `call-context.meta` key that carries the call's time limit in milliseconds.
pub const TIME_LIMIT_META: &str = "pier.time-limit-ms";

impl Pool {
    pub async fn list_tools(&self) -> Result<Vec<Tool>, CallError> {
        Ok(self.run(ListTools, None).await?.0)
    }

    /// What the plugin says about itself; nothing, without an instance, if it does not export
    /// `about`.
    pub async fn describe(&self) -> Result<PluginInfo, CallError> {
        if !self.offers().about {
            return Ok(PluginInfo {
                instructions: None,
                icons: Vec::new(),
                confirm: Vec::new(),
                tasks: Vec::new(),
            });
        }
        Ok(self.run(Describe, None).await?.0)
    }

    /// The plugin's resource templates; none, without an instance, if it offers no resources.
    pub async fn list_templates(&self) -> Result<Vec<ResourceTemplate>, CallError> {
        if !self.offers().resources {
            return Ok(Vec::new());
        }
        Ok(self.run(ListTemplates, None).await?.0)
    }

    /// The plugin's prompts; none, without an instance, if it offers no prompts.
    pub async fn list_prompts(&self) -> Result<Vec<Prompt>, CallError> {
        if !self.offers().prompts {
            return Ok(Vec::new());
        }
        Ok(self.run(ListPrompts, None).await?.0)
    }

    pub async fn call_tool(
        &self,
        cx: CallContext,
        name: &str,
        arguments: String,
        scope: Option<CallScope>,
    ) -> Result<ToolAnswer, CallError> {
        let mut cx = cx;
        // The call's wall-clock limit, so a plugin can tell whether waiting out a remote
        // service's `Retry-After` still fits in the call (namespaced; others ignore it).
        cx.meta.push((
            TIME_LIMIT_META.to_string(),
            self.limits.timeout.as_millis().to_string(),
        ));
        let request = CallTool {
            cx,
            name: name.to_string(),
            arguments,
        };
        let (result, bytes) = self.run(request, scope).await?;
        Ok(ToolAnswer { result, bytes })
    }

    /// The plugin's resources; none, without an instance, if it offers no resources.
    pub async fn list_resources(
        &self,
        cx: CallContext,
    ) -> Result<Result<Vec<ResourceInfo>, WitError>, CallError> {
        if !self.offers().resources {
            return Ok(Ok(Vec::new()));
        }
        Ok(self.run(ListResources { cx }, None).await?.0)
    }

    /// Reads `uri`; not found, without an instance, if the plugin offers no resources.
    pub async fn read_resource(
        &self,
        cx: CallContext,
        uri: &str,
    ) -> Result<Result<Vec<ResourceContents>, WitError>, CallError> {
        if !self.offers().resources {
            return Ok(Err(WitError::NotFound(format!("{uri}: no resources here"))));
        }
        let uri = uri.to_string();
        Ok(self.run(ReadResource { cx, uri }, None).await?.0)
    }

    /// Renders a prompt; not found, without an instance, if the plugin offers no prompts.
    pub async fn get_prompt(
        &self,
        cx: CallContext,
        name: &str,
        arguments: Vec<(String, String)>,
        scope: Option<CallScope>,
    ) -> Result<Result<PromptResult, WitError>, CallError> {
        if !self.offers().prompts {
            return Ok(Err(WitError::NotFound(format!("no prompt `{name}`"))));
        }
        let name = name.to_string();
        Ok(self
            .run(
                GetPrompt {
                    cx,
                    name,
                    arguments,
                },
                scope,
            )
            .await?
            .0)
    }

    /// Completion values; none, without an instance, if the plugin offers no completions.
    pub async fn complete(
        &self,
        request: Complete,
    ) -> Result<Result<Vec<String>, WitError>, CallError> {
        if !self.offers().completions {
            return Ok(Ok(Vec::new()));
        }
        Ok(self.run(request, None).await?.0)
    }
}
