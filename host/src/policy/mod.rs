//! Host-side policy applied before a call reaches a plugin.

mod plugins;
pub mod signature;
mod tool_filter;

pub use plugins::{AllowedPlugin, PluginPolicy, PolicySettings, Publisher};
pub use tool_filter::{ToolFilter, ToolGlobs};
