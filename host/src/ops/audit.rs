//! The audit log: one JSON line per tool call, appended to a file from `[audit]` in pier.toml.
//!
//! A line says who called what and how it went, without what an audit log must not hold:
//! secrets are redacted and long strings cut (`redact`), and `args_sha256` (a digest of the
//! redacted arguments) lets calls be matched without storing their values. Lines are written by
//! one thread, in call order, each flushed when written; [`AuditLog::close`] waits for the
//! queue to drain.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::redact::Redactor;

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
    redactor: Redactor,
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
            redactor: Redactor::new(&config.redact),
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
            let redacted = self.redactor.map(a, false);
            let digest = hex::encode(Sha256::digest(Value::Object(redacted.clone()).to_string()));
            (self.redactor.map(a, true), digest)
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
