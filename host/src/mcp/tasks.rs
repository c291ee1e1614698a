//! Tool calls that run as tasks (MCP's `io.modelcontextprotocol/tasks` extension, SEP-2663): a
//! tool its plugin marks task-capable (`about.tasks`), called by a client that declared the
//! extension, answers at once with a task id and runs on in the background; the client polls
//! `tasks/get` for its status and, once done, its result (and hears `notifications/tasks` on
//! each change while its connection lasts), answers its questions with `tasks/update`, and stops
//! it with `tasks/cancel`.
//!
//! A task asks the client the same way a 2026-07-28 call does: a run that reaches a `host.ask`
//! whose answers are not at hand ends, the task's status becomes `input_required` with the
//! questions, and once `tasks/update` has brought every answer the call runs again with them.
//! Tasks live in this process's memory for their TTL (an hour), visible only to the caller
//! that made them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolResult, ClientCapabilities, CreateTaskResult, DetailedTask, InputRequests,
    InputResponses, JsonObject, ServerNotification, Task, TaskPayload, TaskStatus,
    TaskStatusNotification, TaskStatusNotificationParams,
};
use rmcp::service::{Peer, RoleServer};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::asking::{self, Asking};
use super::convert;
use super::subscriptions::Subscriptions;
use crate::plugin::{CallError, Catalog, LoadedPlugin};
use crate::runtime::CallScope;
use crate::runtime::bindings::pier::mcp::types::CallContext;

/// How long a task stays readable after it was created.
const TTL: Duration = Duration::from_secs(3600);
/// How often clients are told to poll.
const POLL_INTERVAL_MS: u64 = 500;
/// At most this many tasks are kept; the oldest finished ones go first.
const MAX_TASKS: usize = 1000;

/// What one task runs: a tool call, as it was routed when the task was made.
struct TaskCall {
    catalog: Arc<Catalog<LoadedPlugin>>,
    exposed: String,
    local: String,
    cx: CallContext,
    arguments: String,
    caps: Option<ClientCapabilities>,
    events: Arc<Subscriptions>,
    /// The client that made the task, told of each change of status (`notifications/tasks`)
    /// while its connection lasts.
    peer: Peer<RoleServer>,
}

struct Entry {
    /// Whose task it is (the caller's label): nobody else reads, updates or cancels it.
    owner: String,
    created: Instant,
    task: Task,
    payload: TaskPayload,
    /// Every answer the client gave so far, by question key.
    answers: BTreeMap<String, Value>,
    cancel: CancellationToken,
    call: Arc<TaskCall>,
}

#[derive(Default)]
pub(crate) struct Tasks {
    entries: Mutex<HashMap<String, Entry>>,
}

fn now() -> String {
    crate::ops::audit::rfc3339(SystemTime::now())
}

fn new_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    hex::encode(bytes)
}

fn unknown(id: &str) -> McpError {
    McpError::invalid_params(
        format!(
            "no task {id:?} (it never existed, expired after its ttlMs, or is another caller's)"
        ),
        None,
    )
}

fn error_object(code: i32, message: String) -> JsonObject {
    let mut error = JsonObject::new();
    error.insert("code".into(), code.into());
    error.insert("message".into(), message.into());
    error
}

