//! What a plugin prints — its WASI stdout and stderr — goes to pier's log, one log line per
//! printed line, tagged with the plugin and the stream.
//!
//! Language runtimes write there when things go wrong (a Rust panic message, a Python
//! traceback, a JavaScript exception) and authors debug with `print`, so throwing it away left
//! crashes unexplained. It never reaches pier's own stdout, which carries the protocol on stdio.
//! A plugin must not be able to flood or forge the log either, so lines are cut at
//! [`MAX_LINE`] bytes, control characters are escaped, injected credentials and passwords are
//! redacted, and each plugin gets [`LINES_PER_SECOND`] lines a second (bursts of [`BURST`]); what
//! is over is counted and the count logged. The last few stderr lines of each instance are kept
//! apart from that limit, for the message of a crash.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use tracing::Level;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use super::credentials::{Injected, redact};

/// Longest line logged; the rest of a longer line is counted, not kept.
pub const MAX_LINE: usize = 2048;
/// Lines a second a plugin may log, over all its instances and both streams.
pub const LINES_PER_SECOND: f64 = 20.0;
/// Lines a plugin may log at once before the rate applies.
pub const BURST: f64 = 200.0;
/// Longest `host.log` message passed on to the client.
pub const MAX_CLIENT_MESSAGE: usize = 16 * 1024;
/// stderr lines kept per instance for the message of a crash.
const TAIL_LINES: usize = 6;
/// The most of those lines a crash message quotes.
const TAIL_CHARS: usize = 800;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One plugin's output, shared by all its instances: its name, the credentials to redact and
/// its rate budget.
#[derive(Clone)]
pub struct PluginOutput {
    plugin: Arc<str>,
    injected: Injected,
    budget: Arc<Mutex<Budget>>,
}

/// A token bucket of log lines.
struct Budget {
    tokens: f64,
    at: Instant,
    dropped: u64,
}

impl PluginOutput {
    pub fn new(plugin: &str, injected: Injected) -> Self {
        PluginOutput {
            plugin: plugin.into(),
            injected,
            budget: Arc::new(Mutex::new(Budget {
                tokens: BURST,
                at: Instant::now(),
                dropped: 0,
            })),
        }
    }

    /// The stdout and stderr of a new instance, and the tail its crash message quotes.
    pub fn instance(&self) -> (Sink, Sink, Tail) {
        let tail = Tail::default();
        let sink = |stream| {
            Sink(Arc::new(Mutex::new(Lines {
                out: self.clone(),
                stream,
                tail: tail.clone(),
                partial: Vec::new(),
                cut: 0,
            })))
        };
        (sink(Stream::Stdout), sink(Stream::Stderr), tail.clone())
    }

    /// Logs one printed line (already cut), unless the plugin is over its rate. A stderr line
    /// is kept for the crash message whatever the rate; other lines over it are only counted,
    /// before the work of cleaning them.
    fn emit(&self, stream: Stream, line: &str, cut: usize, tail: &Tail) {
        if line.trim().is_empty() {
            return;
        }
        if stream == Stream::Stderr {
            let Some(line) = self.sanitize(line) else {
                return;
            };
            tail.push(&line);
            if let Some(dropped) = self.take() {
                self.write(Level::WARN, Some(stream.name()), dropped, &line, cut);
            }
        } else if let Some(dropped) = self.take()
            && let Some(line) = self.sanitize(line)
        {
            self.write(Level::INFO, Some(stream.name()), dropped, &line, cut);
        }
    }

    /// A `host.log` message: one log line per line of it (a traceback stays readable), each cut,
    /// escaped and redacted like printed output and under the same rate. Returns the message as
    /// the client may hear it (redacted, cut at [`MAX_CLIENT_MESSAGE`]).
    pub fn host_log(&self, level: Level, message: &str) -> String {
        // A level the log filters out costs neither work nor the plugin's budget.
        let enabled = match level {
            Level::ERROR => tracing::enabled!(Level::ERROR),
            Level::WARN => tracing::enabled!(Level::WARN),
            Level::INFO => tracing::enabled!(Level::INFO),
            Level::DEBUG => tracing::enabled!(Level::DEBUG),
            _ => tracing::enabled!(Level::TRACE),
        };
        let lines = message.lines().filter(|l| enabled && !l.trim().is_empty());
        for line in lines {
            let (kept, cut) = cut_at(line, MAX_LINE);
            let Some(dropped) = self.take() else {
                continue;
            };
            if let Some(line) = self.sanitize(kept) {
                self.write(level, None, dropped, &line, cut);
            }
        }
        let (kept, cut) = cut_at(message, MAX_CLIENT_MESSAGE);
        let text = self.redacted(kept);
        if cut > 0 {
            format!("{text} … ({cut} more bytes)")
        } else {
            text
        }
    }

