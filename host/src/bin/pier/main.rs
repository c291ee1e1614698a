//! The `pier` command line: parses the flags (`cli`) and dispatches to the library. Everything
//! it does goes through the public library API.

mod cli;
mod signing;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

use cli::{AuditArgs, Cli, Command, Common, GrantKind, ServeArgs};

use pier::client_config::Entry as ClientEntry;
use pier::manifest_edit::{Edit, Grant};
use pier::settings::{HttpFlags, Settings, default_plugin_dir};
use pier::{FileMode, Host};

/// How `build` should return: after every plugin loaded, or at once with loading under way.
enum Start {
    Loaded,
    Background { watch: bool },
}

/// What pier.toml says about serving, for [`build`].
struct Serving {
    identity: Option<String>,
    read_only: bool,
    confirm: Vec<String>,
    policy: pier::policy::PluginPolicy,
    ops: pier::ops::Operations,
}

async fn build(common: &Common, serving: Serving, start: Start) -> anyhow::Result<(Host, PathBuf)> {
    let dir = common.plugins.clone().unwrap_or_else(default_plugin_dir);
    if common.plugins.is_none() && !dir.exists() {
        std::fs::create_dir_all(&dir).with_context(|| {
            format!("cannot create the default plugin folder {}", dir.display())
        })?;
    }
    // The builder defaults to the per-user cache folder; override only what was asked for.
    let mut builder = Host::builder()
        .plugin_dir(&dir)
        .identity(serving.identity)
        .read_only(serving.read_only)
        .confirm(serving.confirm)
        .policy(serving.policy)
        .operations(serving.ops);
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
        Command::Plugins {
            common,
            config,
            json,
        } => {
            // The policy decides what loads, so `pier plugins` applies it too.
            let settings = Settings::find(config.as_deref())?;
            let serving = Serving {
                identity: None,
                read_only: false,
                confirm: settings.confirm.clone(),
                policy: settings.plugin_policy()?,
                ops: pier::ops::Operations::default(),
            };
            let (host, dir) = build(&common, serving, Start::Loaded).await?;
            if json {
                let reports = pier::reports_json(&host.reports());
                println!("{}", serde_json::to_string_pretty(&reports)?);
            } else {
                print!("{}", pier::reports_table(&dir, &host.reports()));
            }
        }
        Command::Inspect {
            file,
            manifest,
            json,
            cache_dir,
            no_cache,
        } => {
            let cache = if no_cache {
                None
            } else {
                cache_dir.or_else(pier::inspect::default_cache_dir)
            };
            let report = pier::inspect::inspect(&file, manifest.as_deref(), cache).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render());
            }
        }
        Command::Seal {
            file, remove: true, ..
        } => {
            if pier::seal::unseal(&file)? {
                println!("removed the listing from {}", file.display());
            } else {
                println!("{} has no listing", file.display());
            }
        }
        Command::Seal { file, manifest, .. } => {
            let sealed = pier::seal::seal(&file, manifest.as_deref()).await?;
            print!("{}", sealed.render());
        }
        Command::New {
            name,
            lang,
            dir,
            sdk,
        } => new_command(&name, &lang, dir, sdk.as_deref())?,
        Command::Audit(args) => audit_command(&args)?,
        Command::Keygen { out } => signing::keygen(&out)?,
        Command::Sign { file, key, version } => signing::sign(&file, &key, version.as_deref())?,
        Command::Verify { file, key } => signing::verify(&file, key.as_deref())?,
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
                Some(url) => ClientEntry::http(url, &header)?,
                None => {
                    let exe = std::env::current_exe().context("cannot tell where pier is")?;
                    let (plugins, settings) = (plugins.as_deref(), settings.as_deref());
                    ClientEntry::stdio(&exe, plugins, settings, identity, &env)?
                }
            };
            use pier::client_config::{Client, apply, snippet};
            // With --file, a named client still decides the format; only the location changes.
            let client = Client::parse(&client);
            if print {
                println!("{}", snippet(&client, &name, &entry)?);
            } else {
                let done = apply(&client, file.as_deref(), &name, &entry)?;
                println!("{}", done.describe(&name));
            }
        }
        Command::Grant {
            plugin,
            kind,
            value,
            mode,
            guest,
            plugins,
        } => {
            let dir = plugins.unwrap_or_else(default_plugin_dir);
            let path = pier::manifest_edit::manifest_for(&plugin, &dir)?;
            let grant = match kind {
                GrantKind::Network => Grant::Network(value.clone()),
                GrantKind::Http => Grant::Http(value.clone()),
                GrantKind::Env => Grant::Env(value.clone()),
                GrantKind::Files => Grant::Files {
                    host: PathBuf::from(&value),
                    guest,
                    mode: FileMode::parse(&mode).map_err(|e| anyhow::anyhow!("--mode {e}"))?,
                },
            };
            let (key, path_shown) = (grant.key(), path.display());
            match pier::manifest_edit::grant(&path, &grant)? {
                Edit::Added => println!("added {value:?} to {key} in {path_shown}"),
                Edit::AlreadyGranted => println!("{value:?} is already in {key} of {path_shown}"),
            }
        }
    }
    Ok(())
}

