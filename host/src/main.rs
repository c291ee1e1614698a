//! The `pier` command line. Everything it does goes through the public library API.

use std::io::IsTerminal;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pier::{Host, PluginReport, PluginStatus};

#[derive(Parser)]
#[command(
    name = "pier",
    version,
    about = "An MCP host whose tools live in sandboxed WebAssembly components"
)]
struct Cli {
    /// Log filter for stderr (e.g. info, debug, pier=trace). RUST_LOG takes precedence.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Common {
    /// Plugin folder: every NAME.wasm in it is loaded with its optional NAME.toml manifest.
    /// Defaults to $PIER_PLUGINS, else the per-user folder (see `pier plugins`).
    #[arg(long, env = "PIER_PLUGINS")]
    plugins: Option<PathBuf>,
    /// Where compiled plugins are cached (default: the per-user cache folder).
    #[arg(long, env = "PIER_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every plugin afresh and cache nothing.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP over stdio (what an MCP client starts from its config).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Caller identity passed to plugins in the call context.
        #[arg(long, env = "PIER_IDENTITY")]
        identity: Option<String>,
    },
    /// Load the plugin folder and print what loaded, what failed and why.
    Plugins {
        #[command(flatten)]
        common: Common,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn default_plugin_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("pier")
        .join("plugins")
}

async fn build(common: &Common, identity: Option<String>) -> anyhow::Result<(Host, PathBuf)> {
    let dir = common.plugins.clone().unwrap_or_else(default_plugin_dir);
    if common.plugins.is_none() && !dir.exists() {
        std::fs::create_dir_all(&dir).with_context(|| {
            format!("cannot create the default plugin folder {}", dir.display())
        })?;
    }
    // The builder defaults to the per-user cache folder; override only what was asked for.
    let mut builder = Host::builder().plugin_dir(&dir).identity(identity);
    if common.no_cache {
        builder = builder.cache_dir(None);
    } else if let Some(cache) = &common.cache_dir {
        builder = builder.cache_dir(Some(cache.clone()));
    }
    let host = builder.build().await?;
    Ok((host, dir))
}

fn print_table(dir: &std::path::Path, reports: &[PluginReport]) {
    println!("plugin folder: {}", dir.display());
    if reports.is_empty() {
        println!("no plugins (drop NAME.wasm, and optionally NAME.toml, into the folder)");
        return;
    }
    println!(
        "{:<16} {:<8} {:>5}  grants / reason",
        "PLUGIN", "STATUS", "TOOLS"
    );
    for r in reports {
        match &r.status {
            PluginStatus::Loaded => {
                let grants = if r.grants.is_empty() {
                    "none".to_string()
                } else {
                    r.grants.join("; ")
                };
                println!(
                    "{:<16} {:<8} {:>5}  {grants}",
                    r.name,
                    "loaded",
                    r.tools.len()
                );
                for note in &r.notes {
                    println!("{:<16} {:<8} {:>5}  note: {note}", "", "", "");
                }
            }
            PluginStatus::Failed(reason) => {
                println!("{:<16} {:<8} {:>5}  {reason}", r.name, "failed", "-");
            }
        }
    }
}

fn reports_json(reports: &[PluginReport]) -> serde_json::Value {
    serde_json::Value::Array(
        reports
            .iter()
            .map(|r| {
                let (status, reason) = match &r.status {
                    PluginStatus::Loaded => ("loaded", None),
                    PluginStatus::Failed(e) => ("failed", Some(e.clone())),
                };
                serde_json::json!({
                    "name": r.name, "file": r.file, "status": status, "reason": reason,
                    "tools": r.tools, "grants": r.grants, "notes": r.notes,
                    "sha256": r.sha256,
                    "cache": r.cache.map(|c| match c {
                        pier::CacheOutcome::Hit => "hit",
                        pier::CacheOutcome::Compiled => "compiled",
                        pier::CacheOutcome::CompiledUncached => "uncached",
                    }),
                })
            })
            .collect(),
    )
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // One clear line for the user, not a backtrace (anyhow prints one when RUST_BACKTRACE is set).
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pier: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cli.log_level))
        .context("bad --log-level")?;
    // stdout carries the protocol on stdio: logs go to stderr, always.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    match cli.command {
        Command::Serve { common, identity } => {
            let (host, dir) = build(&common, identity).await?;
            let loaded = host
                .reports()
                .iter()
                .filter(|r| matches!(r.status, PluginStatus::Loaded))
                .count();
            tracing::info!(
                folder = %dir.display(),
                loaded,
                failed = host.reports().len() - loaded,
                "pier {} serving MCP on stdio",
                env!("CARGO_PKG_VERSION")
            );
            if std::io::stdin().is_terminal() {
                eprintln!(
                    "pier is speaking MCP on stdin/stdout. Point a client at it (see README), or press Ctrl-D to quit."
                );
            }
            host.serve_stdio().await?;
        }
        Command::Plugins { common, json } => {
            let (host, dir) = build(&common, None).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&reports_json(host.reports()))?
                );
            } else {
                print_table(&dir, host.reports());
            }
        }
    }
    Ok(())
}
