//! The MCP face of pier: a thin rmcp `ServerHandler` that delegates per feature (tools,
//! resources, prompts, completions), the one call guard every plugin request passes, the
//! announcements of list changes, all conversion between WIT records and MCP types, and the
//! stdio transport (HTTP is its own room).

mod announce;
mod asking;
mod call_guard;
mod completions;
mod confirm;
pub mod convert;
pub(crate) mod exact_numbers;
mod handler;
mod jsonrpc_guard;
mod notifications;
mod prompts;
mod request;
mod resources;
pub mod stdio;
mod subscriptions;
mod tasks;
mod tools;

pub use handler::PierHandler;