impl Tasks {
    /// Makes a task for the call and starts it; the task can be read as soon as this returns.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        self: &Arc<Self>,
        owner: &str,
        catalog: Arc<Catalog<LoadedPlugin>>,
        exposed: &str,
        local: &str,
        cx: CallContext,
        arguments: String,
        caps: Option<ClientCapabilities>,
        events: Arc<Subscriptions>,
        peer: Peer<RoleServer>,
    ) -> CreateTaskResult {
        let id = new_id();
        let stamp = now();
        let task = Task::new(id.clone(), TaskStatus::Working, stamp.clone(), stamp)
            .with_ttl_ms(TTL.as_millis() as u64)
            .with_poll_interval_ms(POLL_INTERVAL_MS);
        let call = Arc::new(TaskCall {
            catalog,
            exposed: exposed.to_string(),
            local: local.to_string(),
            cx,
            arguments,
            caps,
            events,
            peer,
        });
        let cancel = CancellationToken::new();
        if let Ok(mut entries) = self.entries.lock() {
            expire(&mut entries);
            entries.insert(
                id.clone(),
                Entry {
                    owner: owner.to_string(),
                    created: Instant::now(),
                    task: task.clone(),
                    payload: TaskPayload::Working,
                    answers: BTreeMap::new(),
                    cancel: cancel.clone(),
                    call: call.clone(),
                },
            );
        }
        tracing::info!(task = %id, tool = %exposed, "task created");
        self.start(id, call, BTreeMap::new(), cancel);
        CreateTaskResult::new(task)
    }

    fn start(
        self: &Arc<Self>,
        id: String,
        call: Arc<TaskCall>,
        answers: BTreeMap<String, Value>,
        cancel: CancellationToken,
    ) {
        let tasks = self.clone();
        tokio::spawn(async move {
            let outcome = run(&call, answers, cancel.clone()).await;
            tasks.finish(&id, outcome);
        });
    }

    /// Records how a run ended, unless the task was cancelled meanwhile.
    fn finish(&self, id: &str, outcome: Outcome) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let Some(entry) = entries.get_mut(id) else {
            return;
        };
        if entry.payload.status().is_terminal() {
            return;
        }
        entry.payload = match outcome {
            Outcome::Done(result) => TaskPayload::Completed {
                result: match serde_json::to_value(&result) {
                    Ok(Value::Object(map)) => map,
                    _ => error_object(-32603, "the result could not be encoded".into()),
                },
            },
            Outcome::Failed(error) => TaskPayload::Failed { error },
            Outcome::Asking { questions, used } => {
                entry.answers.extend(used);
                TaskPayload::InputRequired {
                    input_requests: questions,
                }
            }
        };
        entry.task.status = entry.payload.status();
        entry.task.last_updated_at = now();
        tracing::info!(task = %id, status = ?entry.task.status, "task changed");
        announce(entry);
    }

    fn with_entry<T>(
        &self,
        owner: &str,
        id: &str,
        f: impl FnOnce(&mut Entry) -> T,
    ) -> Result<T, McpError> {
        let mut entries = self.entries.lock().map_err(|_| unknown(id))?;
        expire(&mut entries);
        match entries.get_mut(id) {
            Some(entry) if entry.owner == owner => Ok(f(entry)),
            _ => Err(unknown(id)),
        }
    }

    /// `tasks/get`: the task with its result, error or questions.
    pub fn get(&self, owner: &str, id: &str) -> Result<DetailedTask, McpError> {
        self.with_entry(owner, id, |e| {
            DetailedTask::new(e.task.clone(), e.payload.clone())
        })
    }

    /// `tasks/update`: answers to the task's questions. Keys that are not outstanding are
    /// ignored; once none is outstanding, the call runs again with every answer.
    pub fn update(
        self: &Arc<Self>,
        owner: &str,
        id: &str,
        responses: InputResponses,
    ) -> Result<(), McpError> {
        let resume = self.with_entry(owner, id, |e| {
            let TaskPayload::InputRequired { input_requests } = &mut e.payload else {
                return None;
            };
            for (key, answer) in responses {
                if input_requests.remove(&key).is_some() {
                    e.answers.insert(key, answer);
                }
            }
            if !input_requests.is_empty() {
                return None;
            }
            e.payload = TaskPayload::Working;
            e.task.status = TaskStatus::Working;
            e.task.last_updated_at = now();
            announce(e);
            Some((e.call.clone(), e.answers.clone(), e.cancel.clone()))
        })?;
        if let Some((call, answers, cancel)) = resume {
            self.start(id.to_string(), call, answers, cancel);
        }
        Ok(())
    }

    /// `tasks/cancel`: the task becomes `cancelled` at once and its call is told
    /// (`host.cancelled`); a task already finished stays as it is.
    pub fn cancel(&self, owner: &str, id: &str) -> Result<(), McpError> {
        self.with_entry(owner, id, |e| {
            if !e.payload.status().is_terminal() {
                e.cancel.cancel();
                e.payload = TaskPayload::Cancelled;
                e.task.status = TaskStatus::Cancelled;
                e.task.last_updated_at = now();
                announce(e);
            }
        })
    }
}

