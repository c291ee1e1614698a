//! `pier config`: adding pier to an MCP client's config file.
//!
//! Each client keeps its servers under its own key and shape: Claude Desktop, Cursor and Kiro
//! use `mcpServers` with `command`/`args`/`env` (Cursor and Kiro also `url`/`headers`), VS Code
//! uses `servers` with a `type` of `stdio` or `http`. The file is edited in place (see
//! [`json_edit`]): other servers, comments and formatting stay; the old file is copied to
//! `FILE.bak` before a change; running the same command twice changes nothing the second time.

pub mod json_edit;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub use json_edit::Change;

/// A known client, or any file given by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    Claude,
    Cursor,
    VsCode,
    Kiro,
    File(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag of `pier config` is malformed.
    #[error("{0}")]
    Argument(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("cannot find the home folder to locate {0}'s config; give the file's path instead")]
    NoHome(&'static str),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not JSON pier can edit: {reason}; fix it (or move it away) and run again")]
    Parse { path: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

/// How pier is started (stdio) or reached (HTTP).
#[derive(Debug, Clone)]
pub enum Entry {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

impl Entry {
    /// A client connecting to a running pier at `url`, with headers written "Name: value".
    pub fn http(url: String, headers: &[String]) -> Result<Self, ConfigError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::Argument(format!(
                "--url {url}: give the full address, as in http://127.0.0.1:8080/mcp"
            )));
        }
        let mut map = BTreeMap::new();
        for h in headers {
            let (k, v) = h.split_once(':').ok_or_else(|| {
                ConfigError::Argument(format!("--header {h:?}: write it as \"Name: value\""))
            })?;
            map.insert(k.trim().to_string(), v.trim().to_string());
        }
        Ok(Entry::Http { url, headers: map })
    }

    /// A client starting `exe serve` itself, with the given plugin folder, settings file and
    /// identity, and variables written NAME=VALUE. The client starts pier from a folder of its
    /// choosing, so every path is made absolute.
    pub fn stdio(
        exe: &Path,
        plugins: Option<&Path>,
        settings: Option<&Path>,
        identity: Option<String>,
        env: &[String],
    ) -> Result<Self, ConfigError> {
        let absolute = |p: &Path, flag: &str| {
            std::path::absolute(p)
                .map(|a| a.display().to_string())
                .map_err(|e| ConfigError::Argument(format!("{flag} {}: {e}", p.display())))
        };
        let exe = exe.canonicalize().unwrap_or_else(|_| exe.to_path_buf());
        let mut args = vec!["serve".to_string()];
        if let Some(p) = plugins {
            args.extend(["--plugins".to_string(), absolute(p, "--plugins")?]);
        }
        if let Some(s) = settings {
            args.extend(["--config".to_string(), absolute(s, "--config")?]);
        }
        if let Some(i) = identity {
            args.extend(["--identity".to_string(), i]);
        }
        let mut vars = BTreeMap::new();
        for e in env {
            let (k, v) = e.split_once('=').ok_or_else(|| {
                ConfigError::Argument(format!("--env {e:?}: write it as NAME=VALUE"))
            })?;
            vars.insert(k.to_string(), v.to_string());
        }
        Ok(Entry::Stdio {
            command: exe.display().to_string(),
            args,
            env: vars,
        })
    }
}

/// The two shapes a client's file can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `{"mcpServers": {NAME: {command, args, env} | {url, headers}}}`
    McpServers { remote: bool },
    /// VS Code: `{"servers": {NAME: {type: "stdio", command, ...} | {type: "http", url, ...}}}`
    Servers,
}

impl Client {
    pub fn parse(s: &str) -> Client {
        match s.to_ascii_lowercase().as_str() {
            "claude" | "claude-desktop" => Client::Claude,
            "cursor" => Client::Cursor,
            "vscode" | "code" | "vs-code" => Client::VsCode,
            "kiro" => Client::Kiro,
            _ => Client::File(PathBuf::from(s)),
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Client::Claude => "Claude Desktop",
            Client::Cursor => "Cursor",
            Client::VsCode => "VS Code",
            Client::Kiro => "Kiro",
            Client::File(_) => "the file",
        }
    }

