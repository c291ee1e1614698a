//! Bridges the user's plugin to the export bindings `export_plugin!` generates in the plugin
//! crate. The generated `Guest` impls are one line each; what they do is here, written once.
//!
//! One instance of the plugin's state lives per component instance (pier keeps an instance
//! between calls until it traps or times out). It is made on the first request and kept in a
//! `thread_local` the macro declares for the plugin type: a component instance is single-threaded
//! and has its own memory, so that slot is the instance's own. Nothing is leaked.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::{
    CallContext, CallResult, CompletionTarget, Completions, Error, Plugin, Prompt, PromptResult,
    Prompts, ResourceContents, ResourceInfo, ResourceTemplate, Resources, Tool, Tools,
};

/// A plugin's state with its tools, as kept for the component instance.
#[doc(hidden)]
pub struct Instance<P> {
    plugin: P,
    tools: Tools<P>,
}

/// The slot `export_plugin!` declares for the plugin type.
#[doc(hidden)]
pub type Slot<P> = LocalKey<RefCell<Option<Instance<P>>>>;

/// Runs `f` on the instance's state, making it first if this is the instance's first request.
#[doc(hidden)]
pub fn with<P: Plugin, R>(slot: &'static Slot<P>, f: impl FnOnce(&mut Instance<P>) -> R) -> R {
    slot.with(|cell| {
        let mut kept = cell.borrow_mut();
        let instance = kept.get_or_insert_with(|| {
            let plugin = P::new();
            let mut tools = Tools::new();
            plugin.tools(&mut tools);
            Instance { plugin, tools }
        });
        f(instance)
    })
}

#[doc(hidden)]
pub fn list_tools<P: Plugin>(slot: &'static Slot<P>) -> Vec<Tool> {
    with(slot, |i| i.tools.definitions())
}

#[doc(hidden)]
pub fn call_tool<P: Plugin>(
    slot: &'static Slot<P>,
    cx: CallContext,
    name: String,
    arguments: String,
) -> Result<CallResult, Error> {
    let args = if arguments.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(&arguments)
            .map_err(|e| Error::InvalidParams(format!("arguments are not valid JSON: {e}")))?
    };
    if !args.is_object() {
        return Err(Error::InvalidParams(
            "arguments must be a JSON object".to_string(),
        ));
    }
    let _current = crate::host::CurrentCall::enter(&cx.request_id);
    with(slot, |i| {
        i.tools
            .call(&mut i.plugin, &cx, &name, args)
            .or_else(|e| e.into_answer())
    })
}

#[doc(hidden)]
pub fn list_resources<P: Resources>(
    slot: &'static Slot<P>,
    cx: CallContext,
) -> Result<Vec<ResourceInfo>, Error> {
    with(slot, |i| i.plugin.resources(&cx))
}

#[doc(hidden)]
pub fn list_templates<P: Resources>(slot: &'static Slot<P>) -> Vec<ResourceTemplate> {
    with(slot, |i| i.plugin.resource_templates())
}

#[doc(hidden)]
pub fn read_resource<P: Resources>(
    slot: &'static Slot<P>,
    cx: CallContext,
    uri: String,
) -> Result<Vec<ResourceContents>, Error> {
    with(slot, |i| i.plugin.read_resource(&cx, &uri))
}

#[doc(hidden)]
pub fn list_prompts<P: Prompts>(slot: &'static Slot<P>) -> Vec<Prompt> {
    with(slot, |i| i.plugin.prompts())
}

#[doc(hidden)]
pub fn describe<P: crate::About>(slot: &'static Slot<P>) -> crate::PluginInfo {
    with(slot, |i| i.plugin.about(&i.tools.definitions()))
}

#[doc(hidden)]
pub fn get_prompt<P: Prompts>(
    slot: &'static Slot<P>,
    cx: CallContext,
    name: String,
    arguments: Vec<(String, String)>,
) -> Result<PromptResult, Error> {
    with(slot, |i| i.plugin.get_prompt(&cx, &name, arguments))
}

#[doc(hidden)]
pub fn complete<P: Completions>(
    slot: &'static Slot<P>,
    cx: CallContext,
    target: CompletionTarget,
    argument: String,
    value: String,
    context: Vec<(String, String)>,
) -> Result<Vec<String>, Error> {
    with(slot, |i| {
        i.plugin.complete(&cx, &target, &argument, &value, &context)
    })
}
