//! Bridges the user's [`Plugin`] to the generated `Guest` traits.

use std::marker::PhantomData;

use crate::bindings::exports::pier::mcp::{completions, prompts, resources, tools};
use crate::{
    CallContext, CallResult, CompletionTarget, Error, Plugin, Prompt, PromptResult,
    ResourceContents, ResourceInfo, ResourceTemplate, Tool,
};

/// The type [`export_plugin!`](crate::export_plugin) exports; it forwards every call to `P`.
pub struct Adapter<P>(PhantomData<P>);

impl<P: Plugin> tools::Guest for Adapter<P> {
    fn list_tools() -> Vec<Tool> {
        P::tools()
    }

    fn call_tool(cx: CallContext, name: String, arguments: String) -> Result<CallResult, Error> {
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
        P::call(&cx, &name, args)
    }
}

impl<P: Plugin> resources::Guest for Adapter<P> {
    fn list_resources(cx: CallContext) -> Result<Vec<ResourceInfo>, Error> {
        P::resources(&cx)
    }

    fn list_templates() -> Vec<ResourceTemplate> {
        P::resource_templates()
    }

    fn read_resource(cx: CallContext, uri: String) -> Result<Vec<ResourceContents>, Error> {
        P::read_resource(&cx, &uri)
    }
}

impl<P: Plugin> prompts::Guest for Adapter<P> {
    fn list_prompts() -> Vec<Prompt> {
        P::prompts()
    }

    fn get_prompt(
        cx: CallContext,
        name: String,
        arguments: Vec<(String, String)>,
    ) -> Result<PromptResult, Error> {
        P::get_prompt(&cx, &name, arguments)
    }
}

impl<P: Plugin> completions::Guest for Adapter<P> {
    fn complete(
        cx: CallContext,
        target: CompletionTarget,
        argument: String,
        value: String,
        context: Vec<(String, String)>,
    ) -> Result<Vec<String>, Error> {
        P::complete(&cx, &target, &argument, &value, &context)
    }
}
