//! Host-side policy applied before a call reaches a plugin.

mod tool_filter;

pub use tool_filter::ToolFilter;
