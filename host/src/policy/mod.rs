//! Host-side policy applied before a call reaches a plugin.

mod plugins;
mod tool_filter;

pub use plugins::{AllowedPlugin, PluginPolicy, PolicySettings};
pub use tool_filter::ToolFilter;