    /// A token from the budget: `Some(lines dropped before it)`, or `None` when over the rate.
    fn take(&self) -> Option<u64> {
        match self.budget.lock() {
            Ok(mut b) => b.take(),
            Err(_) => Some(0),
        }
    }

    fn redacted(&self, text: &str) -> String {
        let secrets = self.injected.values();
        crate::secrets::redact_passwords(&redact(text, &secrets)).into_owned()
    }

    /// The line escaped and redacted; `None` if nothing visible is left.
    fn sanitize(&self, line: &str) -> Option<String> {
        let line = self.redacted(&clean(line));
        (!line.trim().is_empty()).then_some(line)
    }

    fn write(&self, level: Level, stream: Option<&str>, dropped: u64, line: &str, cut: usize) {
        let plugin = &*self.plugin;
        if dropped > 0 {
            tracing::warn!(
                plugin,
                dropped,
                "{plugin} printed more than {LINES_PER_SECOND} lines a second; {dropped} lines were not logged"
            );
        }
        let more = if cut > 0 {
            format!(" … ({cut} more bytes)")
        } else {
            String::new()
        };
        let stream = stream.unwrap_or("host.log");
        match level {
            Level::ERROR => tracing::error!(plugin, stream, "{line}{more}"),
            Level::WARN => tracing::warn!(plugin, stream, "{line}{more}"),
            Level::INFO => tracing::info!(plugin, stream, "{line}{more}"),
            Level::DEBUG => tracing::debug!(plugin, stream, "{line}{more}"),
            _ => tracing::trace!(plugin, stream, "{line}{more}"),
        }
    }
}

/// `text` cut to at most `max` bytes on a character boundary, and how many bytes were cut.
fn cut_at(text: &str, max: usize) -> (&str, usize) {
    if text.len() <= max {
        return (text, 0);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], text.len() - end)
}

impl Budget {
    /// Takes a token: `Some(lines dropped since the last one logged)`, or `None` when empty.
    fn take(&mut self) -> Option<u64> {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * LINES_PER_SECOND;
        self.tokens = (self.tokens + refill).min(BURST);
        self.at = now;
        if self.tokens < 1.0 {
            self.dropped += 1;
            return None;
        }
        self.tokens -= 1.0;
        Some(std::mem::take(&mut self.dropped))
    }
}

/// Control characters (terminal escapes, a forged newline) shown escaped; tabs kept.
fn clean(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The last stderr lines of one instance.
#[derive(Clone, Default)]
pub struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: &str) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(line.to_string());
        }
    }

    /// Forgets the kept lines (a new call starts).
    pub fn clear(&self) {
        if let Ok(mut lines) = self.0.lock() {
            lines.clear();
        }
    }

    /// The kept lines joined with ` | `, the newest kept whole if any must go; `None` if the
    /// instance printed nothing to stderr.
    pub fn quote(&self) -> Option<String> {
        let lines = self.0.lock().ok()?;
        let mut picked: Vec<&str> = Vec::new();
        let mut len = 0;
        for line in lines.iter().rev() {
            let n = line.chars().count();
            if !picked.is_empty() && len + n > TAIL_CHARS {
                break;
            }
            len += n + 3;
            picked.push(line);
        }
        if picked.is_empty() {
            return None;
        }
        picked.reverse();
        let text = picked.join(" | ");
        Some(if text.chars().count() > TAIL_CHARS {
            let head: String = text.chars().take(TAIL_CHARS).collect();
            format!("{head}…")
        } else {
            text
        })
    }
}

/// The line being printed on one stream of one instance.
struct Lines {
    out: PluginOutput,
    stream: Stream,
    tail: Tail,
    partial: Vec<u8>,
    /// Bytes of the current line past [`MAX_LINE`], not kept.
    cut: usize,
}

impl Lines {
    fn write(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let (piece, ended) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..i], true),
                None => (bytes, false),
            };
            let room = MAX_LINE.saturating_sub(self.partial.len());
            let keep = piece.len().min(room);
            self.partial.extend_from_slice(&piece[..keep]);
            self.cut += piece.len() - keep;
            if ended {
                self.finish_line();
                bytes = &bytes[piece.len() + 1..];
            } else {
                bytes = &[];
            }
        }
    }

    fn finish_line(&mut self) {
        let text = String::from_utf8_lossy(&self.partial).into_owned();
        self.out.emit(self.stream, &text, self.cut, &self.tail);
        self.partial.clear();
        self.cut = 0;
    }
}

impl Drop for Lines {
    /// A last line without its newline (the instance trapped or was dropped) is logged too.
    fn drop(&mut self) {
        if !self.partial.is_empty() || self.cut > 0 {
            self.finish_line();
        }
    }
}

