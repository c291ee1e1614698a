//! The stdio transport: an rmcp [`Transport`] with a guard in front and one thread per direction.
//!
//! rmcp drops a line it cannot decode without answering, so a client that sends malformed JSON,
//! a non-JSON-RPC object or a request with ill-typed params would wait forever. The guard reads
//! stdin line by line, hands well-formed messages to rmcp already parsed, and answers the rest
//! itself with the JSON-RPC error the spec prescribes (-32700 parse error, -32600 invalid request,
//! -32602 invalid params).
//!
//! Why threads: tokio's stdin and stdout run every read and write on its blocking pool, and
//! piping them through in-memory duplex streams into rmcp's own codec cost several thread
//! wake-ups per message (a third of pier's CPU time in profiles). Here a reader thread blocks on
//! stdin and sends parsed messages over a channel; a writer thread owns stdout, writes every
//! queued line and flushes once the queue is empty, so answers never interleave mid-line.

use std::io::{BufRead, Write};

use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::RoleServer;
use rmcp::transport::Transport;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::PierHandler;

/// Lines longer than this are refused (and skipped) rather than handed on.
const MAX_LINE: usize = 64 * 1024 * 1024;
/// Parsed messages waiting for rmcp; the reader blocks (and stops reading stdin) beyond this.
const INBOX: usize = 256;

/// What to do with one input line.
enum Verdict {
    Pass(Box<ClientJsonRpcMessage>),
    Answer(Value),
    Ignore,
}

fn error(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn judge(line: &str) -> Verdict {
    if line.trim().is_empty() {
        return Verdict::Ignore;
    }
    // Fast path: one typed parse for every well-formed message, which rmcp then uses as is.
    // Only a message that fails it is parsed again, generically, to choose the error.
    let why = match serde_json::from_str::<ClientJsonRpcMessage>(line) {
        Ok(m) => return Verdict::Pass(Box::new(m)),
        Err(e) => e.to_string(),
    };
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Verdict::Answer(error(Value::Null, -32700, format!("parse error: {e}"))),
    };
    let id = value.get("id").cloned();
    let method = value.get("method").and_then(Value::as_str);
    match (id, method) {
        // A request whose method rmcp knows but whose params do not fit.
        (Some(id), Some(method)) => {
            Verdict::Answer(error(id, -32602, format!("invalid params for {method}: {why}")))
        }
        // A notification cannot be answered; log and drop it.
        (None, Some(method)) => {
            tracing::warn!(method, "ignoring a malformed notification");
            Verdict::Ignore
        }
        (id, None) => Verdict::Answer(error(
            id.unwrap_or(Value::Null),
            -32600,
            "invalid request: expected a JSON-RPC 2.0 object with \"jsonrpc\": \"2.0\" and a \"method\"".into(),
        )),
    }
}

/// Reads stdin until it closes: good messages to `inbox`, answers for bad ones to `outbox`.
fn read_stdin(inbox: mpsc::Sender<ClientJsonRpcMessage>, outbox: std::sync::mpsc::Sender<String>) {
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match stdin.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if raw.len() > MAX_LINE {
            let _ = outbox.send(error(Value::Null, -32600, "message too large".into()).to_string());
            continue;
        }
        let line = match std::str::from_utf8(&raw) {
            Ok(l) => l,
            Err(e) => {
                let answer = error(Value::Null, -32700, format!("parse error: not UTF-8 ({e})"));
                let _ = outbox.send(answer.to_string());
                continue;
            }
        };
        match judge(line) {
            Verdict::Pass(message) => {
                if inbox.blocking_send(*message).is_err() {
                    break;
                }
            }
            Verdict::Answer(v) => {
                tracing::warn!("answered a malformed message: {v}");
                let _ = outbox.send(v.to_string());
            }
            Verdict::Ignore => {}
        }
    }
}

/// Owns stdout: writes each line, flushing whenever nothing else is queued.
fn write_stdout(lines: std::sync::mpsc::Receiver<String>) {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    while let Ok(first) = lines.recv() {
        let mut next = Some(first);
        while let Some(line) = next {
            if out.write_all(line.as_bytes()).is_err() || out.write_all(b"\n").is_err() {
                return;
            }
            next = lines.try_recv().ok();
        }
        if out.flush().is_err() {
            return;
        }
    }
}

/// rmcp's view of stdin and stdout.
struct GuardedStdio {
    inbox: mpsc::Receiver<ClientJsonRpcMessage>,
    outbox: std::sync::mpsc::Sender<String>,
}

#[derive(Debug, thiserror::Error)]
enum StdioError {
    #[error("cannot encode a message: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("stdout is closed")]
    Closed,
}

impl Transport<RoleServer> for GuardedStdio {
    type Error = StdioError;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), StdioError>> + Send + 'static {
        let sent = serde_json::to_string(&item)
            .map_err(StdioError::from)
            .and_then(|line| self.outbox.send(line).map_err(|_| StdioError::Closed));
        std::future::ready(sent)
    }

    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        self.inbox.recv()
    }

    async fn close(&mut self) -> Result<(), StdioError> {
        self.inbox.close();
        Ok(())
    }
}

/// Serves `handler` on this process's stdin and stdout until stdin closes.
pub async fn serve(handler: PierHandler) -> Result<(), String> {
    let (inbox_tx, inbox) = mpsc::channel(INBOX);
    let (outbox, lines) = std::sync::mpsc::channel::<String>();
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map_err(|e| format!("cannot start the {name} thread: {e}"))
    };
    let answers = outbox.clone();
    spawn(
        "pier-stdin",
        Box::new(move || read_stdin(inbox_tx, answers)),
    )?;
    let writer = spawn("pier-stdout", Box::new(move || write_stdout(lines)))?;

    let transport = GuardedStdio { inbox, outbox };
    let service = handler.serve(transport).await.map_err(|e| e.to_string())?;
    let result = service.waiting().await.map_err(|e| e.to_string());
    // The service has dropped the transport; once the reader's copy of the outbox is gone too
    // (stdin closed), the writer drains what is queued and ends. Wait for it so every answer is
    // on stdout before the process exits. If the service ended with stdin still open, the reader
    // keeps its copy; do not wait for ever then.
    let joined = tokio::task::spawn_blocking(move || writer.join());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), joined).await;
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Value {
        match judge(line) {
            Verdict::Answer(v) => v,
            Verdict::Pass(_) => panic!("{line} passed"),
            Verdict::Ignore => panic!("{line} ignored"),
        }
    }

    #[test]
    fn malformed_lines_get_the_right_errors() {
        assert_eq!(answer("not json")["error"]["code"], -32700);
        assert_eq!(answer(r#"{"foo": 1}"#)["error"]["code"], -32600);
        let bad = answer(r#"{"jsonrpc":"2.0","id":7}"#);
        assert_eq!(bad["error"]["code"], -32600);
        assert_eq!(bad["id"], 7);
    }

    #[test]
    fn good_messages_pass() {
        assert!(matches!(
            judge(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            Verdict::Pass(_)
        ));
        assert!(matches!(judge("   \n"), Verdict::Ignore));
    }
}
