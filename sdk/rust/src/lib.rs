//! Write a pier plugin in Rust.
//!
//! A plugin is a `cdylib` built for `wasm32-wasip2`. Implement [`Plugin`] (its state, made once
//! per instance, and its tools, each declared once with its handler), optionally [`Resources`],
//! [`Prompts`] and [`Completions`], and name what you implemented in [`export_plugin!`]: the
//! component then exports exactly those interfaces, so pier never asks a plugin for resources or
//! prompts it does not have.
//!
//! ```
//! use pier_sdk::{json, CallResult, Plugin, Tool, ToolError, Tools};
//!
//! #[derive(serde::Deserialize)]
//! struct Greet {
//!     name: String,
//! }
//!
//! #[derive(Default)]
//! struct Hello {
//!     greeted: u64,
//! }
//!
//! impl Plugin for Hello {
//!     fn new() -> Self {
//!         Hello::default()
//!     }
//!
//!     fn tools(&self, tools: &mut Tools<Self>) {
//!         tools.add(
//!             Tool::new("greet", "Greets someone by name.")
//!                 .read_only()
//!                 .input_schema(json!({"type": "object",
//!                     "properties": {"name": {"type": "string"}}, "required": ["name"]})),
//!             |hello: &mut Hello, _cx, args: Greet| {
//!                 hello.greeted += 1;
//!                 Ok(CallResult::text(format!("Hello, {}! (#{})", args.name, hello.greeted)))
//!             },
//!         );
//!     }
//! }
//!
//! pier_sdk::export_plugin!(Hello);
//! # fn main() {}
//! ```

#[doc(hidden)]
pub mod adapter;
mod builders;
pub mod config;
pub mod grants;
pub mod host;
pub mod http;
pub mod net;
pub mod rt;
pub mod schema;
pub mod time;
mod tools;
pub mod untrusted;

/// Raw bindings of the imports (`pier:mcp/host` and the shared types) generated from
/// `wit/pier.wit`. Most plugins never need them directly. The exports are generated in the
/// plugin crate by [`export_plugin!`], for just the interfaces the plugin implements.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        inline: "package pier:sdk-imports; world imports { import pier:mcp/host@0.1.0; }",
        world: "pier:sdk-imports/imports",
        generate_all,
    });
}

pub use bindings::pier::mcp::types::{
    Annotations, CallContext, CallResult, CompletionTarget, Content, Error, Icon, Media,
    PluginInfo, Prompt, PromptArgument, PromptMessage, PromptResult, ResourceBody,
    ResourceContents, ResourceInfo, ResourceTemplate, Role, TaskSupport, Tool,
};
pub use serde_json::{Value, json};
pub use tools::{ToolError, Tools};

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

include!(concat!(env!("OUT_DIR"), "/world_macros.rs"));

/// The plugin guide's Rust examples, compiled as doctests so the guide stays true to the SDK.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/plugin-guide.md")]
pub struct PluginGuide;

/// What every plugin implements: its state and its tools.
///
/// `new` runs once per instance, before the instance's first request; the state it returns is
/// handed to every handler (`&mut self`) for the instance's life. pier keeps an instance between
/// calls until it traps or times out, so a connection kept in the state serves later calls.
pub trait Plugin: Sized + 'static {
    /// Makes the instance's state (read `[config]` here, with [`host::config`]).
    fn new() -> Self;

    /// Declares every tool, each once: definition and handler together (see [`Tools::add`]).
    fn tools(&self, tools: &mut Tools<Self>);
}

/// Resources a plugin can read. Name `resources` in [`export_plugin!`] to export them.
pub trait Resources: Plugin {
    /// Concrete resources available now.
    fn resources(&mut self, cx: &CallContext) -> Result<Vec<ResourceInfo>, Error>;

    /// URI templates for families of resources.
    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        Vec::new()
    }

    /// Reads one resource; `Error::NotFound` for a URI that is not yours (pier then asks the
    /// next plugin).
    fn read_resource(
        &mut self,
        cx: &CallContext,
        uri: &str,
    ) -> Result<Vec<ResourceContents>, Error>;
}

/// Prompt templates. Name `prompts` in [`export_plugin!`] to export them.
pub trait Prompts: Plugin {
    fn prompts(&self) -> Vec<Prompt>;

    /// Fills in one prompt with the user's arguments.
    fn get_prompt(
        &mut self,
        cx: &CallContext,
        name: &str,
        args: Vec<(String, String)>,
    ) -> Result<PromptResult, Error>;
}

/// Suggestions for an argument of one of your prompts or resource templates while the user
/// types it. Name `completions` in [`export_plugin!`] to export them.
pub trait Completions: Plugin {
    /// `value` is what the user typed so far; `context`, arguments already filled in. Best
    /// first; pier sends the client at most 100.
    fn complete(
        &mut self,
        cx: &CallContext,
        target: &CompletionTarget,
        argument: &str,
        value: &str,
        context: &[(String, String)],
    ) -> Result<Vec<String>, Error>;
}

/// What your plugin says about itself besides its lists: instructions for the model (pier
/// composes them into the server's `instructions`), icons of its tools, prompts and templates,
/// and which of its tools the user confirms before each call. Name `about` (last) in
/// [`export_plugin!`] to export it. pier asks once per loaded binary.
pub trait About: Plugin {
    /// `tools` are the plugin's own definitions (as `tools` declared them), for lists drawn from
    /// them such as [`destructive_tools`].
    fn about(&self, tools: &[Tool]) -> PluginInfo;
}

