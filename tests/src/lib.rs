//! Helpers for the end-to-end tests: a temporary plugin folder, the real `pier` binary started
//! as a child process, and rmcp's client talking to it over stdio.
//!
//! `cargo xtask test` builds the binary and the plugins and passes their locations in
//! `PIER_BIN` and `PIER_TEST_PLUGINS`.

pub mod fake_http;
pub mod github;
pub mod http;
pub mod postgres;
pub mod slack;

use std::path::{Path, PathBuf};

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{Peer, RoleClient, RunningService, ServiceError};
use rmcp::transport::TokioChildProcess;
use serde_json::Value;

pub type Client = RunningService<RoleClient, Consenting>;

/// A client without any of the client capabilities (no elicitation, sampling or roots).
pub type PlainClient = RunningService<RoleClient, ()>;

/// The tests' client: it declares elicitation and answers each form like a user who accepts
/// (or, made with `declining`, declines) it, remembering the messages it was shown. pier asks
/// through it before a tool that needs confirmation runs.
#[derive(Clone, Debug, Default)]
pub struct Consenting {
    pub asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The URIs of the `notifications/resources/updated` it heard.
    pub updated: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    decline: bool,
}

impl Consenting {
    pub fn declining() -> Self {
        Consenting {
            decline: true,
            ..Consenting::default()
        }
    }

    /// The messages of the forms it was shown so far.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl rmcp::ClientHandler for Consenting {
    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        if let Ok(mut updated) = self.updated.lock() {
            updated.push(params.uri);
        }
    }

    async fn create_elicitation(
        &self,
        request: rmcp::model::ElicitRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        use rmcp::model::{ElicitRequestParams as P, ElicitResult, ElicitationAction};
        let message = match &request {
            P::FormElicitationParams { message, .. } | P::UrlElicitationParams { message, .. } => {
                message.clone()
            }
            _ => String::new(),
        };
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(message);
        }
        Ok(if self.decline {
            ElicitResult::new(ElicitationAction::Decline)
        } else {
            ElicitResult::new(ElicitationAction::Accept).with_content(serde_json::json!({}))
        })
    }

    fn get_info(&self) -> rmcp::model::ClientConfig {
        let mut info = rmcp::model::ClientConfig::default();
        info.capabilities.elicitation = Some(rmcp::model::ElicitationCapability::default());
        info
    }
}

/// A client that reports every `notifications/tools/list_changed` it receives.
#[derive(Clone)]
pub struct ListWatcher {
    changed: tokio::sync::mpsc::UnboundedSender<()>,
}

impl rmcp::ClientHandler for ListWatcher {
    async fn on_tool_list_changed(&self, _context: rmcp::service::NotificationContext<RoleClient>) {
        let _ = self.changed.send(());
    }
}

pub type WatchingClient = RunningService<RoleClient, ListWatcher>;

/// One `notifications/progress` a client heard: progress, total, message.
pub type Progress = (f64, Option<f64>, Option<String>);

/// A client that reports every `notifications/progress` it receives.
#[derive(Clone)]
pub struct ProgressWatcher {
    heard: tokio::sync::mpsc::UnboundedSender<Progress>,
}

impl rmcp::ClientHandler for ProgressWatcher {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        let _ = self
            .heard
            .send((params.progress, params.total, params.message));
    }
}

pub type ProgressClient = RunningService<RoleClient, ProgressWatcher>;

/// Receives the list_changed notifications of a [`WatchingClient`].
pub type Changes = tokio::sync::mpsc::UnboundedReceiver<()>;

fn env_path(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) => PathBuf::from(p),
        None => panic!("{var} is not set: run the end-to-end tests with `cargo xtask test`"),
    }
}

pub fn pier_bin() -> PathBuf {
    env_path("PIER_BIN")
}

/// A staged plugin binary (`filesystem`, `probe`).
pub fn plugin_wasm(name: &str) -> PathBuf {
    env_path("PIER_TEST_PLUGINS").join(format!("{name}.wasm"))
}

