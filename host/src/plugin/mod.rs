//! Plugins: their manifests, loading a component, what it offers, the pool that runs its
//! requests, its health, and the catalog that maps exposed names back to plugins.
//!
//! One owner per job: `description` (what a plugin offers, under which names), `pool` and
//! `requests` (instances, and one typed method per export), `health` (breaker and counters),
//! `catalog` (assembling the live set: collisions, hidden tools, routes), `report` (what is said
//! about each plugin), `listing` (the listing a component may embed), `loader` (file to plugin), `registry` and `watch` (the live set over time).

mod breaker;
mod call_error;
mod catalog;
mod description;
mod folder;
mod health;
pub(crate) mod listing;
mod loader;
pub mod manifest;
pub mod manifest_edit;
mod pool;
mod registry;
pub(crate) mod report;
mod requests;
mod schema_dialect;
mod watch;

pub(crate) use call_error::CallError;
pub(crate) use catalog::Catalog;
pub use catalog::PluginSource;
pub(crate) use description::{ExposedPrompt, ExposedTool};
pub(crate) use loader::{LoadFor, LoadedPlugin};
pub(crate) use registry::Registry;
pub use report::{PluginReport, PluginStatus};
pub(crate) use requests::Complete;
pub(crate) use watch::watch_folder;
