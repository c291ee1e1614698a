//! The flags of every `pier` command, with their help texts.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "pier",
    version,
    about = "An MCP host whose tools live in sandboxed WebAssembly components"
)]
pub struct Cli {
    /// Log filter for stderr (e.g. info, debug, pier=trace). RUST_LOG takes precedence.
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args)]
pub struct Common {
    /// Plugin folder: every NAME.wasm in it is loaded with its optional NAME.toml manifest.
    /// Defaults to $PIER_PLUGINS, else the per-user folder (see `pier plugins`).
    #[arg(long, env = "PIER_PLUGINS")]
    pub plugins: Option<PathBuf>,
    /// Where compiled plugins are cached (default: the per-user cache folder).
    #[arg(long, env = "PIER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile every plugin afresh and cache nothing.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Host settings (identity, read_only, [http], [audit], [[rate_limits]], [policy]). Default:
    /// $PIER_CONFIG, else pier.toml in the per-user config folder if it exists.
    #[arg(long, env = "PIER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Caller identity passed to plugins in the call context (stdio, or HTTP without tokens).
    #[arg(long, env = "PIER_IDENTITY")]
    pub identity: Option<String>,
    /// Do not watch the plugin folder (by default new, replaced and removed plugins are
    /// picked up while serving).
    #[arg(long)]
    pub no_watch: bool,
    /// Serve Streamable HTTP at http://ADDR/mcp instead of stdio (e.g. 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Bearer tokens file ([[tokens]] entries); needed to listen beyond loopback.
    #[arg(long, env = "PIER_TOKENS_FILE", value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// No HTTP sessions: any replica behind a load balancer can answer any request.
    #[arg(long)]
    pub stateless: bool,
    /// Another Host name clients reach pier by (repeatable).
    #[arg(long, value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// A browser origin allowed to call pier (repeatable), e.g. https://app.example.com.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// Header in which a trusted proxy names the end user (e.g. x-rls-user-id).
    #[arg(long, value_name = "NAME")]
    pub identity_header: Option<String>,
    /// Serve only tools annotated read-only, across all plugins: the others are not listed and
    /// calls to them are refused (also `read_only = true` in pier.toml, or per token).
    #[arg(long)]
    pub read_only: bool,
}

#[derive(clap::Args)]
pub struct AuditArgs {
    /// The audit log (default: [audit].file of pier.toml).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// pier.toml to take [audit].file from. Default: $PIER_CONFIG, else the per-user one.
    #[arg(long, env = "PIER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Only calls of these identities (a glob: "alice", "ci-*"; "-" is a caller without one).
    #[arg(long, value_name = "GLOB")]
    pub identity: Option<String>,
    /// Only calls of these tools (a glob over exposed names: "postgres_*").
    #[arg(long, value_name = "GLOB")]
    pub tool: Option<String>,
    /// Only calls with this outcome: ok, tool_error, forbidden, rate_limited or unknown_tool.
    #[arg(long)]
    pub outcome: Option<String>,
    /// From: 2026-12-01T09:30:00Z, a date (2026-12-01), or an age (30s, 15m, 2h, 7d, 2w).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Until: same forms as --since.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Print the matching lines as they are (JSON lines) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// pier.toml whose [policy] decides which plugins may load. Default: $PIER_CONFIG, else
        /// the per-user one.
        #[arg(long, env = "PIER_CONFIG")]
        config: Option<PathBuf>,
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
        /// Where compiled plugins are cached (default: the per-user cache folder `pier serve`
        /// uses, so inspecting also readies the first start).
        #[arg(long, env = "PIER_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
        /// Compile afresh and cache nothing.
        #[arg(long)]
        no_cache: bool,
    },
    /// Write a component's tools, prompts and resource templates into the component, so pier
    /// lists them before compiling it (seconds sooner for a large Python or JavaScript plugin
    /// on its first start). Checked against the compiled code when served.
    Seal {
        /// The component (NAME.wasm); rewritten in place.
        file: PathBuf,
        /// The manifest whose [config] the lists are read with (default: NAME.toml beside it).
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Remove the listing instead (for a plugin whose lists depend on its [config]).
        #[arg(long)]
        remove: bool,
    },
    /// Start a plugin project (two tools, unit tests, a manifest that grants nothing) that
    /// builds and passes its tests as it is.
    New {
        /// The plugin's name (it prefixes the tool names; letters, digits, `-`, `_`).
        name: String,
        /// rust, python or js.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// Where to write it (default: ./NAME). Must not exist, or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A pier source checkout whose sdk/ the project depends on (default: $PIER_SDK, else
        /// the tree this pier was built from, else the published SDK packages).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Show the audit log's calls, filtered by identity, tool, outcome and time.
    Audit(AuditArgs),
    /// Make a publisher's signing key: writes the secret key file, prints the public key.
    Keygen {
        /// Where to write the secret key (created with mode 0600; never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign a plugin: writes NAME.wasm.sig beside NAME.wasm.
    Sign {
        /// The component (NAME.wasm).
        file: PathBuf,
        /// The secret key file from `pier keygen`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The version this build is (semver, e.g. 1.2.0), signed with it: what `[policy]`
        /// version ranges trust.
        #[arg(long)]
        version: Option<String>,
    },
    /// Check a plugin's signature (NAME.wasm.sig), and that the expected key made it.
    Verify {
        /// The component (NAME.wasm).
        file: PathBuf,
        /// The publisher's public key (ed25519:…); without it, prints who signed.
        #[arg(long)]
        key: Option<String>,
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
pub enum GrantKind {
    Network,
    Http,
    Files,
    Env,
}
