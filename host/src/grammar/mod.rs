//! What a grant says, parsed: the grammars of `[grants].files`, `network` and `http` entries.
//!
//! Kept apart from enforcement (`grants/`) and from the manifest that holds them, and depending
//! on nothing else in pier, so the manifest, `pier grant` and the sandbox all read one grammar.

pub mod files;
pub mod http;
pub mod network;