/// `pier audit`: the audit log's lines that match, as a table or as JSON lines.
fn audit_command(args: &AuditArgs) -> anyhow::Result<()> {
    use pier::ops::audit_query::{AuditFilters, AuditQuery, header, row};
    use std::io::Write;
    let file = match &args.file {
        Some(f) => f.clone(),
        None => {
            let settings = Settings::find(args.config.as_deref())?;
            settings.audit.map(|a| a.file).context(
                "no audit log: give --file, or set [audit] file = \"…\" in pier.toml (--config)",
            )?
        }
    };
    let filters = AuditFilters {
        identity: args.identity.as_deref(),
        tool: args.tool.as_deref(),
        outcome: args.outcome.as_deref(),
        since: args.since.as_deref(),
        until: args.until.as_deref(),
    };
    let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now());
    let query = AuditQuery::new(&filters, now).map_err(anyhow::Error::msg)?;
    let log = std::fs::File::open(&file)
        .with_context(|| format!("cannot read the audit log {}", file.display()))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !args.json {
        writeln!(out, "{}", header())?;
    }
    let scanned = query.scan(std::io::BufReader::new(log), |entry, line| {
        if args.json {
            writeln!(out, "{line}")
        } else {
            writeln!(out, "{}", row(entry))
        }
    });
    let scan = match scanned.and_then(|s| out.flush().map(|()| s)) {
        Ok(s) => s,
        // `pier audit | head`: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "{} of {} calls in {}",
        scan.matched,
        scan.read - scan.unreadable,
        file.display()
    );
    if scan.unreadable > 0 {
        eprintln!(
            "{} lines are not audit entries (a line cut short by a crash, or edited) and were skipped",
            scan.unreadable
        );
    }
    Ok(())
}

async fn serve_command(common: &Common, args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::find(args.config.as_deref())?;
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
    let flags = HttpFlags {
        tokens_file: args.tokens.clone(),
        allow_host: args.allow_host.clone(),
        allow_origin: args.allow_origin.clone(),
        stateless: args.stateless,
        identity_header: args.identity_header.clone(),
    };
    // Tokens are resolved before any plugin loads, so a bad tokens file stops pier at once.
    let http = match &listen {
        Some(addr) => Some(settings.http_options(addr, &flags, identity.clone())?),
        None => None,
    };
    // Plugins load in the background so `initialize` is answered at once; each plugin is
    // logged (stderr) as it becomes ready.
    let watching = !args.no_watch;
    let start = Start::Background { watch: watching };
    let serving = Serving {
        identity,
        read_only: args.read_only || settings.read_only,
        confirm: settings.confirm.clone(),
        policy: settings.plugin_policy()?,
        ops,
    };
    let (host, dir) = build(common, serving, start).await?;
    let version = env!("CARGO_PKG_VERSION");
    let Some(opts) = http else {
        tracing::info!(folder = %dir.display(), watching, "pier {version} serving MCP on stdio; plugins load in the background");
        if std::io::stdin().is_terminal() {
            eprintln!(
                "pier is speaking MCP on stdin/stdout. Point a client at it (see README), or press Ctrl-D to quit."
            );
        }
        host.serve_stdio().await?;
        return Ok(());
    };
    tracing::info!(folder = %dir.display(), watching, "pier {version}");
    // One machine-readable line on stdout (stdout is free on HTTP): scripts and tests started
    // with port 0 read the address from it.
    let bound = |addr| println!("listening on http://{addr}/mcp");
    host.serve_http(opts, bound, pier::http::shutdown_signal())
        .await?;
    Ok(())
}

/// `pier new`: writes the project and says how to build it.
fn new_command(
    name: &str,
    lang: &str,
    dir: Option<PathBuf>,
    sdk: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use pier::scaffold::{Language, SdkSource, create};
    let lang = Language::parse(lang)?;
    let sdk = SdkSource::find(sdk)?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    let created = create(lang, name, &dir, &sdk)?;
    for file in &created.files {
        println!("wrote {}", file.display());
    }
    match &sdk {
        SdkSource::Checkout(root) => println!("the SDK comes from {}", root.join("sdk").display()),
        SdkSource::Published => println!(
            "the SDK is named by version (pier-sdk / pier-plugin {}); until it is published, give --sdk a pier source checkout",
            env!("CARGO_PKG_VERSION")
        ),
    }
    println!("next: cd {} && {}", created.dir.display(), created.next);
    Ok(())
}
