//! The stdio transport: an rmcp [`Transport`] with a guard in front (`jsonrpc_guard`: malformed
//! lines are answered, not dropped) and one thread per direction. Bounded everywhere: a line is
//! capped while it is read, at most [`IN_FLIGHT`] requests are handed to rmcp before pier stops
//! reading stdin, answers queue up to [`OUTBOX`], and once stdin closes pier exits even if
//! nobody reads its answers.
//!
//! Why threads: tokio's stdin and stdout run every read and write on its blocking pool, and
//! piping them through in-memory duplex streams into rmcp's own codec cost several thread
//! wake-ups per message (a third of pier's CPU time in profiles). Here a reader thread blocks on
//! stdin and sends parsed messages over a channel; a writer thread owns stdout, writes every
//! queued line and flushes once the queue is empty, so answers never interleave mid-line.

use std::io::{BufRead, Write};

use rmcp::ServiceExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{ClientJsonRpcMessage, ClientNotification, JsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::RoleServer;
use rmcp::transport::Transport;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::PierHandler;
use super::jsonrpc_guard::{Verdict, error, judge};

/// Lines longer than this are refused (and skipped) rather than handed on.
const MAX_LINE: usize = 64 * 1024 * 1024;
/// Parsed messages waiting for rmcp; the reader blocks (and stops reading stdin) beyond this.
const INBOX: usize = 256;
/// Answers waiting for stdout; rmcp waits to send beyond this (see `GuardedStdio::send`).
const OUTBOX: usize = 256;
/// Requests handed to rmcp and not yet answered (see [`InFlight`]).
const IN_FLIGHT: usize = 512;
/// A read buffer larger than this is given back after its line.
const KEEP_CAPACITY: usize = 1 << 20;
/// How long answers may take to be written once stdin has closed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Reads one line (up to and including its `\n`) into `raw`, keeping at most [`MAX_LINE`]
/// bytes: past that the rest of the line is read and thrown away, so an endless line costs no
/// memory. `None` at the end of input; `Some(true)` when the line was too long.
fn read_line(input: &mut impl BufRead, raw: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    raw.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        if !too_long {
            if raw.len() + chunk.len() > MAX_LINE {
                too_long = true;
                raw.clear();
                raw.shrink_to(KEEP_CAPACITY);
            } else {
                raw.extend_from_slice(chunk);
            }
        }
        let used = chunk.len();
        input.consume(used);
        if done {
            return Ok(Some(too_long));
        }
    }
}

/// Reads stdin until it closes: good messages to `inbox`, answers for bad ones to `outbox`.
fn read_stdin(
    inbox: mpsc::Sender<ClientJsonRpcMessage>,
    outbox: mpsc::Sender<String>,
    progress: Arc<Progress>,
) {
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let mut raw = Vec::new();
    loop {
        // A huge message leaves a huge buffer behind; give the memory back.
        if raw.capacity() > KEEP_CAPACITY {
            raw = Vec::new();
        }
        let too_long = match read_line(&mut stdin, &mut raw) {
            Ok(Some(t)) => t,
            Ok(None) | Err(_) => break,
        };
        if too_long {
            let reply = error(
                Value::Null,
                -32600,
                format!("message too large: lines are limited to {MAX_LINE} bytes"),
            );
            if !answer(&outbox, &progress, reply.to_string()) {
                break;
            }
            continue;
        }
        let line = match std::str::from_utf8(&raw) {
            Ok(l) => l,
            Err(e) => {
                let reply = error(Value::Null, -32700, format!("parse error: not UTF-8 ({e})"));
                if !answer(&outbox, &progress, reply.to_string()) {
                    break;
                }
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
                if !answer(&outbox, &progress, v.to_string()) {
                    break;
                }
            }
            Verdict::Ignore => {}
        }
    }
}

