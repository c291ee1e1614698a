//! The plugin manifest (`NAME.toml` beside `NAME.wasm`): parse, validate, and turn into settings.
//!
//! Deny by default: a plugin without a manifest, or with an empty one, gets no files, no
//! environment and the default limits. Every error names the file, the key and what is allowed,
//! because the person reading it is editing that file.
//!
//! Longer than most files here because it is the one place that knows every manifest key (the
//! raw TOML shape, each key's check and message, the defaults); split, one key's rule would be
//! read in several files. The grammars of grant entries live in `grammar/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::grammar::files::{FileGrant, FileMode};
use crate::grammar::http::{AuthKeys, Credential, HttpGrant};
use crate::grammar::network::NetworkGrant;
use crate::policy::{ToolFilter, ToolGlobs};

/// Defaults that apply when `[limits]` leaves a value out.
pub const DEFAULT_MEMORY: u64 = 256 * 1024 * 1024;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_INSTANCES: u32 = 4;
/// Calls that may wait for a busy plugin before more are refused outright.
pub const DEFAULT_QUEUE: u32 = 64;
/// Largest tool result (all content and structured output) a plugin may return.
pub const DEFAULT_RESULT_SIZE: u64 = 16 * 1024 * 1024;
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_HTTP_RESPONSE_SIZE: u64 = 32 * 1024 * 1024;
/// Crashes (traps, timeouts, memory overruns) within the window that open the circuit.
pub const DEFAULT_FAILURES: u32 = 5;
pub const DEFAULT_FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How long an open circuit refuses calls before one trial; doubles after a failed trial.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(10);

