//! The MCP face of pier: one rmcp `ServerHandler` that routes requests to plugins, the
//! conversions between WIT records and MCP types, and the transports.

pub mod convert;
pub(crate) mod exact_numbers;
mod handler;
mod jsonrpc_guard;
mod notifications;
pub mod stdio;

pub use handler::PierHandler;
