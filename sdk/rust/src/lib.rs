//! Write a pier plugin in Rust.
//!
//! A plugin is a `cdylib` built for `wasm32-wasip2`. Implement [`Plugin`] and call
//! [`export_plugin!`]; the SDK turns your implementation into the `pier:mcp` exports (tools, and
//! optionally resources and prompts) and gives you typed helpers for the host imports.
//!
//! ```ignore
//! use pier_sdk::{json, CallContext, CallResult, Error, Plugin, Tool};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn tools() -> Vec<Tool> {
//!         vec![Tool::new("greet", "Greets someone by name.")
//!             .input_schema(json!({"type": "object",
//!                 "properties": {"name": {"type": "string"}}, "required": ["name"]}))
//!             .read_only()]
//!     }
//!     fn call(_cx: &CallContext, name: &str, args: pier_sdk::Value) -> Result<CallResult, Error> {
//!         match name {
//!             "greet" => {
//!                 #[derive(serde::Deserialize)]
//!                 struct Args { name: String }
//!                 let a: Args = pier_sdk::parse_args(args)?;
//!                 Ok(CallResult::text(format!("Hello, {}!", a.name)))
//!             }
//!             other => Err(Error::unknown_tool(other)),
//!         }
//!     }
//! }
//!
//! pier_sdk::export_plugin!(Hello);
//! ```

mod adapter;
mod builders;
pub mod grants;
pub mod host;
pub mod net;
pub mod rt;

/// Raw bindings generated from `wit/pier.wit`. Most plugins never need them directly.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "full-plugin",
        pub_export_macro: true,
        default_bindings_module: "pier_sdk::bindings",
        generate_all,
    });
}

pub use adapter::Adapter;
pub use bindings::exports::pier::mcp::completions::CompletionTarget;
pub use bindings::pier::mcp::types::{
    Annotations, CallContext, CallResult, Content, Error, Media, Prompt, PromptArgument,
    PromptMessage, PromptResult, ResourceBody, ResourceContents, ResourceInfo, ResourceTemplate,
    Role, Tool,
};
pub use serde_json::{Value, json};

/// What a plugin implements. Only [`Plugin::tools`] and [`Plugin::call`] are required; the
/// resource and prompt methods default to offering nothing.
///
/// Methods are associated functions (no `self`): the component model creates one instance per
/// plugin instance, so keep state you want across calls in a `static` (`OnceLock`, `Mutex`,
/// `thread_local!`). pier keeps an instance alive between calls until it traps or times out.
pub trait Plugin: 'static {
    /// The tools this plugin offers (names without the plugin prefix).
    fn tools() -> Vec<Tool>;

    /// Runs one tool. `args` is the JSON object the client sent (`{}` when it sent none).
    fn call(cx: &CallContext, name: &str, args: Value) -> Result<CallResult, Error>;

    /// Concrete resources available now.
    fn resources(_cx: &CallContext) -> Result<Vec<ResourceInfo>, Error> {
        Ok(Vec::new())
    }

    /// URI templates for families of resources.
    fn resource_templates() -> Vec<ResourceTemplate> {
        Vec::new()
    }

    /// Reads one resource.
    fn read_resource(_cx: &CallContext, uri: &str) -> Result<Vec<ResourceContents>, Error> {
        Err(Error::NotFound(format!("no resource {uri}")))
    }

    /// Prompt templates.
    fn prompts() -> Vec<Prompt> {
        Vec::new()
    }

    /// Fills in one prompt.
    fn get_prompt(
        _cx: &CallContext,
        name: &str,
        _args: Vec<(String, String)>,
    ) -> Result<PromptResult, Error> {
        Err(Error::NotFound(format!("no prompt {name}")))
    }

    /// Suggestions for an argument of one of your prompts or resource templates while the user
    /// types it (`value` is what they typed so far; `context`, arguments already filled in).
    /// Best first; pier sends the client at most 100. Offers none by default.
    fn complete(
        _cx: &CallContext,
        _target: &CompletionTarget,
        _argument: &str,
        _value: &str,
        _context: &[(String, String)],
    ) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }
}

/// Deserialises tool arguments into `T`, turning a mismatch into [`Error::InvalidParams`] with
/// serde's explanation (which field, which type), so the model can correct its call.
pub fn parse_args<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, Error> {
    serde_json::from_value(args)
        .map_err(|e| Error::InvalidParams(format!("invalid arguments: {e}")))
}

/// Exports a type implementing [`Plugin`] as this component's `pier:mcp` exports.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        type __PierPluginExports = $crate::Adapter<$plugin>;
        $crate::bindings::export!(__PierPluginExports with_types_in $crate::bindings);
    };
}
