//! The audit log: one JSON line per tool call, appended to a file from `[audit]` in pier.toml.
//!
//! A line says who called what and how it went, without what an audit log must not hold:
//! arguments whose names look secret (password, token, api_key, ...) are replaced by
//! `"[redacted]"`, long strings are cut, and `args_sha256` (a digest of the redacted arguments)
//! lets calls be matched without storing their values. Lines are written by one thread, in call
//! order, each flushed when written; [`AuditLog::close`] waits for the queue to drain.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `[audit]` in pier.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The JSON-lines file (created if missing, appended to).
    pub file: PathBuf,
    /// More argument names to redact, besides the built-in ones.
    #[serde(default)]
    pub redact: Vec<String>,
}

/// Argument names whose values never reach the log, compared as substrings of the name
/// lower-cased with `-` and `_` removed (so `api-key`, `x-api-key`, `privateKey`, `session_key`
/// all match).
const SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "credential",
    "privatekey",
    "sessionkey",
    "accesskey",
    "signingkey",
    "cookie",
];
/// Strings longer than this are cut in the log (the digest still covers them whole).
const MAX_STRING: usize = 200;

/// What one tool call did, for its audit line.
pub struct AuditEntry<'a> {
    pub identity: &'a str,
    pub tool: &'a str,
    pub plugin: Option<&'a str>,
    pub request_id: &'a str,
    pub session: Option<&'a str>,
    pub arguments: Option<&'a Map<String, Value>>,
    pub duration: Duration,
    pub outcome: &'static str,
    pub result_bytes: usize,
}

enum Message {
    Line(String),
    Close(mpsc::Sender<()>),
}

pub struct AuditLog {
    path: PathBuf,
    extra: Vec<String>,
    sender: Mutex<Option<mpsc::Sender<Message>>>,
}

