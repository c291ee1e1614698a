//! Plugins: manifests, loading a component, its pool of instances, and the catalog that maps
//! exposed names back to plugins.

mod breaker;
mod catalog;
mod folder;
mod instance;
mod loader;
pub mod manifest;
pub mod manifest_edit;
mod registry;
mod watch;

pub use breaker::BreakerState;
pub use catalog::{Catalog, PluginReport, PluginSource, PluginStatus, Route};
pub use instance::{CallError, Op, OpResult, result_size};
pub use loader::{LoadError, LoadedPlugin, PluginLoad};
pub use registry::Registry;
pub use watch::watch_folder;

/// Exposed names (`<plugin>_<tool>`) must pass the strictest validator clients use.
pub fn valid_exposed_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
