//! Embedding pier in another Rust program.
//!
//! Loads one plugin from bytes (as a program that ships its plugins inside itself would), grants
//! it the current directory read-only, prints what loaded, then serves MCP on stdio.
//!
//! ```sh
//! cargo run -p pier --example embed -- target/pier/plugins/filesystem.wasm
//! ```

use std::path::Path;

use pier::{Host, Manifest, PluginStatus};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let wasm_path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: embed PLUGIN.wasm"))?;
    let wasm = std::fs::read(&wasm_path)?;

    // The same manifest format as a NAME.toml file; relative paths resolve against `base`.
    let manifest = Manifest::parse(
        "[[grants.files]]\nhost = \".\"\nmode = \"ro\"\n\n[limits]\ntimeout = \"5s\"\n",
        Path::new("embedded.toml"),
        &std::env::current_dir()?,
    )?;

    let host = Host::builder()
        .plugin("files", wasm, manifest)
        .cache_dir(None)
        .identity(Some("embedder".into()))
        .build()
        .await?;

    for r in host.reports() {
        match &r.status {
            PluginStatus::Loaded => eprintln!("{}: {} tools", r.name, r.tools.len()),
            PluginStatus::Failed(why) => eprintln!("{}: failed: {why}", r.name),
            // Only `start()` (background loading) reports plugins still compiling.
            PluginStatus::Compiling => eprintln!("{}: compiling", r.name),
        }
    }

    // Or: `host.handler()` gives the rmcp ServerHandler for any other rmcp transport.
    host.serve_stdio().await?;
    Ok(())
}