/// The names of the tools annotated destructive (and not read-only): the usual `confirm` list.
pub fn destructive_tools(tools: &[Tool]) -> Vec<String> {
    tools
        .iter()
        .filter(|t| t.annotations.destructive && !t.annotations.read_only)
        .map(|t| t.name.clone())
        .collect()
}

/// Deserialises tool arguments into `T`, turning a mismatch into [`ToolError::Invalid`] with
/// serde's explanation (which field, which type), so the model can correct its call. (Handlers
/// declared with [`Tools::add`] get typed arguments without it.)
pub fn parse_args<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    tools::parse_named(args).map_err(|e| ToolError::Invalid(format!("invalid arguments: {e}")))
}

/// The `call-context.meta` key under which pier passes the call's time limit (milliseconds).
pub const TIME_LIMIT_META: &str = "pier.time-limit-ms";

/// The call's wall-clock time limit as pier enforces it (`[limits].timeout`), when pier said
/// (tool calls). A plugin uses it to decide whether waiting out a remote `Retry-After` still
/// fits in the call, instead of being stopped mid-wait.
pub fn time_limit_ms(cx: &CallContext) -> Option<u64> {
    cx.meta
        .iter()
        .find(|(k, _)| k == TIME_LIMIT_META)
        .and_then(|(_, v)| v.parse().ok())
}

/// Exports a type implementing [`Plugin`] as this component's `pier:mcp` exports: `tools`, and
/// each optional interface named after the type, in the order `resources`, `prompts`,
/// `completions`, `about` (each requires the trait of that name: [`Resources`], [`Prompts`],
/// [`Completions`], [`About`]). Only the named interfaces are exported.
///
/// ```text
/// pier_sdk::export_plugin!(Postgres, resources);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty $(, $export:ident)* $(,)?) => {
        #[doc(hidden)]
        #[allow(clippy::all, unsafe_code, dead_code)]
        mod __pier_exports {
            $crate::__pier_select_world!([$($export)*]);
        }
        const _: () = {
            thread_local! {
                static SLOT: ::std::cell::RefCell<::std::option::Option<$crate::adapter::Instance<$plugin>>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            struct Exports;
            impl __pier_exports::exports::pier::mcp::tools::Guest for Exports {
                fn list_tools() -> ::std::vec::Vec<$crate::Tool> {
                    $crate::adapter::list_tools(&SLOT)
                }
                fn call_tool(
                    cx: $crate::CallContext,
                    name: ::std::string::String,
                    arguments: ::std::string::String,
                ) -> ::std::result::Result<$crate::CallResult, $crate::Error> {
                    $crate::adapter::call_tool(&SLOT, cx, name, arguments)
                }
            }
            $( $crate::__pier_export_impl!($export, SLOT, Exports); )*
            __pier_exports::export!(Exports with_types_in __pier_exports);
        };
    };
}

/// One optional interface's `Guest` impl for [`export_plugin!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __pier_export_impl {
    (resources, $slot:ident, $exports:ident) => {
        impl __pier_exports::exports::pier::mcp::resources::Guest for $exports {
            fn list_resources(
                cx: $crate::CallContext,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::ResourceInfo>, $crate::Error> {
                $crate::adapter::list_resources(&$slot, cx)
            }
            fn list_templates() -> ::std::vec::Vec<$crate::ResourceTemplate> {
                $crate::adapter::list_templates(&$slot)
            }
            fn read_resource(
                cx: $crate::CallContext,
                uri: ::std::string::String,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::ResourceContents>, $crate::Error>
            {
                $crate::adapter::read_resource(&$slot, cx, uri)
            }
        }
    };
    (prompts, $slot:ident, $exports:ident) => {
        impl __pier_exports::exports::pier::mcp::prompts::Guest for $exports {
            fn list_prompts() -> ::std::vec::Vec<$crate::Prompt> {
                $crate::adapter::list_prompts(&$slot)
            }
            fn get_prompt(
                cx: $crate::CallContext,
                name: ::std::string::String,
                arguments: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::result::Result<$crate::PromptResult, $crate::Error> {
                $crate::adapter::get_prompt(&$slot, cx, name, arguments)
            }
        }
    };
    (about, $slot:ident, $exports:ident) => {
        impl __pier_exports::exports::pier::mcp::about::Guest for $exports {
            fn describe() -> $crate::PluginInfo {
                $crate::adapter::describe(&$slot)
            }
        }
    };
    (completions, $slot:ident, $exports:ident) => {
        impl __pier_exports::exports::pier::mcp::completions::Guest for $exports {
            fn complete(
                cx: $crate::CallContext,
                target: $crate::CompletionTarget,
                argument: ::std::string::String,
                value: ::std::string::String,
                context: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::result::Result<::std::vec::Vec<::std::string::String>, $crate::Error> {
                $crate::adapter::complete(&$slot, cx, target, argument, value, context)
            }
        }
    };
    ($other:ident, $slot:ident, $exports:ident) => {
        compile_error!(concat!(
            "export_plugin!: `",
            stringify!($other),
            "` is not an optional export; name resources, prompts, completions or about"
        ));
    };
}
