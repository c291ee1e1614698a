//! Everything wasmtime: the engine and its epoch clock, the compile cache, the per-instance
//! store state, and the bindings generated from `wit/`.

pub mod ask;
pub mod bindings;
mod cache;
mod directory;
mod dns;
mod engine;
mod state;

pub use cache::{CacheOutcome, CompileCache};
pub use engine::{Runtime, Tier};
pub use state::{CallScope, CallSink, PluginIdentity, ResourceEvents, State};