/// Whether stdout is being read: how many lines wait to be written (queued, or in a write
/// that has not returned) and when one last went out. After stdin closes pier waits for its
/// answers as long as they keep going out, however slow the calls are; it gives up only when
/// some wait and none has gone out for [`EXIT_GRACE`] (nobody reads stdout).
struct Progress {
    waiting: AtomicUsize,
    last_ms: AtomicU64,
    start: Instant,
}

impl Progress {
    fn new() -> Self {
        Progress {
            waiting: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            start: Instant::now(),
        }
    }

    fn queued(&self) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
    }

    fn written(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Release);
    }

    /// How long lines have waited without any going out (zero when none waits).
    fn stuck_for(&self) -> Duration {
        if self.waiting.load(Ordering::Acquire) == 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Acquire));
        self.start.elapsed().saturating_sub(last)
    }
}

/// Queues a line of the reader's own (an answer to a malformed line); false once stdout is gone.
fn answer(outbox: &mpsc::Sender<String>, progress: &Progress, line: String) -> bool {
    progress.queued();
    outbox.blocking_send(line).is_ok()
}

/// Owns stdout: writes each line, flushing whenever nothing else is queued. Ends when every
/// sender is gone or stdout is closed; `done` is dropped then.
fn write_stdout(
    mut lines: mpsc::Receiver<String>,
    progress: Arc<Progress>,
    done: tokio::sync::oneshot::Sender<()>,
) {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    while let Some(first) = lines.blocking_recv() {
        let mut next = Some(first);
        while let Some(line) = next {
            if out.write_all(line.as_bytes()).is_err() || out.write_all(b"\n").is_err() {
                return;
            }
            progress.written();
            next = lines.try_recv().ok();
        }
        if out.flush().is_err() {
            return;
        }
    }
    drop(done);
}

/// rmcp's view of stdin and stdout.
struct GuardedStdio {
    inbox: mpsc::Receiver<ClientJsonRpcMessage>,
    outbox: mpsc::Sender<String>,
    in_flight: InFlight,
    progress: Arc<Progress>,
}

/// Requests taken from the client and not yet answered, bounded. rmcp sends each answer from a
/// task of its own, so a bounded outbox alone would only move the queue into waiting tasks: the
/// bound that holds is on the requests handed to rmcp. At the bound, `receive` waits, the inbox
/// fills and pier stops reading stdin; a client that never reads its answers costs at most
/// [`IN_FLIGHT`] of them.
#[derive(Clone)]
struct InFlight {
    slots: Arc<Semaphore>,
    held: Arc<Mutex<HashMap<String, OwnedSemaphorePermit>>>,
}

impl InFlight {
    fn new() -> Self {
        InFlight {
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
            held: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Waits for a slot for the request `id`; `false` if a request with that id is still
    /// running (JSON-RPC ids must be unique among requests in flight; rmcp would silently drop
    /// one of the two answers).
    async fn take(&self, id: String) -> bool {
        if self.held.lock().is_ok_and(|h| h.contains_key(&id)) {
            return false;
        }
        let Ok(permit) = self.slots.clone().acquire_owned().await else {
            return true;
        };
        if let Ok(mut held) = self.held.lock() {
            held.insert(id, permit);
        }
        true
    }

    /// Frees the slot of request `id`: answered, or cancelled by the client (rmcp then drops
    /// the answer without sending it).
    fn done(&self, id: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(id);
        }
    }
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
        // Bounded: when the client stops reading stdout, sending waits, rmcp stops taking
        // requests, the inbox fills and pier stops reading stdin, instead of queueing answers
        // without end.
        let outbox = self.outbox.clone();
        let answered = match &item {
            JsonRpcMessage::Response(r) => Some(r.id.to_string()),
            JsonRpcMessage::Error(e) => e.id.as_ref().map(ToString::to_string),
            _ => None,
        };
        let in_flight = self.in_flight.clone();
        let progress = self.progress.clone();
        let line = serde_json::to_string(&item);
        async move {
            let line = line?;
            progress.queued();
            let sent = outbox.send(line).await.map_err(|_| StdioError::Closed);
            if let Some(id) = answered {
                in_flight.done(&id);
            }
            sent
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            let message = self.inbox.recv().await?;
            let reused = match &message {
                JsonRpcMessage::Request(r) => !self.in_flight.take(r.id.to_string()).await,
                JsonRpcMessage::Notification(n) => {
                    if let ClientNotification::CancelledNotification(c) = &n.notification
                        && let Some(id) = &c.params.request_id
                    {
                        self.in_flight.done(&id.to_string());
                    }
                    false
                }
                _ => false,
            };
            let JsonRpcMessage::Request(r) = &message else {
                return Some(message);
            };
            if !reused {
                return Some(message);
            }
            tracing::warn!("refused a request reusing an id in flight: {}", r.id);
            let answer = error(
                serde_json::to_value(&r.id).unwrap_or(Value::Null),
                -32600,
                format!(
                    "invalid request: id {} is already used by a request that is still running; give each request its own id",
                    r.id
                ),
            );
            self.progress.queued();
            if self.outbox.send(answer.to_string()).await.is_err() {
                return None;
            }
        }
    }