    /// The client's user-level config file on this OS.
    pub fn default_path(&self) -> Result<PathBuf, ConfigError> {
        let home = || dirs::home_dir().ok_or(ConfigError::NoHome(self.label()));
        // dirs::config_dir(): ~/Library/Application Support (macOS), %APPDATA% (Windows),
        // $XDG_CONFIG_HOME or ~/.config (Linux): where Claude Desktop and VS Code keep theirs.
        let config = || dirs::config_dir().ok_or(ConfigError::NoHome(self.label()));
        Ok(match self {
            Client::Claude => config()?.join("Claude").join("claude_desktop_config.json"),
            Client::VsCode => config()?.join("Code").join("User").join("mcp.json"),
            Client::Cursor => home()?.join(".cursor").join("mcp.json"),
            Client::Kiro => home()?.join(".kiro").join("settings").join("mcp.json"),
            Client::File(p) => p.clone(),
        })
    }

    fn format(&self, existing: &str, path: &Path) -> Format {
        match self {
            Client::Claude => Format::McpServers { remote: false },
            Client::Cursor | Client::Kiro => Format::McpServers { remote: true },
            Client::VsCode => Format::Servers,
            Client::File(_) => {
                // A file of servers already says its shape; otherwise `.vscode/mcp.json` is
                // VS Code's workspace file and anything else takes the common `mcpServers`.
                let parsed: Option<Value> = serde_json::from_str(existing).ok();
                let has = |k: &str| parsed.as_ref().is_some_and(|v| v.get(k).is_some());
                let in_vscode = path
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|n| n == ".vscode");
                if has("servers") || (!has("mcpServers") && in_vscode) {
                    Format::Servers
                } else {
                    Format::McpServers { remote: true }
                }
            }
        }
    }
}

impl Format {
    fn container(self) -> &'static str {
        match self {
            Format::McpServers { .. } => "mcpServers",
            Format::Servers => "servers",
        }
    }

    fn render(self, entry: &Entry, client: &Client) -> Result<Value, ConfigError> {
        let mut v = match entry {
            Entry::Stdio { command, args, env } => {
                let mut v = json!({ "command": command, "args": args });
                if !env.is_empty() {
                    v["env"] = json!(env);
                }
                if self == Format::Servers {
                    v = merge(json!({"type": "stdio"}), v);
                }
                v
            }
            Entry::Http { url, headers } => {
                if self == (Format::McpServers { remote: false }) {
                    return Err(ConfigError::Unsupported(format!(
                        "{}'s config file only starts local (stdio) servers; add a remote server in its Settings → Connectors instead, or leave out --url to have it start pier",
                        client.label()
                    )));
                }
                let mut v = json!({ "url": url });
                if !headers.is_empty() {
                    v["headers"] = json!(headers);
                }
                if self == Format::Servers {
                    v = merge(json!({"type": "http"}), v);
                }
                v
            }
        };
        if let Value::Object(m) = &mut v {
            m.retain(|_, x| !x.is_null());
        }
        Ok(v)
    }
}

/// `a`'s keys first, then `b`'s (so `type` leads, as VS Code's docs show it).
fn merge(a: Value, b: Value) -> Value {
    let mut out = serde_json::Map::new();
    for v in [a, b] {
        if let Value::Object(m) = v {
            out.extend(m);
        }
    }
    Value::Object(out)
}

/// The result of [`apply`].
#[derive(Debug)]
pub struct Applied {
    pub path: PathBuf,
    pub change: Change,
    pub backup: Option<PathBuf>,
}

impl Applied {
    /// What `pier config` tells the user about the change to server `name`.
    pub fn describe(&self, name: &str) -> String {
        let path = self.path.display();
        let mut lines = vec![match self.change {
            Change::Unchanged => format!("{name} in {path} is already up to date"),
            Change::Added => format!("added {name} to {path}"),
            Change::Replaced => format!("updated {name} in {path}"),
        }];
        if let Some(b) = &self.backup {
            lines.push(format!("the previous file is saved as {}", b.display()));
        }
        if self.change != Change::Unchanged {
            lines.push(
                "restart the client (or reload its MCP servers) to pick the change up".into(),
            );
        }
        lines.join("\n")
    }
}

