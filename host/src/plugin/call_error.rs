//! Why a request to a plugin produced no answer, worded for the person who can fix it: each
//! names the limit or setting involved and the manifest where it is set.

use std::time::Duration;

/// Why a request produced no answer from the plugin.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(
        "{plugin} did not finish within its time limit of {limit:?} and was stopped; raise [limits].timeout in {manifest} if the work is expected to take longer"
    )]
    Timeout {
        plugin: String,
        limit: Duration,
        manifest: String,
    },
    #[error(
        "{plugin} ran out of memory: it tried to grow past its limit of {limit} MiB and was stopped; raise [limits].memory in {manifest} if it really needs more"
    )]
    Memory {
        plugin: String,
        limit: u64,
        manifest: String,
    },
    #[error(
        "{plugin} crashed (trap: {reason}){}; the instance was replaced, so the next call starts fresh",
        last_words(.stderr)
    )]
    Trap {
        plugin: String,
        reason: String,
        /// The instance's last stderr lines (a panic message, a traceback's last lines).
        stderr: Option<String>,
    },
    /// The call asked its client questions that are answered in a later request
    /// (MCP 2026-07-28's `InputRequiredResult`); not a failure.
    #[error("the call waits for the client's answers to {} question(s)", .questions.len())]
    InputRequired {
        questions: Vec<crate::runtime::ask::Question>,
    },
    /// The call needs a capability the client did not declare.
    #[error("the client did not declare the capability this call needs: {capability}")]
    MissingCapability { capability: String },
    #[error("{plugin} could not start an instance: {reason}")]
    Instantiate { plugin: String, reason: String },
    #[error(
        "{plugin} returned {size} bytes, more than its [limits].result_size of {limit} bytes; the result was dropped. Ask for less (a smaller range or page), or raise [limits].result_size in {manifest}"
    )]
    TooLarge {
        plugin: String,
        size: u64,
        limit: u64,
        manifest: String,
    },
    #[error(
        "{plugin} is failing: it timed out or could not start {failures} times within {window:?}, so pier stops calling it for a while; retry in {retry_in_s} s. pier's log says why; the thresholds are [limits].failures, failure_window and cooldown in {manifest}"
    )]
    CircuitOpen {
        plugin: String,
        failures: u32,
        window: Duration,
        retry_in_s: u64,
        manifest: String,
    },
    #[error(
        "{plugin} is busy: {running} calls running and {waiting} waiting, the most its [limits].queue allows; retry in a moment, or raise [limits].instances or [limits].queue in {manifest}"
    )]
    Busy {
        plugin: String,
        running: u32,
        waiting: u32,
        manifest: String,
    },
}

/// What a crashed instance last printed to stderr, quoted after the trap. The whole of it is in
/// pier's log.
pub(crate) fn last_words(stderr: &Option<String>) -> String {
    match stderr {
        Some(lines) => format!("; its stderr ended with: {lines}"),
        None => String::new(),
    }
}

/// One line: the trap and its innermost cause, without a multi-line wasm backtrace.
pub(crate) fn describe_trap(e: &wasmtime::Error) -> String {
    let mut text = e.to_string();
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        text = format!("{trap}");
    }
    let mut source = e.source();
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    match last {
        Some(cause) if cause != text => format!("{text}: {cause}"),
        _ => text,
    }
}