/// A scratch area with a plugin folder, a compile cache and room for granted directories.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            tmp: tempfile::tempdir().expect("create temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn plugins(&self) -> PathBuf {
        let p = self.path().join("plugins");
        std::fs::create_dir_all(&p).expect("create plugin dir");
        p
    }

    pub fn cache(&self) -> PathBuf {
        self.path().join("cache")
    }

    /// Makes a directory under the fixture and returns its canonical path.
    pub fn dir(&self, rel: &str) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(&p).expect("create dir");
        p.canonicalize().expect("canonicalize")
    }

    /// Installs staged plugin `staged` as `name.wasm`, with `manifest` as `name.toml` if given.
    pub fn install(&self, staged: &str, name: &str, manifest: Option<&str>) {
        let dir = self.plugins();
        std::fs::copy(plugin_wasm(staged), dir.join(format!("{name}.wasm"))).expect("copy plugin");
        if let Some(m) = manifest {
            std::fs::write(dir.join(format!("{name}.toml")), m).expect("write manifest");
        }
    }

    /// A `pier serve` command for this fixture.
    pub fn serve_command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(pier_bin());
        cmd.arg("serve")
            .arg("--plugins")
            .arg(self.plugins())
            .arg("--cache-dir")
            .arg(self.cache())
            .env("RUST_LOG", "warn");
        cmd
    }

    /// Starts `pier serve` and completes the MCP handshake.
    pub async fn connect(&self) -> Client {
        let transport = TokioChildProcess::builder(self.serve_command())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn pier")
            .0;
        Consenting::default()
            .serve(transport)
            .await
            .expect("MCP initialize")
    }

    /// Starts `pier serve` with a client that hears list_changed; stderr goes to `stderr.log`
    /// in the fixture so tests can read what pier reported.
    pub async fn connect_watching(&self, extra: &[&str]) -> (WatchingClient, Changes) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let client = ListWatcher { changed: tx }
            .serve(self.spawn_logged(extra, &[]))
            .await
            .expect("MCP initialize");
        (client, rx)
    }

    /// Starts `pier serve` with extra arguments and environment; stderr goes to `stderr.log`.
    pub async fn connect_with(&self, args: &[&str], env: &[(&str, &str)]) -> Client {
        self.connect_as(Consenting::default(), args, env).await
    }

    /// [`Fixture::connect_with`] for a given test client (one that declines, say).
    pub async fn connect_as(
        &self,
        client: Consenting,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Client {
        client
            .serve(self.spawn_logged(args, env))
            .await
            .expect("MCP initialize")
    }

    /// [`Fixture::connect_with`] for a client that declares no client capabilities.
    pub async fn connect_plain(&self, args: &[&str], env: &[(&str, &str)]) -> PlainClient {
        ().serve(self.spawn_logged(args, env))
            .await
            .expect("MCP initialize")
    }

    /// [`Fixture::connect_with`] with a client that hears progress notifications.
    pub async fn connect_hearing_progress(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (
        ProgressClient,
        tokio::sync::mpsc::UnboundedReceiver<Progress>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let client = ProgressWatcher { heard: tx }
            .serve(self.spawn_logged(args, env))
            .await
            .expect("MCP initialize");
        (client, rx)
    }

    /// `pier serve` with `args` and `env`, logging at info level to `stderr.log`.
    fn spawn_logged(&self, args: &[&str], env: &[(&str, &str)]) -> TokioChildProcess {
        let mut cmd = self.serve_command();
        cmd.args(args).env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let log = std::fs::File::create(self.path().join("stderr.log")).expect("create log");
        TokioChildProcess::builder(cmd)
            .stderr(std::process::Stdio::from(log))
            .spawn()
            .expect("spawn pier")
            .0
    }

    /// Runs `pier serve ARGS` with `env`, which must fail to start; returns its stderr.
    pub async fn serve_fails(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let mut cmd = self.serve_command();
        cmd.args(args).env_remove("PIER_TOKEN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().await.expect("run pier");
        assert!(!out.status.success(), "pier started with {args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// What pier wrote to stderr so far (see [`Fixture::connect_watching`]).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.path().join("stderr.log")).unwrap_or_default()
    }

    /// `pier serve` on this fixture's folder with raw pipes (stdin, stdout piped; stderr
    /// dropped), for tests that speak JSON-RPC lines themselves.
    pub fn spawn_raw(&self, env: &[(&str, &str)]) -> std::process::Child {
        let mut cmd = std::process::Command::new(pier_bin());
        cmd.args(["serve", "--plugins"])
            .arg(self.plugins())
            .arg("--cache-dir")
            .arg(self.cache())
            .env("RUST_LOG", "off")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("spawn pier")
    }

    /// Runs `pier plugins --json` and returns the parsed report.
    pub fn plugins_report(&self) -> Value {
        self.plugins_report_with(&[])
    }

    /// [`Fixture::plugins_report`] with more arguments (`--config pier.toml`).
    pub fn plugins_report_with(&self, args: &[&str]) -> Value {
        let out = std::process::Command::new(pier_bin())
            .arg("plugins")
            .arg("--json")
            .args(args)
            .arg("--plugins")
            .arg(self.plugins())
            .arg("--cache-dir")
            .arg(self.cache())
            .env("RUST_LOG", "off")
            .output()
            .expect("run pier plugins");
        assert!(
            out.status.success(),
            "pier plugins failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("pier plugins --json prints JSON")
    }
}

/// The JSON-RPC answers a raw pier writes to stdout, read on a thread of their own so that a
/// test waiting for one fails after a deadline instead of hanging.
pub struct Answers(std::sync::mpsc::Receiver<Value>);

impl Answers {
    pub fn read(stdout: std::process::ChildStdout) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    panic!("pier wrote a line that is not JSON: {line}");
                };
                // Responses only: notifications (list_changed and the like) are skipped.
                if v.get("method").is_none() && tx.send(v).is_err() {
                    return;
                }
            }
        });
        Answers(rx)
    }

    /// The next answer, or a panic saying none came within `within`.
    pub fn next(&self, within: std::time::Duration) -> Value {
        self.0
            .recv_timeout(within)
            .unwrap_or_else(|e| panic!("no answer from pier within {within:?} ({e})"))
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

/// A manifest granting `dirs` (host path, mode) and nothing else.
pub fn files_manifest(dirs: &[(&Path, &str)]) -> String {
    dirs.iter()
        .map(|(p, mode)| {
            format!(
                "[[grants.files]]\nhost = {:?}\nmode = {mode:?}\n",
                p.display().to_string()
            )
        })
        .collect()
}

pub async fn call(
    client: &Peer<RoleClient>,
    tool: &str,
    args: Value,
) -> Result<CallToolResult, ServiceError> {
    client.call_tool(call_params(tool, args)).await
}

/// A `tools/call` request for `tool` with `args` (an object).
fn call_params(tool: &str, args: Value) -> CallToolRequestParams {
    let params = CallToolRequestParams::new(tool.to_string());
    match args {
        Value::Object(map) => params.with_arguments(map),
        _ => params,
    }
}

/// [`call`] with a progress token, so the server may send progress notifications for it.
pub async fn call_with_progress(
    client: &Peer<RoleClient>,
    tool: &str,
    args: Value,
) -> Result<CallToolResult, ServiceError> {
    use rmcp::model::RequestParamsMeta;
    let mut params = call_params(tool, args);
    params.set_progress_token(rmcp::model::ProgressToken(
        rmcp::model::NumberOrString::String("pier-test".into()),
    ));
    client.call_tool(params).await
}

/// Calls a tool that must succeed and returns the result.
pub async fn ok(client: &Peer<RoleClient>, tool: &str, args: Value) -> CallToolResult {
    let r = call(client, tool, args.clone())
        .await
        .unwrap_or_else(|e| panic!("{tool}({args}) failed at the protocol level: {e}"));
    assert_ne!(
        r.is_error,
        Some(true),
        "{tool}({args}) returned a tool error: {}",
        text(&r)
    );
    r
}

/// Calls a tool that must fail as a tool error (is_error) and returns its text.
pub async fn tool_error(client: &Peer<RoleClient>, tool: &str, args: Value) -> String {
    let r = call(client, tool, args.clone())
        .await
        .unwrap_or_else(|e| panic!("{tool}({args}) failed at the protocol level: {e}"));
    assert_eq!(
        r.is_error,
        Some(true),
        "{tool}({args}) should have failed: {}",
        text(&r)
    );
    text(&r)
}

/// The names of every tool the server lists, sorted.
pub async fn tool_names(client: &Peer<RoleClient>) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

/// All text blocks of a result, joined.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn structured(r: &CallToolResult) -> &Value {
    r.structured_content.as_ref().expect("structured content")
}