/// The JSON snippet for `--print`: the container key with pier's entry in it.
pub fn snippet(client: &Client, name: &str, entry: &Entry) -> Result<String, ConfigError> {
    let path = client.default_path().unwrap_or_default();
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let format = client.format(&existing, &path);
    let value = format.render(entry, client)?;
    let doc = json!({ format.container(): { name: value } });
    Ok(serde_json::to_string_pretty(&doc).unwrap_or_default())
}

/// Adds or updates `name` in the client's file (`path` overrides the default location).
pub fn apply(
    client: &Client,
    path: Option<&Path>,
    name: &str,
    entry: &Entry,
) -> Result<Applied, ConfigError> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => client.default_path()?,
    };
    let shown = path.display().to_string();
    let existing = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(ConfigError::Read {
                path: shown,
                reason: e.to_string(),
            });
        }
    };
    let text = existing.as_deref().unwrap_or("");
    let format = client.format(text, &path);
    let value = format.render(entry, client)?;
    let (new_text, change) =
        json_edit::upsert(text, format.container(), name, &value).map_err(|e| {
            ConfigError::Parse {
                path: shown.clone(),
                reason: e.to_string(),
            }
        })?;
    if change == Change::Unchanged {
        return Ok(Applied {
            path,
            change,
            backup: None,
        });
    }
    let write_err = |e: std::io::Error| ConfigError::Write {
        path: shown.clone(),
        reason: e.to_string(),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(write_err)?;
    }
    let backup = match &existing {
        Some(old) => {
            let b = PathBuf::from(format!("{}.bak", path.display()));
            std::fs::write(&b, old).map_err(write_err)?;
            Some(b)
        }
        None => None,
    };
    // Write beside the file and rename, so a crash never leaves half a config.
    let tmp = PathBuf::from(format!("{}.pier-tmp", path.display()));
    std::fs::write(&tmp, &new_text).map_err(write_err)?;
    if let Ok(meta) = std::fs::metadata(&path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, &path).map_err(write_err)?;
    Ok(Applied {
        path,
        change,
        backup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio() -> Entry {
        Entry::Stdio {
            command: "/opt/pier".into(),
            args: vec!["serve".into()],
            env: BTreeMap::from([("PIER_IDENTITY".into(), "me".into())]),
        }
    }

    #[test]
    fn shapes_per_client() {
        let v = Format::Servers
            .render(&stdio(), &Client::VsCode)
            .expect("render");
        assert_eq!(v["type"], "stdio");
        assert_eq!(v["env"]["PIER_IDENTITY"], "me");
        let http = Entry::Http {
            url: "http://127.0.0.1:8080/mcp".into(),
            headers: BTreeMap::from([("Authorization".into(), "Bearer x".into())]),
        };
        let v = Format::Servers
            .render(&http, &Client::VsCode)
            .expect("render");
        assert_eq!(v["type"], "http");
        let v = Format::McpServers { remote: true }
            .render(&http, &Client::Cursor)
            .expect("render");
        assert!(v.get("type").is_none() && v["url"].is_string());
        let e = Format::McpServers { remote: false }
            .render(&http, &Client::Claude)
            .expect_err("claude is stdio only");
        assert!(e.to_string().contains("Connectors"), "{e}");
    }

    #[test]
    fn file_format_follows_its_content() {
        let c = Client::File("x.json".into());
        assert_eq!(
            c.format("{\"servers\": {}}", Path::new("x.json")),
            Format::Servers
        );
        assert_eq!(
            c.format("", Path::new("/p/.vscode/mcp.json")),
            Format::Servers
        );
        assert_eq!(
            c.format("{}", Path::new("mcp.json")),
            Format::McpServers { remote: true }
        );
    }
}
