//! The `pier` command line. Everything it does goes through the public library API.

use std::io::IsTerminal;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;

use pier::client_config::Entry as ClientEntry;
use pier::settings::Settings;
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

#[derive(clap::Args)]
struct ServeArgs {
    /// Host settings (identity, [http], [audit], [[rate_limits]]). Default: $PIER_CONFIG, else
    /// pier.toml in the per-user config folder if it exists.
    #[arg(long, env = "PIER_CONFIG")]
    config: Option<PathBuf>,
    /// Caller identity passed to plugins in the call context (stdio, or HTTP without tokens).
    #[arg(long, env = "PIER_IDENTITY")]
    identity: Option<String>,
    /// Do not watch the plugin folder (by default new, replaced and removed plugins are
    /// picked up while serving).
    #[arg(long)]
    no_watch: bool,
    /// Serve Streamable HTTP at http://ADDR/mcp instead of stdio (e.g. 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Bearer tokens file ([[tokens]] entries); needed to listen beyond loopback.
    #[arg(long, env = "PIER_TOKENS_FILE", value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// No HTTP sessions: any replica behind a load balancer can answer any request.
    #[arg(long)]
    stateless: bool,
    /// Another Host name clients reach pier by (repeatable).
    #[arg(long, value_name = "HOST")]
    allow_host: Vec<String>,
    /// A browser origin allowed to call pier (repeatable), e.g. https://app.example.com.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// Header in which a trusted proxy names the end user (e.g. x-rls-user-id).
    #[arg(long, value_name = "NAME")]
    identity_header: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP over stdio (what an MCP client starts from its config), or over Streamable
    /// HTTP with --http.
    Serve {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Load the plugin folder and print what loaded, what failed and why.
    Plugins {
        #[command(flatten)]
        common: Common,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show what a component exports and imports, and which of its wants its manifest grants.
    Inspect {
        /// The component (NAME.wasm).
        file: PathBuf,
        /// The manifest to check against (default: NAME.toml beside the component).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add pier to an MCP client's config file (or print the snippet with --print).
    Config {
        /// claude, cursor, vscode, kiro, or the path of any JSON config file.
        #[arg(long)]
        client: String,
        /// The server's name in the file.
        #[arg(long, default_value = "pier")]
        name: String,
        /// Edit this file instead of the client's default one.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Connect to a running pier at this URL (e.g. http://127.0.0.1:8080/mcp) instead of
        /// having the client start pier.
        #[arg(long)]
        url: Option<String>,
        /// HTTP header for --url, as "Name: value" (repeatable).
        #[arg(long, value_name = "HEADER")]
        header: Vec<String>,
        /// Plugin folder for the started pier (default: pier's per-user folder).
        #[arg(long)]
        plugins: Option<PathBuf>,
        /// Caller identity for the started pier.
        #[arg(long)]
        identity: Option<String>,
        /// pier.toml for the started pier (what `pier serve --config` takes; `--settings` is
        /// an older name for it).
        #[arg(long = "config", alias = "settings", value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Environment variable for the started pier, NAME=VALUE (repeatable).
        #[arg(long, value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// Print the JSON snippet instead of writing the file.
        #[arg(long)]
        print: bool,
    },
    /// Add a grant to a plugin's manifest, keeping its comments and order.
    Grant {
        /// The plugin's name in the plugin folder, or a path to its .toml or .wasm.
        plugin: String,
        #[arg(value_enum)]
        kind: GrantKind,
        /// network: "tcp://host:port" (or postgres://, redis://...); http: "https://host";
        /// files: a directory; env: a variable name.
        value: String,
        /// For files: "ro" (default) or "rw".
        #[arg(long, default_value = "ro")]
        mode: String,
        /// For files: where the plugin sees the directory (default: its real path).
        #[arg(long)]
        guest: Option<String>,
        /// Plugin folder used to find PLUGIN by name (default as for `serve`).
        #[arg(long, env = "PIER_PLUGINS")]
        plugins: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum GrantKind {
    Network,
    Http,
    Files,
    Env,
}

fn default_plugin_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("pier")
        .join("plugins")
}

/// How `build` should return: after every plugin loaded, or at once with loading under way.
enum Start {
    Loaded,
    Background { watch: bool },
}

async fn build(
    common: &Common,
    identity: Option<String>,
    ops: pier::ops::Operations,
    start: Start,
) -> anyhow::Result<(Host, PathBuf)> {
    let dir = common.plugins.clone().unwrap_or_else(default_plugin_dir);
    if common.plugins.is_none() && !dir.exists() {
        std::fs::create_dir_all(&dir).with_context(|| {
            format!("cannot create the default plugin folder {}", dir.display())
        })?;
    }
    // The builder defaults to the per-user cache folder; override only what was asked for.
    let mut builder = Host::builder()
        .plugin_dir(&dir)
        .identity(identity)
        .operations(ops);
    if common.no_cache {
        builder = builder.cache_dir(None);
    } else if let Some(cache) = &common.cache_dir {
        builder = builder.cache_dir(Some(cache.clone()));
    }
    let host = match start {
        Start::Loaded => builder.build().await?,
        Start::Background { watch } => builder.watch(watch).start().await?,
    };
    Ok((host, dir))
}

fn print_table(dir: &std::path::Path, reports: &[PluginReport]) {
    println!("plugin folder: {}", dir.display());
    if reports.is_empty() {
        println!("no plugins (drop NAME.wasm, and optionally NAME.toml, into the folder)");
        return;
    }
    println!(
        "{:<16} {:<9} {:>5}  grants / reason",
        "PLUGIN", "STATUS", "TOOLS"
    );
    for r in reports {
        match &r.status {
            PluginStatus::Compiling => {
                println!("{:<16} {:<9} {:>5}", r.name, "compiling", "-");
            }
            PluginStatus::Loaded => {
                let grants = if r.grants.is_empty() {
                    "none".to_string()
                } else {
                    r.grants.join("; ")
                };
                let status = match r.circuit.as_deref() {
                    Some(c) if c.starts_with("open") => "circuit",
                    _ => "loaded",
                };
                println!(
                    "{:<16} {:<9} {:>5}  {grants}",
                    r.name,
                    status,
                    r.tools.len()
                );
                if let Some(digest) = &r.sha256 {
                    println!("{:<16} {:<9} {:>5}  sha256 {digest}", "", "", "");
                }
                for note in &r.notes {
                    println!("{:<16} {:<9} {:>5}  note: {note}", "", "", "");
                }
            }
            PluginStatus::Failed(reason) => {
                println!("{:<16} {:<9} {:>5}  {reason}", r.name, "failed", "-");
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
                    PluginStatus::Compiling => ("compiling", None),
                    PluginStatus::Failed(e) => ("failed", Some(e.clone())),
                };
                serde_json::json!({
                    "name": r.name, "file": r.file, "status": status, "reason": reason,
                    "tools": r.tools, "grants": r.grants, "notes": r.notes,
                    "sha256": r.sha256, "calls": r.calls, "failures": r.failures,
                    "circuit": r.circuit,
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

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pier: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // A plugin call stuck in a blocking syscall (a FIFO, a hung network mount) keeps its
    // thread; exiting must not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    // One clear line for the user, not a backtrace (anyhow prints one when RUST_BACKTRACE is set).
    match result {
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
        Command::Serve { common, serve } => serve_command(&common, serve).await?,
        Command::Plugins { common, json } => {
            let ops = pier::ops::Operations::default();
            let (host, dir) = build(&common, None, ops, Start::Loaded).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&reports_json(&host.reports()))?
                );
            } else {
                print_table(&dir, &host.reports());
            }
        }
        Command::Inspect {
            file,
            manifest,
            json,
        } => {
            let report = pier::inspect::inspect(&file, manifest.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render());
            }
        }
        Command::Config {
            client,
            name,
            file,
            url,
            header,
            plugins,
            identity,
            settings,
            env,
            print,
        } => {
            let entry = match url {
                Some(url) => client_entry_http(url, &header)?,
                None => client_entry_stdio(plugins, identity, settings, &env)?,
            };
            configure_client(&client, &name, file.as_deref(), &entry, print)?;
        }
        Command::Grant {
            plugin,
            kind,
            value,
            mode,
            guest,
            plugins,
        } => grant(&plugin, kind, value, &mode, guest, plugins)?,
    }
    Ok(())
}

/// `pier.toml` from --config / $PIER_CONFIG, else the per-user one if it exists, else defaults.
fn load_settings(path: Option<&std::path::Path>) -> anyhow::Result<Settings> {
    if let Some(p) = path {
        return Ok(Settings::load(p)?);
    }
    let default = dirs::config_dir().map(|d| d.join("pier").join("pier.toml"));
    match default {
        Some(p) if p.exists() => Ok(Settings::load(&p)?),
        _ => Ok(Settings::default()),
    }
}

async fn serve_command(common: &Common, args: ServeArgs) -> anyhow::Result<()> {
    let settings = load_settings(args.config.as_deref())?;
    let identity = args.identity.clone().or_else(|| settings.identity.clone());
    let ops = settings.operations()?;
    let listen = args.http.clone().or_else(|| settings.http.listen.clone());
    // (--tokens is left out: it may come from $PIER_TOKENS_FILE, set for a whole machine.)
    let http_only = [
        ("--stateless", args.stateless),
        ("--allow-host", !args.allow_host.is_empty()),
        ("--allow-origin", !args.allow_origin.is_empty()),
        ("--identity-header", args.identity_header.is_some()),
    ];
    if listen.is_none()
        && let Some((flag, _)) = http_only.iter().find(|(_, given)| *given)
    {
        anyhow::bail!(
            "{flag} applies to HTTP only: add --http ADDR (or [http].listen in pier.toml), or drop {flag} to serve stdio"
        );
    }
    // Tokens are resolved before any plugin loads, so a bad tokens file stops pier at once.
    let http = match &listen {
        Some(addr) => Some(http_options(addr, &args, &settings, identity.clone())?),
        None => None,
    };
    // Plugins load in the background so `initialize` is answered at once; each plugin is
    // logged (stderr) as it becomes ready.
    let start = Start::Background {
        watch: !args.no_watch,
    };
    let (host, dir) = build(common, identity, ops, start).await?;
    let Some(opts) = http else {
        tracing::info!(
            folder = %dir.display(),
            watching = !args.no_watch,
            "pier {} serving MCP on stdio; plugins load in the background",
            env!("CARGO_PKG_VERSION")
        );
        if std::io::stdin().is_terminal() {
            eprintln!(
                "pier is speaking MCP on stdin/stdout. Point a client at it (see README), or press Ctrl-D to quit."
            );
        }
        host.serve_stdio().await?;
        return Ok(());
    };
    tracing::info!(folder = %dir.display(), watching = !args.no_watch, "pier {}", env!("CARGO_PKG_VERSION"));
    host.serve_http(
        opts,
        |addr| {
            // One machine-readable line on stdout (stdout is free on HTTP): scripts and tests
            // started with port 0 read the address from it.
            println!("listening on http://{addr}/mcp");
        },
        pier::http::shutdown_signal(),
    )
    .await?;
    Ok(())
}

fn http_options(
    addr: &str,
    args: &ServeArgs,
    settings: &Settings,
    identity: Option<String>,
) -> anyhow::Result<pier::http::HttpOptions> {
    use std::net::ToSocketAddrs;
    let listen = addr
        .to_socket_addrs()
        .with_context(|| format!("--http {addr}: give an address such as 127.0.0.1:8080"))?
        .next()
        .with_context(|| format!("--http {addr}: the name resolves to no address"))?;
    let tokens = settings.tokens(args.tokens.as_deref(), |k| std::env::var(k).ok())?;
    let mut allowed_hosts = settings.http.allowed_hosts.clone();
    allowed_hosts.extend(args.allow_host.iter().cloned());
    let mut allowed_origins = settings.http.allowed_origins.clone();
    allowed_origins.extend(args.allow_origin.iter().cloned());
    Ok(pier::http::HttpOptions {
        listen,
        allowed_hosts,
        allowed_origins,
        stateless: args.stateless || settings.http.stateless,
        identity_header: args
            .identity_header
            .clone()
            .or_else(|| settings.http.identity_header.clone()),
        tokens,
        identity,
        max_connections: settings
            .http
            .max_connections
            .unwrap_or(pier::http::DEFAULT_MAX_CONNECTIONS),
        header_timeout: match &settings.http.header_timeout {
            Some(t) => pier::plugin::manifest::parse_duration(t)
                .map_err(|e| anyhow::anyhow!("[http].header_timeout in pier.toml: {e}"))?,
            None => pier::http::DEFAULT_HEADER_TIMEOUT,
        },
    })
}

fn client_entry_http(url: String, headers: &[String]) -> anyhow::Result<ClientEntry> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        anyhow::bail!("--url {url}: give the full address, as in http://127.0.0.1:8080/mcp");
    }
    let mut map = BTreeMap::new();
    for h in headers {
        let (k, v) = h
            .split_once(':')
            .with_context(|| format!("--header {h:?}: write it as \"Name: value\""))?;
        map.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(ClientEntry::Http { url, headers: map })
}

fn client_entry_stdio(
    plugins: Option<PathBuf>,
    identity: Option<String>,
    settings: Option<PathBuf>,
    env: &[String],
) -> anyhow::Result<ClientEntry> {
    // The client starts pier from a folder of its choosing: every path must be absolute.
    let absolute = |p: PathBuf, what: &str| {
        std::path::absolute(&p).with_context(|| format!("{what} {}", p.display()))
    };
    let exe = std::env::current_exe().context("cannot tell where the pier binary is")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let mut args = vec!["serve".to_string()];
    if let Some(p) = plugins {
        args.push("--plugins".into());
        args.push(absolute(p, "--plugins")?.display().to_string());
    }
    if let Some(s) = settings {
        args.push("--config".into());
        args.push(absolute(s, "--config")?.display().to_string());
    }
    if let Some(i) = identity {
        args.push("--identity".into());
        args.push(i);
    }
    let mut vars = BTreeMap::new();
    for e in env {
        let (k, v) = e
            .split_once('=')
            .with_context(|| format!("--env {e:?}: write it as NAME=VALUE"))?;
        vars.insert(k.to_string(), v.to_string());
    }
    Ok(ClientEntry::Stdio {
        command: exe.display().to_string(),
        args,
        env: vars,
    })
}

fn configure_client(
    client: &str,
    name: &str,
    file: Option<&std::path::Path>,
    entry: &ClientEntry,
    print: bool,
) -> anyhow::Result<()> {
    use pier::client_config::{Change, Client, apply, snippet};
    // With --file, a named client still decides the format; only the location changes.
    let client = Client::parse(client);
    if print {
        println!("{}", snippet(&client, name, entry)?);
        return Ok(());
    }
    let done = apply(&client, file, name, entry)?;
    let path = done.path.display();
    match done.change {
        Change::Unchanged => println!("{name} in {path} is already up to date"),
        Change::Added => println!("added {name} to {path}"),
        Change::Replaced => println!("updated {name} in {path}"),
    }
    if let Some(b) = done.backup {
        println!("the previous file is saved as {}", b.display());
    }
    if done.change != Change::Unchanged {
        println!("restart the client (or reload its MCP servers) to pick the change up");
    }
    Ok(())
}

/// The manifest `pier grant` edits: a path given directly, or NAME.toml in the plugin folder.
fn manifest_for(plugin: &str, plugins: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let as_path = PathBuf::from(plugin);
    if plugin.ends_with(".toml") {
        return Ok(as_path);
    }
    if plugin.ends_with(".wasm") {
        return Ok(as_path.with_extension("toml"));
    }
    let dir = plugins.unwrap_or_else(default_plugin_dir);
    let wasm = dir.join(format!("{plugin}.wasm"));
    let toml = dir.join(format!("{plugin}.toml"));
    if !wasm.exists() && !toml.exists() {
        anyhow::bail!(
            "no plugin {plugin:?} in {} (give a path to its .toml or .wasm, or --plugins DIR)",
            dir.display()
        );
    }
    Ok(toml)
}

fn grant(
    plugin: &str,
    kind: GrantKind,
    value: String,
    mode: &str,
    guest: Option<String>,
    plugins: Option<PathBuf>,
) -> anyhow::Result<()> {
    use pier::plugin::manifest_edit::{Edit, Grant};
    let path = manifest_for(plugin, plugins)?;
    let (grant, key) = match kind {
        GrantKind::Network => (Grant::Network(value.clone()), "[grants].network"),
        GrantKind::Http => (Grant::Http(value.clone()), "[grants].http"),
        GrantKind::Env => (Grant::Env(value.clone()), "[grants].env"),
        GrantKind::Files => {
            let mode = match mode {
                "ro" => pier::FileMode::ReadOnly,
                "rw" => pier::FileMode::ReadWrite,
                other => anyhow::bail!("--mode {other:?}: use ro or rw"),
            };
            let grant = Grant::Files {
                host: PathBuf::from(&value),
                guest,
                mode,
            };
            (grant, "[[grants.files]]")
        }
    };
    match pier::plugin::manifest_edit::grant(&path, &grant)? {
        Edit::Added => println!("added {value:?} to {key} in {}", path.display()),
        Edit::AlreadyGranted => println!("{value:?} is already in {key} of {}", path.display()),
    }
    Ok(())
}