/// One stream of one instance, as wasmtime-wasi's stdout/stderr. Writes never block or fail:
/// a plugin cannot stall on pier's log.
#[derive(Clone)]
pub struct Sink(Arc<Mutex<Lines>>);

impl Sink {
    fn write(&self, bytes: &[u8]) {
        if let Ok(mut lines) = self.0.lock() {
            lines.write(bytes);
        }
    }
}

impl IsTerminal for Sink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Sink {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for Sink {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        Sink::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for Sink {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Sink {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sinks() -> (Sink, Sink, Tail) {
        PluginOutput::new("p", Injected::default()).instance()
    }

    #[test]
    fn lines_are_split_cut_and_kept_for_the_crash_message() {
        let (_out, err, tail) = sinks();
        assert_eq!(tail.quote(), None);
        err.write(b"thread panicked at src/lib.rs:1:1:\nboom");
        assert_eq!(
            tail.quote().as_deref(),
            Some("thread panicked at src/lib.rs:1:1:")
        );
        err.write(b" again\n");
        assert_eq!(
            tail.quote().as_deref(),
            Some("thread panicked at src/lib.rs:1:1: | boom again")
        );
        let long = vec![b'x'; MAX_LINE * 3];
        err.write(&long);
        err.write(b"\n");
        let quoted = tail.quote().expect("tail");
        assert!(quoted.ends_with('…'), "{quoted}");
        assert!(quoted.chars().count() <= TAIL_CHARS + 1, "{}", quoted.len());
        for i in 0..20 {
            err.write(format!("line {i}\n").as_bytes());
        }
        assert_eq!(
            tail.quote().as_deref(),
            Some("line 14 | line 15 | line 16 | line 17 | line 18 | line 19")
        );
        tail.clear();
        assert_eq!(tail.quote(), None);
    }

    #[test]
    fn a_line_without_its_newline_is_kept_when_the_instance_goes() {
        let (out, err, tail) = sinks();
        err.write(b"Traceback (most recent call last):\n  ValueError: bad");
        drop((out, err));
        assert_eq!(
            tail.quote().as_deref(),
            Some("Traceback (most recent call last): |   ValueError: bad")
        );
    }

    #[test]
    fn escapes_secrets_and_passwords_are_not_kept() {
        let injected = Injected::default();
        injected.remember(&["sk-live-123".to_string()]);
        let (_out, err, tail) = PluginOutput::new("p", injected).instance();
        err.write(b"\x1b[31mred\x1b[0m token=sk-live-123 url=postgres://u:hunter2@db/x\n");
        let quoted = tail.quote().expect("tail");
        assert!(!quoted.contains('\x1b'), "{quoted}");
        assert!(quoted.contains("\\u{1b}[31mred"), "{quoted}");
        assert!(!quoted.contains("sk-live-123"), "{quoted}");
        assert!(!quoted.contains("hunter2"), "{quoted}");
    }

    #[test]
    fn the_budget_refuses_past_the_burst_and_counts_what_it_refused() {
        let mut b = Budget {
            tokens: 2.0,
            at: Instant::now(),
            dropped: 0,
        };
        assert_eq!(b.take(), Some(0));
        assert_eq!(b.take(), Some(0));
        assert_eq!(b.take(), None);
        assert_eq!(b.take(), None);
        // A twentieth of a second later (and a little) one more line is allowed, and reports
        // the two it had to drop.
        b.at -= std::time::Duration::from_millis(60);
        assert_eq!(b.take(), Some(2));
    }

    #[test]
    fn host_log_is_redacted_cut_and_counted_per_line() {
        let injected = Injected::default();
        injected.remember(&["sk-live-123".to_string()]);
        let out = PluginOutput::new("p", injected);
        let _log = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_max_level(Level::INFO)
                .with_test_writer()
                .finish(),
        );
        out.host_log(Level::DEBUG, "filtered out\nnot counted");
        let said = out.host_log(
            Level::ERROR,
            "tool raised:\nTraceback\n\n  key sk-live-123\n",
        );
        assert!(
            !said.contains("sk-live-123") && said.starts_with("tool raised:"),
            "{said}"
        );
        let tokens = out.budget.lock().map(|b| b.tokens).unwrap_or_default();
        assert!(
            (BURST - tokens - 3.0).abs() < 0.5,
            "three lines logged: {tokens}"
        );
        let long = "é".repeat(MAX_CLIENT_MESSAGE);
        let said = out.host_log(Level::INFO, &long);
        assert!(
            said.ends_with(&format!("… ({} more bytes)", MAX_CLIENT_MESSAGE)),
            "{}",
            &said[said.len() - 40..]
        );
        assert_eq!(cut_at("aé", 2), ("a", 2));
    }
}