    async fn close(&mut self) -> Result<(), StdioError> {
        self.inbox.close();
        Ok(())
    }
}

/// Serves `handler` on this process's stdin and stdout until stdin closes.
pub async fn serve(handler: PierHandler) -> Result<(), String> {
    let (inbox_tx, inbox) = mpsc::channel(INBOX);
    let (outbox, lines) = mpsc::channel::<String>(OUTBOX);
    let (stdin_done, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    let (stdout_done, stdout_closed) = tokio::sync::oneshot::channel::<()>();
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map_err(|e| format!("cannot start the {name} thread: {e}"))
    };
    let answers = outbox.clone();
    let progress = Arc::new(Progress::new());
    let (read_progress, write_progress) = (progress.clone(), progress.clone());
    spawn(
        "pier-stdin",
        Box::new(move || {
            read_stdin(inbox_tx, answers, read_progress);
            drop(stdin_done);
        }),
    )?;
    spawn(
        "pier-stdout",
        Box::new(move || write_stdout(lines, write_progress, stdout_done)),
    )?;

    let transport = GuardedStdio {
        inbox,
        outbox,
        in_flight: InFlight::new(),
        progress: progress.clone(),
    };
    let service = handler.serve(transport).await.map_err(|e| e.to_string())?;
    // Once stdin has closed, the client is done sending. Answers still queued get a moment to
    // be written; a client that closed stdin and never reads stdout must not keep pier alive.
    let gave_up = async {
        let _ = stdin_closed.await;
        while progress.stuck_for() < EXIT_GRACE {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let result = tokio::select! {
        r = service.waiting() => r.map(|_| ()).map_err(|e| e.to_string()),
        () = gave_up => {
            tracing::warn!("stdin closed and nobody reads stdout: no answer went out for {EXIT_GRACE:?}; exiting");
            Ok(())
        }
    };
    // The service has dropped the transport; once the reader's copy of the outbox is gone too
    // (stdin closed), the writer drains what is queued and ends. Wait for it so every answer is
    // on stdout before the process exits, but not for ever (stdout may not be read).
    let _ = tokio::time::timeout(EXIT_GRACE, stdout_closed).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_line_is_cut_while_reading() {
        let mut input =
            std::io::Cursor::new([vec![b'x'; MAX_LINE + 10], b"\n{\"a\":1}\n".to_vec()].concat());
        let mut raw = Vec::new();
        assert_eq!(read_line(&mut input, &mut raw).ok(), Some(Some(true)));
        assert!(raw.capacity() <= MAX_LINE, "the long line was kept");
        assert_eq!(read_line(&mut input, &mut raw).ok(), Some(Some(false)));
        assert_eq!(raw, b"{\"a\":1}\n");
        assert_eq!(read_line(&mut input, &mut raw).ok(), Some(None));
    }
}