/// A manifest problem, always tied to the file it came from.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ManifestError {
    pub path: String,
    pub message: String,
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Where the manifest lives (or would live); quoted in every denial.
    pub path: PathBuf,
    /// `[plugin].name`: overrides the file stem as the tool prefix.
    pub name: Option<String>,
    /// `[plugin].prefix`: what exposed tool and prompt names start with instead of the plugin's
    /// name; `""` exposes them as the plugin names them (for a plugin that replaces a server
    /// whose tool names prompts and allow-lists already use).
    pub prefix: Option<String>,
    /// `[plugin].sha256`: refuse to load a binary with any other digest.
    pub sha256: Option<String>,
    /// `[plugin].version`: the version the installer declares (semver), which `[policy]`
    /// version ranges read when no publisher signed one.
    pub version: Option<semver::Version>,
    pub files: Vec<FileGrant>,
    pub env: Vec<String>,
    /// `[grants].network`: outgoing TCP destinations.
    pub network: Vec<NetworkGrant>,
    /// `[grants].block_private`: wildcard network grants never lead to private addresses.
    pub block_private: bool,
    /// `[grants].http`: origins reachable through `wasi:http`.
    pub http: Vec<HttpGrant>,
    pub limits: Limits,
    /// `[config]` as key -> value text (strings as-is, anything else as JSON).
    pub config: BTreeMap<String, String>,
    pub tools: ToolFilter,
    /// `[tools] confirm`: the plugin's own tools whose calls the user confirms first. When set
    /// (even to `[]`) it replaces the list the plugin gives in `about`.
    pub confirm: Option<ToolGlobs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of linear memory one instance may use.
    pub memory: u64,
    /// Wall-clock time one call may take.
    pub timeout: Duration,
    /// Instances (so concurrent calls) of this plugin.
    pub instances: u32,
    /// Calls that may wait for an instance; beyond this they fail at once.
    pub queue: u32,
    /// Bytes a single result may carry.
    pub result_size: u64,
    /// Time limit of one outgoing HTTP request (connect, first byte, between bytes, total).
    pub http_timeout: Duration,
    /// Bytes an HTTP response body may carry.
    pub http_response_size: u64,
    /// Crashes within `failure_window` that open the plugin's circuit.
    pub failures: u32,
    pub failure_window: Duration,
    /// How long an open circuit refuses calls before it lets one through.
    pub cooldown: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: DEFAULT_MEMORY,
            timeout: DEFAULT_TIMEOUT,
            instances: DEFAULT_INSTANCES,
            queue: DEFAULT_QUEUE,
            result_size: DEFAULT_RESULT_SIZE,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            http_response_size: DEFAULT_HTTP_RESPONSE_SIZE,
            failures: DEFAULT_FAILURES,
            failure_window: DEFAULT_FAILURE_WINDOW,
            cooldown: DEFAULT_COOLDOWN,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    plugin: RawPlugin,
    #[serde(default)]
    grants: RawGrants,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    config: toml::Table,
    #[serde(default)]
    tools: RawTools,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    name: Option<String>,
    prefix: Option<String>,
    sha256: Option<String>,
    version: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGrants {
    #[serde(default)]
    files: Vec<RawFileGrant>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    network: Vec<String>,
    #[serde(default)]
    block_private: bool,
    /// Origin strings, or `{ origin = "…", auth = { … } }` tables.
    #[serde(default)]
    http: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpGrant {
    origin: String,
    auth: Option<RawAuth>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    bearer_env: Option<String>,
    bearer_file: Option<String>,
    basic_user: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    header: Option<String>,
    prefix: Option<String>,
    query: Option<String>,
    value_env: Option<String>,
    value_file: Option<String>,
}

/// One `[grants].http` entry: an origin string, or a table with an origin and its credential.
fn http_grant(value: &toml::Value, base: &Path) -> Result<HttpGrant, String> {
    let raw: RawHttpGrant = match value {
        toml::Value::String(origin) => return HttpGrant::parse(origin),
        toml::Value::Table(_) => value
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| e.message().trim_end().to_string())?,
        other => {
            return Err(format!(
                "expected an origin (\"https://api.example.com\") or a table {{ origin = \"…\", auth = {{ … }} }}, not a {}",
                other.type_str()
            ));
        }
    };
    let mut grant = HttpGrant::parse(&raw.origin)?;
    if let Some(a) = raw.auth {
        if grant.host.starts_with("*.") {
            return Err(format!(
                "{:?}: a credential needs an exact origin; with a wildcard pier would send it to every subdomain",
                raw.origin
            ));
        }
        let file = |f: Option<String>| f.map(|f| resolve_host_path(&f, base));
        let keys = AuthKeys {
            bearer_env: a.bearer_env,
            bearer_file: file(a.bearer_file),
            basic_user: a.basic_user,
            password_env: a.password_env,
            password_file: file(a.password_file),
            header: a.header,
            prefix: a.prefix,
            query: a.query,
            value_env: a.value_env,
            value_file: file(a.value_file),
        };
        let credential = Credential::from_keys(keys).map_err(|e| format!("auth: {e}"))?;
        grant.credential = Some(credential);
    }
    Ok(grant)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileGrant {
    host: String,
    guest: Option<String>,
    mode: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory: Option<String>,
    timeout: Option<String>,
    instances: Option<i64>,
    queue: Option<i64>,
    result_size: Option<String>,
    http_timeout: Option<String>,
    http_response_size: Option<String>,
    failures: Option<i64>,
    failure_window: Option<String>,
    cooldown: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTools {
    allow: Option<Vec<String>>,
    #[serde(default)]
    deny: Vec<String>,
    confirm: Option<Vec<String>>,
}

impl Manifest {
    /// The manifest of a plugin that has none: no grants, default limits.
    pub fn empty(path: impl Into<PathBuf>) -> Self {
        Manifest {
            path: path.into(),
            name: None,
            prefix: None,
            sha256: None,
            version: None,
            files: Vec::new(),
            env: Vec::new(),
            network: Vec::new(),
            block_private: false,
            http: Vec::new(),
            limits: Limits::default(),
            config: BTreeMap::new(),
            tools: ToolFilter::allow_all(),
            confirm: None,
        }
    }

    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            path: path.display().to_string(),
            message: format!("cannot read: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, path, base)
    }

    /// Validates manifest text. `path` is used in messages; relative `[grants].files` host paths
    /// are resolved against `base` (the manifest's folder), so a manifest means the same thing
    /// whatever the current directory is.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Self, ManifestError> {
        let err = |message: String| ManifestError {
            path: path.display().to_string(),
            message,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| err(describe_toml_error(&e, text)))?;

        if let Some(name) = &raw.plugin.name {
            validate_plugin_name(name).map_err(|m| err(format!("[plugin].name: {m}")))?;
        }
        if let Some(prefix) = raw.plugin.prefix.as_deref().filter(|p| !p.is_empty()) {
            validate_plugin_name(prefix).map_err(|m| err(format!("[plugin].prefix: {m}")))?;
        }
        let version = raw
            .plugin
            .version
            .as_deref()
            .map(crate::policy::signature::parse_version)
            .transpose()
            .map_err(|m| err(format!("[plugin].version: {m}")))?;
        let sha256 = match raw.plugin.sha256 {
            None => None,
            Some(s) => {
                let s = s.trim().to_ascii_lowercase();
                if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(err(format!(
                        "[plugin].sha256: expected 64 hex digits (the output of `sha256sum NAME.wasm`), got {s:?}"
                    )));
                }
                Some(s)
            }
        };

        let mut files = Vec::new();
        for (i, f) in raw.grants.files.iter().enumerate() {
            let key = format!("[grants].files[{i}]");
            let mode = FileMode::parse(f.mode.as_deref().unwrap_or("ro"))
                .map_err(|e| err(format!("{key}.mode: {e}")))?;
            let host = resolve_host_path(&f.host, base);
            let host = host.canonicalize().map_err(|e| {
                err(format!(
                    "{key}.host: {} cannot be granted: {e}",
                    host.display()
                ))
            })?;
            if !host.is_dir() {
                return Err(err(format!(
                    "{key}.host: {} is not a directory; grants are for directories",
                    host.display()
                )));
            }
            let guest = match &f.guest {
                Some(g) => g.trim_end_matches('/').to_string(),
                None => host.to_string_lossy().into_owned(),
            };
            if !guest.starts_with('/') || guest.split('/').any(|c| c == ".." || c == ".") {
                return Err(err(format!(
                    "{key}.guest: {guest:?} must be an absolute path without `.` or `..` parts"
                )));
            }
            if let Some(prev) = files.iter().position(|g: &FileGrant| g.guest == guest) {
                return Err(err(format!(
                    "{key}.guest: {guest:?} is already used by [grants].files[{prev}]"
                )));
            }
            files.push(FileGrant { host, guest, mode });
        }

        for (i, name) in raw.grants.env.iter().enumerate() {
            if name.is_empty()
                || name.contains('=')
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(err(format!(
                    "[grants].env[{i}]: {name:?} is not an environment variable name (letters, digits, `_`)"
                )));
            }
        }

        let network = raw
            .grants
            .network
            .iter()
            .enumerate()
            .map(|(i, g)| {
                NetworkGrant::parse(g).map_err(|e| err(format!("[grants].network[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let http = raw
            .grants
            .http
            .iter()
            .enumerate()
            .map(|(i, g)| http_grant(g, base).map_err(|e| err(format!("[grants].http[{i}]: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        // An origin with a credential must be the only entry for that origin, so it is never
        // unclear whether a request carries it.
        for (i, g) in http.iter().enumerate() {
            let same = |o: &HttpGrant| o.https == g.https && o.host == g.host && o.port == g.port;
            if let Some(j) = http[..i].iter().position(same)
                && (g.credential.is_some() || http[j].credential.is_some())
            {
                return Err(err(format!(
                    "[grants].http[{i}]: {} is already granted at [grants].http[{j}]; give an origin with a credential once",
                    g.text
                )));
            }
        }

        let mut limits = Limits::default();
        if let Some(m) = &raw.limits.memory {
            limits.memory =
                parse_size(m, MIB..=16 * GIB).map_err(|e| err(format!("[limits].memory: {e}")))?;
        }
        if let Some(m) = &raw.limits.result_size {
            limits.result_size =
                parse_size(m, KIB..=GIB).map_err(|e| err(format!("[limits].result_size: {e}")))?;
        }
        if let Some(m) = &raw.limits.http_response_size {
            limits.http_response_size = parse_size(m, KIB..=16 * GIB)
                .map_err(|e| err(format!("[limits].http_response_size: {e}")))?;
        }
        if let Some(t) = &raw.limits.http_timeout {
            limits.http_timeout =
                parse_duration(t).map_err(|e| err(format!("[limits].http_timeout: {e}")))?;
        }
        if let Some(n) = raw.limits.failures {
            if !(1..=10_000).contains(&n) {
                return Err(err(format!(
                    "[limits].failures: {n} is out of range; use 1 to 10000"
                )));
            }
            limits.failures = n as u32;
        }
        if let Some(t) = &raw.limits.failure_window {
            limits.failure_window =
                parse_duration(t).map_err(|e| err(format!("[limits].failure_window: {e}")))?;
        }
        if let Some(t) = &raw.limits.cooldown {
            limits.cooldown =
                parse_duration(t).map_err(|e| err(format!("[limits].cooldown: {e}")))?;
        }
        if let Some(n) = raw.limits.queue {
            if !(0..=100_000).contains(&n) {
                return Err(err(format!(
                    "[limits].queue: {n} is out of range; use 0 (never wait) to 100000"
                )));
            }
            limits.queue = n as u32;
        }
        if let Some(t) = &raw.limits.timeout {
            limits.timeout =
                parse_duration(t).map_err(|e| err(format!("[limits].timeout: {e}")))?;
        }
        if let Some(n) = raw.limits.instances {
            if !(1..=256).contains(&n) {
                return Err(err(format!(
                    "[limits].instances: {n} is out of range; use 1 to 256"
                )));
            }
            limits.instances = n as u32;
        }

        let config = raw
            .config
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    toml::Value::String(s) => s,
                    other => serde_json::to_string(&other).unwrap_or_else(|_| other.to_string()),
                };
                (k, text)
            })
            .collect();

        let tools = ToolFilter::new(raw.tools.allow.as_deref(), &raw.tools.deny)
            .map_err(|e| err(format!("[tools]: {e}")))?;
        let confirm = raw
            .tools
            .confirm
            .as_deref()
            .map(|c| ToolGlobs::new("confirm", c))
            .transpose()
            .map_err(|e| err(format!("[tools]: {e}")))?;

        Ok(Manifest {
            path: path.to_path_buf(),
            name: raw.plugin.name,
            prefix: raw.plugin.prefix,
            sha256,
            version,
            files,
            env: raw.grants.env,
            network,
            block_private: raw.grants.block_private,
            http,
            limits,
            config,
            tools,
            confirm,
        })
    }
}

/// Plugin names become tool prefixes, so they follow the tool-name alphabet and leave room for
/// the tool part within the 64-character limit clients enforce.
pub fn validate_plugin_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 32 {
        return Err(format!("{name:?} must be 1 to 32 characters long"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "{name:?} may contain only ASCII letters, digits, `-` and `_` (it prefixes tool names)"
        ));
    }
    Ok(())
}

fn resolve_host_path(raw: &str, base: &Path) -> PathBuf {
    if (raw == "~" || raw.starts_with("~/"))
        && let Some(home) = dirs::home_dir()
    {
        return home.join(raw.trim_start_matches('~').trim_start_matches('/'));
    }
    let p = PathBuf::from(raw);
    if p.is_absolute() { p } else { base.join(p) }
}

/// Shortens toml's multi-line report to one line that still says where (line:column) and what.
fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    let what = e
        .message()
        .replace("unknown field", "unknown key")
        .replace("expected one of", "allowed keys are");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {col}: {what}")
        }
        None => what,
    }
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Parses sizes such as `64MiB`, `1 GiB`, `512KiB`, `1048576`, within `range`.
pub fn parse_size(text: &str, range: std::ops::RangeInclusive<u64>) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size; write e.g. \"128MiB\" or \"1GiB\""))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1024,
        "MiB" | "M" | "MB" => 1024 * 1024,
        "GiB" | "G" | "GB" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use B, KiB, MiB or GiB"
            ));
        }
    };
    let bytes = n.saturating_mul(mult);
    if !range.contains(&bytes) {
        return Err(format!(
            "{text:?} is out of range; use {} to {}",
            show_size(*range.start()),
            show_size(*range.end())
        ));
    }
    Ok(bytes)
}