impl AuditLog {
    /// Opens (creating) the file now, so a path that cannot be written stops pier at start.
    pub fn open(config: &AuditConfig) -> Result<Self, String> {
        let mut file = open_append(&config.file)?;
        let (sender, receiver) = mpsc::channel::<Message>();
        let path = config.file.clone();
        let shown = path.display().to_string();
        std::thread::Builder::new()
            .name("pier-audit".into())
            .spawn(move || {
                let mut failed = false;
                for message in receiver {
                    match message {
                        Message::Line(line) => {
                            let written =
                                file.write_all(line.as_bytes()).and_then(|()| file.flush());
                            if let Err(e) = written {
                                if !failed {
                                    tracing::error!("cannot write the audit log {shown}: {e}");
                                }
                                failed = true;
                            }
                        }
                        Message::Close(done) => {
                            let _ = file.sync_all();
                            let _ = done.send(());
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        Ok(AuditLog {
            path,
            extra: config.redact.iter().map(|s| s.to_lowercase()).collect(),
            sender: Mutex::new(Some(sender)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn record(&self, entry: &AuditEntry<'_>) {
        let line = self.line(entry, SystemTime::now());
        if let Ok(guard) = self.sender.lock()
            && let Some(sender) = guard.as_ref()
        {
            let _ = sender.send(Message::Line(line));
        }
    }

    /// Writes everything queued and syncs the file; later records are dropped. Called on shutdown.
    pub fn close(&self) {
        let sender = self.sender.lock().ok().and_then(|mut s| s.take());
        if let Some(sender) = sender {
            let (done, wait) = mpsc::channel();
            if sender.send(Message::Close(done)).is_ok() {
                let _ = wait.recv_timeout(Duration::from_secs(5));
            }
        }
    }

    fn line(&self, e: &AuditEntry<'_>, now: SystemTime) -> String {
        let args = e.arguments.map(|a| {
            let redacted = self.redact_map(a, false);
            let digest = hex::encode(Sha256::digest(Value::Object(redacted.clone()).to_string()));
            (self.redact_map(a, true), digest)
        });
        let mut record = Map::new();
        record.insert("time".into(), Value::String(rfc3339(now)));
        record.insert("identity".into(), e.identity.into());
        record.insert("tool".into(), e.tool.into());
        if let Some(p) = e.plugin {
            record.insert("plugin".into(), p.into());
        }
        record.insert("request_id".into(), e.request_id.into());
        if let Some(s) = e.session {
            record.insert("session".into(), s.into());
        }
        if let Some((args, digest)) = args {
            record.insert("args".into(), Value::Object(args));
            record.insert("args_sha256".into(), digest.into());
        }
        record.insert(
            "duration_ms".into(),
            ((e.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0).into(),
        );
        record.insert("outcome".into(), e.outcome.into());
        record.insert("result_bytes".into(), e.result_bytes.into());
        let mut line = Value::Object(record).to_string();
        line.push('\n');
        line
    }

    fn is_secret(&self, key: &str) -> bool {
        let lower = key.to_lowercase();
        let folded: String = lower.chars().filter(|c| *c != '-' && *c != '_').collect();
        SECRET_NAMES.iter().any(|s| folded.contains(s))
            || self
                .extra
                .iter()
                .any(|s| lower.contains(s.as_str()) || folded.contains(s.as_str()))
    }

    fn redact_map(&self, map: &Map<String, Value>, cut: bool) -> Map<String, Value> {
        map.iter()
            .map(|(k, v)| {
                let v = if self.is_secret(k) {
                    Value::String("[redacted]".into())
                } else {
                    self.redact_value(v, cut)
                };
                (k.clone(), v)
            })
            .collect()
    }

    fn redact_value(&self, v: &Value, cut: bool) -> Value {
        match v {
            Value::Object(m) => Value::Object(self.redact_map(m, cut)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.redact_value(x, cut)).collect()),
            Value::String(s) => {
                let s = redact_text(s);
                if cut && s.chars().count() > MAX_STRING {
                    let head: String = s.chars().take(MAX_STRING).collect();
                    Value::String(format!("{head}… ({} chars)", s.chars().count()))
                } else {
                    Value::String(s.into_owned())
                }
            }
            other => other.clone(),
        }
    }
}

/// Passwords inside values: the password of a URL (`postgres://user:PASS@host`), SQL's
/// `PASSWORD '…'`, and `password=…` in connection strings (libpq's `key=value` form or a query
/// string). Only these shapes: an argument that is itself a secret is caught by its name.
fn redact_text(text: &str) -> std::borrow::Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("://") && !lower.contains("password") && !lower.contains("pwd") {
        return std::borrow::Cow::Borrowed(text);
    }
    // Byte ranges of secrets, found on the lower-cased copy (same byte offsets: ASCII only
    // changes case).
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let bytes = lower.as_bytes();
    // scheme://user:PASS@host
    let mut from = 0;
    while let Some(at) = lower[from..].find("://") {
        let start = from + at + 3;
        let end = lower[start..]
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .map_or(lower.len(), |e| start + e);
        if let Some(atsign) = lower[start..end].rfind('@')
            && let Some(colon) = lower[start..start + atsign].find(':')
        {
            cuts.push((start + colon + 1, start + atsign));
        }
        from = end.max(start);
    }
    // password 'x' / PASSWORD "x" / password=x / pwd=x / password: x
    for word in ["password", "pwd"] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(word) {
            let mut i = from + at + word.len();
            from = i;
            while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'=' || bytes[i] == b':') {
                i += 1;
            }
            if i == from || i >= bytes.len() {
                continue;
            }
            let (start, end) = match bytes[i] {
                q @ (b'\'' | b'"') => {
                    let close = lower[i + 1..]
                        .find(q as char)
                        .map_or(lower.len(), |e| i + 1 + e);
                    (i + 1, close)
                }
                _ => {
                    let end = lower[i..]
                        .find(|c: char| c.is_whitespace() || c == '&' || c == ';' || c == ',')
                        .map_or(lower.len(), |e| i + e);
                    (i, end)
                }
            };
            if end > start {
                cuts.push((start, end));
            }
        }
    }
    if cuts.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in cuts {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str("[redacted]");
        at = end;
    }
    out.push_str(&text[at..]);
    std::borrow::Cow::Owned(out)
}

/// Opens the audit log for appending through a cap-std `Dir` of its folder: created 0600 if
/// missing, refused unless it is a regular file (a FIFO would block the open; a symlink must not
/// send the log elsewhere).
fn open_append(path: &Path) -> Result<std::fs::File, String> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| {
        format!(
            "cannot create the audit log's folder {}: {e}",
            parent.display()
        )
    })?;
    let name = path
        .file_name()
        .ok_or_else(|| format!("the audit log {} has no file name", path.display()))?;
    let dir =
        cap_std::fs::Dir::open_ambient_dir(parent, cap_std::ambient_authority()).map_err(|e| {
            format!(
                "cannot open the audit log's folder {}: {e}",
                parent.display()
            )
        })?;
    match dir.symlink_metadata(name) {
        Ok(m) if !m.is_file() => {
            return Err(format!(
                "the audit log {} exists but is not a regular file (a symlink, FIFO, directory or device); remove it or choose another [audit].file",
                path.display()
            ));
        }
        _ => {}
    }
    let mut options = cap_std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use cap_std::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    dir.open_with(name, &options)
        .map(cap_std::fs::File::into_std)
        .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))
}

/// UTC time as `2026-11-23T18:04:05.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_log_must_be_a_regular_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link.jsonl")).expect("link");
        let fifo = std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo.jsonl"))
            .status()
            .expect("mkfifo");
        assert!(fifo.success());
        for name in ["link.jsonl", "fifo.jsonl"] {
            let e = open_append(&dir.path().join(name)).expect_err(name);
            assert!(e.contains("not a regular file"), "{e}");
        }
        assert!(open_append(&dir.path().join("ok.jsonl")).is_ok());
    }