/// `notifications/tasks` with the task as `tasks/get` would show it now, to the client that
/// made it; a client that is gone (or a stateless request long answered) simply misses it.
fn announce(entry: &Entry) {
    let task = DetailedTask::new(entry.task.clone(), entry.payload.clone());
    let note = ServerNotification::TaskStatusNotification(TaskStatusNotification::new(
        TaskStatusNotificationParams::new(task),
    ));
    let peer = entry.call.peer.clone();
    tokio::spawn(async move {
        if let Err(e) = peer.send_notification(note).await {
            tracing::debug!("notifications/tasks not delivered: {e}");
        }
    });
}

/// Drops tasks past their TTL, and the oldest finished ones beyond [`MAX_TASKS`].
fn expire(entries: &mut HashMap<String, Entry>) {
    entries.retain(|_, e| e.created.elapsed() < TTL);
    while entries.len() >= MAX_TASKS {
        let oldest = entries
            .iter()
            .filter(|(_, e)| e.payload.status().is_terminal())
            .min_by_key(|(_, e)| e.created)
            .map(|(id, _)| id.clone());
        match oldest {
            Some(id) => {
                entries.remove(&id);
            }
            None => break,
        }
    }
}

enum Outcome {
    Done(CallToolResult),
    Failed(JsonObject),
    Asking {
        questions: InputRequests,
        used: BTreeMap<String, Value>,
    },
}

/// One run of the task's call with the answers at hand.
async fn run(
    call: &TaskCall,
    answers: BTreeMap<String, Value>,
    cancel: CancellationToken,
) -> Outcome {
    let Some((plugin, _)) = call.catalog.tool(&call.exposed) else {
        return Outcome::Failed(error_object(
            -32602,
            format!("{} is no longer served", call.exposed),
        ));
    };
    let asking = Asking::with_answers(call.caps.clone(), answers);
    let mut scope = CallScope::new(call.cx.request_id.clone());
    scope.asker = Some(asking.asker());
    scope.cancelled = Some(cancel);
    scope.events = Some(call.events.clone());
    let answer = plugin
        .pool
        .call_tool(
            call.cx.clone(),
            &call.local,
            call.arguments.clone(),
            Some(scope),
        )
        .await;
    match answer {
        Ok(a) => match convert::tool_answer(plugin.name(), &call.exposed, a.result) {
            Ok(result) => Outcome::Done(result),
            Err(e) => Outcome::Failed(error_object(e.code.0, e.message.to_string())),
        },
        Err(CallError::InputRequired { questions }) => match asking::input_requests(&questions) {
            Ok(questions) => Outcome::Asking {
                questions,
                used: asking.used(),
            },
            Err(why) => {
                let e = why.error(plugin.name());
                Outcome::Failed(error_object(e.code.0, e.message.to_string()))
            }
        },
        Err(CallError::MissingCapability { capability }) => Outcome::Failed(error_object(
            -32021,
            format!(
                "{} needs the client capability `{capability}`, which this client did not declare",
                plugin.name()
            ),
        )),
        // A crash, a timeout, a memory overrun: the task failed (a tool's own error is a
        // completed task whose result has isError).
        Err(e) => Outcome::Failed(error_object(-32603, e.to_string())),
    }
}