fn show_size(bytes: u64) -> String {
    match bytes {
        b if b >= GIB && b % GIB == 0 => format!("{}GiB", b / GIB),
        b if b >= MIB && b % MIB == 0 => format!("{}MiB", b / MIB),
        b if b % KIB == 0 => format!("{}KiB", b / KIB),
        b => format!("{b}B"),
    }
}

/// Parses durations such as `30s`, `500ms`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write e.g. \"30s\" or \"500ms\""))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" | "" => Duration::from_secs(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use ms, s or m"
            ));
        }
    };
    if d < Duration::from_millis(10) || d > Duration::from_secs(3600) {
        return Err(format!("{text:?} is out of range; use 10ms to 60m"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::http::{Injection, SecretSource};

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("plugins/x.toml"), Path::new("."))
    }

    #[test]
    fn http_grants_may_carry_a_credential_in_one_of_four_forms() {
        let m = parse(
            r#"[grants]
http = [
  "https://plain.example.com",
  { origin = "https://api.github.com", auth = { bearer_env = "GITHUB_TOKEN" } },
  { origin = "https://b.example.com", auth = { basic_user = "bot", password_file = "/run/pw" } },
  { origin = "https://h.example.com", auth = { header = "X-Api-Key", value_file = "key.txt" } },
  { origin = "https://q.example.com", auth = { query = "api_key", value_env = "Q_KEY" } },
]
"#,
        )
        .expect("valid");
        assert_eq!(m.http.len(), 5);
        assert!(m.http[0].credential.is_none());
        let gh = m.http[1].credential.as_ref().expect("credential");
        assert_eq!(gh.injection, Injection::Bearer);
        assert_eq!(gh.source, SecretSource::Env("GITHUB_TOKEN".into()));
        let h = m.http[3].credential.as_ref().expect("credential");
        assert_eq!(h.source, SecretSource::File(PathBuf::from("./key.txt")));
    }

    #[test]
    fn bad_credentials_say_what_is_allowed() {
        let bad = |auth: &str| {
            let text = format!(
                "[grants]\nhttp = [{{ origin = \"https://a.example.com\", auth = {auth} }}]\n"
            );
            parse(&text).expect_err("invalid").to_string()
        };
        assert!(bad("{ bearer_env = \"A\", bearer_file = \"f\" }").contains("not both"));
        assert!(bad("{ }").contains("say one way to send the credential"));
        assert!(bad("{ bearer_env = \"A\", header = \"X\" }").contains("say one way"));
        assert!(
            bad("{ header = \"Host\", value_env = \"A\" }").contains("cannot carry a credential")
        );
        assert!(
            bad("{ basic_user = \"bot\" }").contains("password_env or password_file is missing")
        );
        assert!(bad("{ token = \"x\" }").contains("unknown field `token`"));
        let wild = "[grants]\nhttp = [{ origin = \"https://*.example.com\", auth = { bearer_env = \"A\" } }]\n";
        assert!(
            parse(wild)
                .expect_err("wildcard")
                .to_string()
                .contains("needs an exact origin")
        );
        let twice = "[grants]\nhttp = [\"https://a.example.com\", { origin = \"https://a.example.com\", auth = { bearer_env = \"A\" } }]\n";
        assert!(
            parse(twice)
                .expect_err("twice")
                .to_string()
                .contains("already granted at [grants].http[0]")
        );
        let number = "[grants]\nhttp = [3]\n";
        assert!(
            parse(number)
                .expect_err("number")
                .to_string()
                .contains("not a integer")
        );
    }

    #[test]
    fn empty_manifest_grants_nothing() {
        let m = parse("").expect("empty manifest is valid");
        assert!(m.files.is_empty() && m.env.is_empty() && m.config.is_empty());
        assert_eq!(m.limits, Limits::default());
    }

    #[test]
    fn unknown_key_names_file_key_and_allowed_keys() {
        let e = parse("[grants]\nsockets = []\n").expect_err("unknown key");
        let msg = e.to_string();
        assert!(msg.starts_with("plugins/x.toml: "), "{msg}");
        assert!(msg.contains("unknown key `sockets`"), "{msg}");
        assert!(msg.contains("line 2, column 1"), "{msg}");
        assert!(msg.contains("files") && msg.contains("env"), "{msg}");
    }

    #[test]
    fn limits_parse_and_reject() {
        let m = parse("[limits]\nmemory = \"64MiB\"\ntimeout = \"500ms\"\ninstances = 2\n")
            .expect("valid limits");
        assert_eq!(m.limits.memory, 64 * 1024 * 1024);
        assert_eq!(m.limits.timeout, Duration::from_millis(500));
        assert_eq!(m.limits.instances, 2);
        let e = parse("[limits]\nmemory = \"12 parsecs\"\n").expect_err("bad unit");
        assert!(e.to_string().contains("[limits].memory"), "{e}");
        let e = parse("[limits]\ninstances = 0\n").expect_err("zero instances");
        assert!(e.to_string().contains("1 to 256"), "{e}");
    }

    #[test]
    fn file_grants_resolve_and_validate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "[[grants.files]]\nhost = {:?}\nmode = \"rw\"\n[[grants.files]]\nhost = \".\"\nguest = \"/data\"\n",
            dir.path().display().to_string()
        );
        let m = Manifest::parse(&text, Path::new("m.toml"), dir.path()).expect("valid");
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.files[0].mode, FileMode::ReadWrite);
        assert_eq!(m.files[1].mode, FileMode::ReadOnly);
        assert_eq!(m.files[1].guest, "/data");
        let e = parse("[[grants.files]]\nhost = \"/nonexistent/pier\"\n").expect_err("missing");
        assert!(e.to_string().contains("[grants].files[0].host"), "{e}");
        let e = parse("[[grants.files]]\nhost = \"/\"\nmode = \"rx\"\n").expect_err("mode");
        assert!(e.to_string().contains("\"ro\""), "{e}");
    }

    #[test]
    fn network_and_http_grants_parse_with_positions() {
        let m = parse(
            "[grants]\nnetwork = [\"postgres://db\", \"tcp://10.0.0.0/8:1-2\"]\nblock_private = true\nhttp = [\"https://api.github.com\"]\n[limits]\nqueue = 0\nresult_size = \"64KiB\"\nhttp_timeout = \"2s\"\n",
        )
        .expect("valid grants");
        assert_eq!(m.network.len(), 2);
        assert!(m.block_private);
        assert_eq!(m.http.len(), 1);
        assert_eq!(m.limits.queue, 0);
        assert_eq!(m.limits.result_size, 64 * 1024);
        let e = parse("[grants]\nnetwork = [\"tcp://a:1\", \"db:5432\"]\n").expect_err("no scheme");
        assert!(e.to_string().contains("[grants].network[1]"), "{e}");
        let e = parse("[grants]\nhttp = [\"https://a.b/path\"]\n").expect_err("path");
        assert!(e.to_string().contains("[grants].http[0]"), "{e}");
        let e = parse("[limits]\nresult_size = \"12B\"\n").expect_err("too small");
        assert!(e.to_string().contains("1KiB to 1GiB"), "{e}");
    }

    #[test]
    fn config_values_become_text() {
        let m = parse("[config]\na = \"x\"\nb = 3\nc = [\"p\", \"q\"]\n").expect("valid");
        assert_eq!(m.config["a"], "x");
        assert_eq!(m.config["b"], "3");
        assert_eq!(m.config["c"], "[\"p\",\"q\"]");
    }

    #[test]
    fn sha256_and_name_are_checked() {
        assert!(parse("[plugin]\nsha256 = \"abc\"\n").is_err());
        assert!(parse("[plugin]\nname = \"has.dot\"\n").is_err());
        let ok = format!("[plugin]\nname = \"fs\"\nsha256 = \"{}\"\n", "A".repeat(64));
        let m = parse(&ok).expect("valid pin");
        assert_eq!(m.sha256.as_deref(), Some("a".repeat(64).as_str()));
    }
}
