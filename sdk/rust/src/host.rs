//! Typed access to what pier offers every plugin: logging, progress, config, directory listings.

use crate::bindings::pier::mcp::host as raw;
pub use crate::bindings::pier::mcp::types::LogLevel;

/// Writes a line to pier's log (stderr), tagged with the plugin's name.
pub fn log(level: LogLevel, message: &str) {
    raw::log(level, message);
}

/// Logs at debug level.
pub fn debug(message: &str) {
    raw::log(LogLevel::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    raw::log(LogLevel::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    raw::log(LogLevel::Warn, message);
}

/// Reports progress for the call identified by `request_id` (from the call context).
pub fn progress(request_id: &str, progress: f64, total: Option<f64>, message: Option<&str>) {
    raw::progress(request_id, progress, total, message);
}

/// One value from the manifest's `[config]` table.
pub fn config(key: &str) -> Option<String> {
    raw::config_get(key)
}

/// Every `[config]` entry.
pub fn config_all() -> Vec<(String, String)> {
    raw::config_list()
}

/// The name pier loaded this plugin under (its tool prefix).
pub fn plugin_name() -> String {
    raw::plugin_name()
}

/// Path of this plugin's manifest, for messages that tell the user what to grant.
pub fn manifest_path() -> String {
    raw::manifest_path()
}

pub use crate::bindings::pier::mcp::host::{DirectoryEntry, DirectoryError, EntryKind};

/// Lists a directory inside a `[grants].files` directory in one host call, sorted by name; with
/// `sizes`, regular files carry their size. Far cheaper than reading it through
/// `wasi:filesystem` (a host call and a `stat` per entry there), under the same sandbox. On
/// [`DirectoryError::Unsupported`] read it through `wasi:filesystem` instead.
pub fn read_directory(path: &str, sizes: bool) -> Result<Vec<DirectoryEntry>, DirectoryError> {
    raw::read_directory(path, sizes)
}

pub use crate::bindings::pier::mcp::host::{AskError, InputRequest};

impl AskError {
    /// pier's sentence for it, to pass on to the model or the user.
    pub fn message(&self) -> &str {
        match self {
            AskError::Unsupported(m) | AskError::Invalid(m) | AskError::Failed(m) => m,
        }
    }
}

/// Asks the client of the call `request_id` several questions at once (each under a key of your
/// choosing) and returns each answer, MCP's result as JSON, under its key. On a 2026-07-28
/// request the answers may come in a later request: then this does not return, and pier runs the
/// call again once they are in, when it returns them at once. So ask before changing anything,
/// with the same keys on every run. With `required`, a question the client cannot answer (it did
/// not declare the capability) ends the call with MCP's missing-capability error.
pub fn ask(
    request_id: &str,
    questions: &[(&str, InputRequest)],
    required: bool,
) -> Result<Vec<(String, serde_json::Value)>, AskError> {
    let owned: Vec<(String, InputRequest)> = questions
        .iter()
        .map(|(k, q)| (k.to_string(), q.clone()))
        .collect();
    let answers = raw::ask(request_id, &owned, required)?;
    answers
        .into_iter()
        .map(|(k, text)| {
            serde_json::from_str(&text)
                .map(|v| (k, v))
                .map_err(|e| AskError::Failed(format!("pier sent an answer that is not JSON: {e}")))
        })
        .collect()
}

/// What the user did with a form.
#[derive(Debug, Clone, PartialEq)]
pub enum Elicited {
    /// Submitted: the values, by the schema's property names.
    Accept(serde_json::Map<String, serde_json::Value>),
    /// Said no.
    Decline,
    /// Closed the form without choosing.
    Cancel,
}

impl Elicited {
    fn from_answer(answer: &serde_json::Value) -> Result<Self, AskError> {
        match answer.get("action").and_then(|a| a.as_str()) {
            Some("accept") => Ok(Elicited::Accept(
                answer
                    .get("content")
                    .and_then(|c| c.as_object())
                    .cloned()
                    .unwrap_or_default(),
            )),
            Some("decline") => Ok(Elicited::Decline),
            Some("cancel") => Ok(Elicited::Cancel),
            _ => Err(AskError::Failed(format!(
                "the client's elicitation answer has no action: {answer}"
            ))),
        }
    }
}

fn only(
    request_id: &str,
    key: &str,
    question: InputRequest,
    required: bool,
) -> Result<serde_json::Value, AskError> {
    let mut answers = ask(request_id, &[(key, question)], required)?;
    answers
        .pop()
        .map(|(_, a)| a)
        .ok_or_else(|| AskError::Failed("pier gave no answer".into()))
}

/// Shows the user a form (`message` and a JSON Schema object of flat properties) and returns
/// what they did. `key` names the question (see [`ask`]).
pub fn elicit(
    request_id: &str,
    key: &str,
    message: &str,
    schema: serde_json::Value,
) -> Result<Elicited, AskError> {
    let params = serde_json::json!({"message": message, "requestedSchema": schema});
    let answer = only(
        request_id,
        key,
        InputRequest::Elicit(params.to_string()),
        false,
    )?;
    Elicited::from_answer(&answer)
}

/// Asks the client's model to answer `prompt` (one user message, at most `max_tokens`) and
/// returns the text of its reply.
pub fn sample(
    request_id: &str,
    key: &str,
    prompt: &str,
    max_tokens: u32,
) -> Result<String, AskError> {
    let params = serde_json::json!({
        "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
        "maxTokens": max_tokens,
    });
    let answer = only(
        request_id,
        key,
        InputRequest::Sample(params.to_string()),
        false,
    )?;
    let content = answer.get("content");
    // `content` is one block, or (with sampling tools) a list of them.
    let blocks: Vec<&serde_json::Value> = match content {
        Some(serde_json::Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    Ok(blocks
        .iter()
        .filter_map(|b| b.get("text").and_then(|t| t.as_str()))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// A root the client offers: a `file://` URI and its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Root {
    pub uri: String,
    pub name: Option<String>,
}

/// The roots the user opened in the client (`roots/list`).
pub fn roots(request_id: &str, key: &str) -> Result<Vec<Root>, AskError> {
    let answer = only(request_id, key, InputRequest::ListRoots, false)?;
    let list = answer
        .get("roots")
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    Ok(list
        .iter()
        .filter_map(|r| {
            Some(Root {
                uri: r.get("uri")?.as_str()?.to_string(),
                name: r.get("name").and_then(|n| n.as_str()).map(str::to_string),
            })
        })
        .collect())
}

/// True once the client cancelled the call `request_id` or went away: stop early, the answer
/// is discarded.
pub fn cancelled(request_id: &str) -> bool {
    raw::cancelled(request_id)
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The request id of the tool call this instance is running, for code far from its
/// `CallContext` (a driver deciding whether to cancel a statement).
pub fn current_call() -> Option<String> {
    CURRENT.with(|c| c.borrow().clone())
}

/// [`cancelled`] for the tool call in progress; false outside one.
pub fn call_cancelled() -> bool {
    current_call().is_some_and(|id| cancelled(&id))
}

/// Marks a tool call as running for [`current_call`] until dropped.
#[doc(hidden)]
pub struct CurrentCall(());

impl CurrentCall {
    pub fn enter(request_id: &str) -> Self {
        CURRENT.with(|c| *c.borrow_mut() = Some(request_id.to_string()));
        CurrentCall(())
    }
}

impl Drop for CurrentCall {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// Tells clients subscribed to `uri` that the resource changed.
pub fn resource_updated(uri: &str) {
    raw::resource_updated(uri);
}