    #[test]
    fn dates_are_utc_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_457_045_123);
        assert_eq!(rfc3339(t), "2026-11-23T18:04:05.123Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn secret_names_in_any_spelling_and_passwords_in_values() {
        let log = AuditLog {
            path: PathBuf::new(),
            extra: Vec::new(),
            sender: Mutex::new(None),
        };
        for name in [
            "privateKey",
            "api-key",
            "x-api-key",
            "passphrase",
            "pwd",
            "sessionKey",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(log.is_secret(name), "{name}");
        }
        for name in ["sql", "path", "keyword", "author"] {
            assert!(!log.is_secret(name), "{name}");
        }
        for (value, secret) in [
            ("postgres://u:PASS@h/db", "PASS"),
            ("see https://bob:hunter2@example.com/x and more", "hunter2"),
            ("ALTER ROLE x PASSWORD 'topsecret'", "topsecret"),
            ("CREATE USER y WITH PASSWORD \"dq-secret\"", "dq-secret"),
            ("host=db user=u password=plain1 dbname=x", "plain1"),
            ("Server=db;Uid=u;Pwd=semi2;", "semi2"),
            ("https://h/cb?user=a&password=qs3&x=1", "qs3"),
        ] {
            let out = redact_text(value);
            assert!(!out.contains(secret), "{value} -> {out}");
            assert!(out.contains("[redacted]"), "{value} -> {out}");
        }
        assert_eq!(redact_text("SELECT 1"), "SELECT 1");
        assert_eq!(
            redact_text("https://example.com/a@b"),
            "https://example.com/a@b"
        );
    }

    #[test]
    fn secrets_are_redacted_and_long_strings_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::open(&AuditConfig {
            file: dir.path().join("a/audit.jsonl"),
            redact: vec!["ssn".into()],
        })
        .expect("open");
        let args: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "sql": "select 1",
            "db_password": "hunter2",
            "nested": {"API_KEY": "k", "list": [{"token": "t"}]},
            "customer_ssn": "123",
            "text": "x".repeat(500),
        }))
        .expect("object");
        let entry = AuditEntry {
            identity: "alice",
            tool: "probe_echo",
            plugin: Some("probe"),
            request_id: "7",
            session: None,
            arguments: Some(&args),
            duration: Duration::from_micros(1500),
            outcome: "ok",
            result_bytes: 42,
        };
        log.record(&entry);
        log.close();
        let text = std::fs::read_to_string(log.path()).expect("written");
        for secret in ["hunter2", "\"k\"", "\"t\"", "123"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let v: Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(v["args"]["sql"], "select 1");
        assert_eq!(v["args"]["nested"]["API_KEY"], "[redacted]");
        assert!(
            v["args"]["text"]
                .as_str()
                .is_some_and(|s| s.ends_with("(500 chars)"))
        );
        assert_eq!(v["args_sha256"].as_str().map(str::len), Some(64));
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["result_bytes"], 42);
    }
}
