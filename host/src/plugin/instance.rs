//! Running one request in one instance, under the plugin's limits.
//!
//! Instances are kept between calls (a plugin may hold a database connection), up to
//! `[limits].instances` at once; more calls wait for a free one. A call that traps, overruns its
//! memory or its time is ended with an error naming the limit, and its instance is thrown away:
//! after a trap wasmtime cannot enter it again, and after a timeout its state is unknown. The next
//! call gets a fresh instance; other calls and plugins are untouched.

use std::sync::atomic::Ordering;
use std::time::Duration;

use wasmtime::Store;

use super::loader::LoadedPlugin;
use crate::runtime::bindings::exports::pier::mcp::completions::{self, CompletionTarget};
use crate::runtime::bindings::exports::pier::mcp::{prompts, resources, tools};
use crate::runtime::bindings::pier::mcp::types::{
    CallContext, CallResult, Content, Error as WitError, Prompt, PromptResult, ResourceBody,
    ResourceContents, ResourceInfo, ResourceTemplate, Tool,
};
use crate::runtime::{CallScope, State};

/// A live instance and its loaded exports.
pub(super) struct Instance {
    pub store: Store<State>,
    pub tools: tools::Guest,
    pub resources: Option<resources::Guest>,
    pub prompts: Option<prompts::Guest>,
    pub completions: Option<completions::Guest>,
}

/// One request to a plugin.
pub enum Op<'a> {
    ListTools,
    CallTool {
        cx: &'a CallContext,
        name: &'a str,
        arguments: &'a str,
    },
    ListResources {
        cx: &'a CallContext,
    },
    ListTemplates,
    ReadResource {
        cx: &'a CallContext,
        uri: &'a str,
    },
    ListPrompts,
    GetPrompt {
        cx: &'a CallContext,
        name: &'a str,
        arguments: &'a [(String, String)],
    },
    Complete {
        cx: &'a CallContext,
        target: &'a CompletionTarget,
        argument: &'a str,
        value: &'a str,
        context: &'a [(String, String)],
    },
}

/// The plugin's answer to an [`Op`].
pub enum OpResult {
    Tools(Vec<Tool>),
    Call(Result<CallResult, WitError>),
    Resources(Result<Vec<ResourceInfo>, WitError>),
    Templates(Vec<ResourceTemplate>),
    Read(Result<Vec<ResourceContents>, WitError>),
    Prompts(Vec<Prompt>),
    Prompt(Result<PromptResult, WitError>),
    Completions(Result<Vec<String>, WitError>),
    /// The plugin does not export the interface the op needs.
    Unsupported,
}

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
        "{plugin} crashed (trap: {reason}); the instance was replaced, so the next call starts fresh"
    )]
    Trap { plugin: String, reason: String },
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

/// Abandons an admitted call's breaker trial if the call is dropped before it ends.
struct Unfinished<'a>(&'a super::breaker::Breaker);

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// Counts a call as waiting for an instance until it gets one (or gives up).
struct Waiting<'a>(&'a std::sync::atomic::AtomicU32);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl LoadedPlugin {
    /// Runs `op` in an idle or new instance under the plugin's limits.
    pub async fn run(&self, op: Op<'_>, scope: Option<CallScope>) -> Result<OpResult, CallError> {
        if let Err(rejected) = self.breaker.admit() {
            let limits = self.manifest.limits;
            return Err(CallError::CircuitOpen {
                plugin: self.name.clone(),
                failures: limits.failures,
                window: limits.failure_window,
                retry_in_s: rejected.retry_in.as_secs_f64().ceil() as u64,
                manifest: self.manifest.path.display().to_string(),
            });
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        // If the caller goes away mid-call (the future is dropped), the verdict is never
        // recorded; the guard then frees a half-open circuit's trial slot.
        let unfinished = Unfinished(&self.breaker);
        let result = self.run_admitted(op, scope).await;
        std::mem::forget(unfinished);
        let crashed = matches!(
            result,
            Err(CallError::Timeout { .. }
                | CallError::Memory { .. }
                | CallError::Trap { .. }
                | CallError::Instantiate { .. })
        );
        if crashed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        // What opens the circuit is what makes every caller wait: calls that run out their time
        // and instances that cannot start. A trap or a memory overrun is answered at once and
        // is most often caused by that call's input (a tree too deep, a file too big), so one
        // caller sending such inputs must not shut the plugin off for everyone.
        let unhealthy = matches!(
            result,
            Err(CallError::Timeout { .. } | CallError::Instantiate { .. })
        );
        // A busy refusal says nothing about the plugin's health; everything else does.
        if matches!(result, Err(CallError::Busy { .. })) {
            self.breaker.abandon();
        } else {
            self.breaker.record(unhealthy);
        }
        result
    }

    async fn run_admitted(
        &self,
        op: Op<'_>,
        scope: Option<CallScope>,
    ) -> Result<OpResult, CallError> {
        let permit = self.admit().await?;
        let idle = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        let mut inst = match idle {
            Some(i) => i,
            None => self.instantiate().await?,
        };
        inst.store.data_mut().scope = scope;
        inst.store.data_mut().limiter.exceeded = false;
        inst.store.data().sandbox.denials.take();
        inst.store.set_epoch_deadline(1);
        inst.store.epoch_deadline_async_yield_and_update(1);
        let recorded = inst.store.data().sandbox.denials.clone();

        let limits = self.manifest.limits;
        let manifest = || self.manifest.path.display().to_string();
        let job = Job::from(op);
        let outcome = if self.manifest.files.is_empty() {
            // Without file grants every host call the guest can make is asynchronous (sockets,
            // HTTP, clocks, pier's own imports): it runs here, on the caller's task, and a
            // timeout drops it with its instance.
            tokio::time::timeout(limits.timeout, async move {
                let result = dispatch(&mut inst, job).await;
                let _permit = permit;
                Ok::<_, tokio::sync::oneshot::error::RecvError>((inst, result))
            })
            .await
        } else {
            // With file grants the guest runs on a thread of its own, not on a tokio worker:
            // WASI file calls block the thread they run on (`allow_blocking_current_thread`,
            // far cheaper than a hop per file call for local files), and an `open` of a FIFO
            // or a read on a stalled network mount may block for ever. There it holds only its
            // own thread and instance slot (the permit goes with it), the time limit is kept
            // here, and pier's other work carries on. When the limit passes the call is
            // answered at once; the thread drops the instance as soon as its syscall returns.
            let (answer, answered) = tokio::sync::oneshot::channel();
            let stop = tokio_util::sync::CancellationToken::new();
            let _stop_when_dropped = stop.clone().drop_guard();
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let outcome = runtime.block_on(async {
                    tokio::select! {
                        r = dispatch(&mut inst, job) => Some(r),
                        () = stop.cancelled() => None,
                    }
                });
                if let Some(result) = outcome {
                    let _ = answer.send((inst, result));
                }
            });
            tokio::time::timeout(limits.timeout, answered).await
        };
        let denials = recorded.take();
        self.denials
            .fetch_add(denials.len() as u64, Ordering::Relaxed);
        match outcome {
            Err(_elapsed) => Err(CallError::Timeout {
                plugin: self.name.clone(),
                limit: limits.timeout,
                manifest: manifest(),
            }),
            Ok(Err(_)) => Err(CallError::Trap {
                plugin: self.name.clone(),
                reason: "the call's thread ended without an answer".into(),
            }),
            Ok(Ok((inst, Err(trap)))) => {
                if inst.store.data().limiter.exceeded {
                    Err(CallError::Memory {
                        plugin: self.name.clone(),
                        limit: limits.memory / (1024 * 1024),
                        manifest: manifest(),
                    })
                } else {
                    Err(CallError::Trap {
                        plugin: self.name.clone(),
                        reason: describe_trap(&trap),
                    })
                }
            }
            Ok(Ok((mut inst, Ok(result)))) => {
                let size = result_size(&result);
                if size > limits.result_size {
                    Err(CallError::TooLarge {
                        plugin: self.name.clone(),
                        size,
                        limit: limits.result_size,
                        manifest: manifest(),
                    })
                } else {
                    inst.store.data_mut().scope = None;
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.push(inst);
                    }
                    Ok(explain_denials(result, &denials))
                }
            }
        }
        // Instances that failed are dropped here; only clean ones went back to `idle`.
    }

    /// Waits for a free instance slot, unless `[limits].queue` calls are already waiting, and
    /// no longer than the call's time limit (a slot stays taken while its call's thread is
    /// stuck in a syscall).
    async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, CallError> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let limits = self.manifest.limits;
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _guard = Waiting(&self.waiting);
        let busy = || CallError::Busy {
            plugin: self.name.clone(),
            running: limits.instances,
            waiting,
            manifest: self.manifest.path.display().to_string(),
        };
        if waiting >= limits.queue {
            return Err(busy());
        }
        match tokio::time::timeout(limits.timeout, self.permits.clone().acquire_owned()).await {
            Err(_) => Err(busy()),
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed, so acquire only fails if it were; treat that as a
            // (never expected) instantiation failure rather than panicking.
            Ok(Err(e)) => Err(CallError::Instantiate {
                plugin: self.name.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// Creates a fresh instance with its own WASI context built from the manifest.
    pub(super) async fn instantiate(&self) -> Result<Instance, CallError> {
        let fail = |reason: String| CallError::Instantiate {
            plugin: self.name.clone(),
            reason,
        };
        let (wasi, sandbox) = crate::grants::instance_sandbox(&self.manifest, &self.grants)
            .map_err(|e| fail(e.to_string()))?;
        let state = State::new(
            wasi,
            sandbox,
            self.identity.clone(),
            self.manifest.limits.memory,
        );
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        let timeout = self.manifest.limits.timeout;
        let instance =
            match tokio::time::timeout(timeout, self.pre.instantiate_async(&mut store)).await {
                Err(_) => {
                    return Err(CallError::Timeout {
                        plugin: self.name.clone(),
                        limit: timeout,
                        manifest: self.manifest.path.display().to_string(),
                    });
                }
                Ok(r) => r.map_err(|e| fail(describe_trap(&e)))?,
            };
        let tools = self
            .exports
            .tools
            .load(&mut store, &instance)
            .map_err(|e| fail(e.to_string()))?;
        // Optional exports: present in the component or not, decided once at load.
        macro_rules! optional {
            ($export:ident) => {
                match &self.exports.$export {
                    Some(ix) => Some(
                        ix.load(&mut store, &instance)
                            .map_err(|e| fail(e.to_string()))?,
                    ),
                    None => None,
                }
            };
        }
        let resources = optional!(resources);
        let prompts = optional!(prompts);
        let completions = optional!(completions);
        Ok(Instance {
            store,
            tools,
            resources,
            prompts,
            completions,
        })
    }
}

/// An [`Op`] with everything it borrows owned, so it can go to the call's thread.
enum Job {
    ListTools,
    CallTool {
        cx: CallContext,
        name: String,
        arguments: String,
    },
    ListResources {
        cx: CallContext,
    },
    ListTemplates,
    ReadResource {
        cx: CallContext,
        uri: String,
    },
    ListPrompts,
    GetPrompt {
        cx: CallContext,
        name: String,
        arguments: Vec<(String, String)>,
    },
    Complete {
        cx: CallContext,
        target: CompletionTarget,
        argument: String,
        value: String,
        context: Vec<(String, String)>,
    },
}

impl From<Op<'_>> for Job {
    fn from(op: Op<'_>) -> Self {
        match op {
            Op::ListTools => Job::ListTools,
            Op::CallTool {
                cx,
                name,
                arguments,
            } => Job::CallTool {
                cx: cx.clone(),
                name: name.to_string(),
                arguments: arguments.to_string(),
            },
            Op::ListResources { cx } => Job::ListResources { cx: cx.clone() },
            Op::ListTemplates => Job::ListTemplates,
            Op::ReadResource { cx, uri } => Job::ReadResource {
                cx: cx.clone(),
                uri: uri.to_string(),
            },
            Op::ListPrompts => Job::ListPrompts,
            Op::GetPrompt {
                cx,
                name,
                arguments,
            } => Job::GetPrompt {
                cx: cx.clone(),
                name: name.to_string(),
                arguments: arguments.to_vec(),
            },
            Op::Complete {
                cx,
                target,
                argument,
                value,
                context,
            } => Job::Complete {
                cx: cx.clone(),
                target: target.clone(),
                argument: argument.to_string(),
                value: value.to_string(),
                context: context.to_vec(),
            },
        }
    }
}

async fn dispatch(inst: &mut Instance, job: Job) -> wasmtime::Result<OpResult> {
    let store = &mut inst.store;
    Ok(match job {
        Job::ListTools => OpResult::Tools(inst.tools.call_list_tools(store).await?),
        Job::CallTool {
            cx,
            name,
            arguments,
        } => OpResult::Call(
            inst.tools
                .call_call_tool(store, &cx, &name, &arguments)
                .await?,
        ),
        Job::ListResources { cx } => match &inst.resources {
            Some(r) => OpResult::Resources(r.call_list_resources(store, &cx).await?),
            None => OpResult::Unsupported,
        },
        Job::ListTemplates => match &inst.resources {
            Some(r) => OpResult::Templates(r.call_list_templates(store).await?),
            None => OpResult::Unsupported,
        },
        Job::ReadResource { cx, uri } => match &inst.resources {
            Some(r) => OpResult::Read(r.call_read_resource(store, &cx, &uri).await?),
            None => OpResult::Unsupported,
        },
        Job::ListPrompts => match &inst.prompts {
            Some(p) => OpResult::Prompts(p.call_list_prompts(store).await?),
            None => OpResult::Unsupported,
        },
        Job::GetPrompt {
            cx,
            name,
            arguments,
        } => match &inst.prompts {
            Some(p) => OpResult::Prompt(p.call_get_prompt(store, &cx, &name, &arguments).await?),
            None => OpResult::Unsupported,
        },
        Job::Complete {
            cx,
            target,
            argument,
            value,
            context,
        } => match &inst.completions {
            Some(c) => OpResult::Completions(
                c.call_complete(store, &cx, &target, &argument, &value, &context)
                    .await?,
            ),
            None => OpResult::Unsupported,
        },
    })
}

/// Bytes a result carries to the client, counted before any JSON encoding (what
/// `[limits].result_size` caps and the audit log records).
pub fn result_size(result: &OpResult) -> u64 {
    fn contents(c: &ResourceContents) -> u64 {
        let body = match &c.body {
            ResourceBody::Text(t) => t.len(),
            ResourceBody::Blob(b) => b.len(),
        };
        (c.uri.len() + body) as u64
    }
    match result {
        OpResult::Call(Ok(r)) => {
            let blocks: u64 = r
                .content
                .iter()
                .map(|c| match c {
                    Content::Text(t) => t.len() as u64,
                    Content::Image(m) | Content::Audio(m) => m.data.len() as u64,
                    Content::Embedded(e) => contents(e),
                    Content::Link(l) => (l.uri.len() + l.name.len()) as u64,
                })
                .sum();
            blocks + r.structured.as_ref().map_or(0, |s| s.len() as u64)
        }
        OpResult::Read(Ok(list)) => list.iter().map(contents).sum(),
        _ => 0,
    }
}

/// Adds pier's account of refused network/HTTP operations to a failed answer, so the client sees
/// what to grant, not just the guest's "access denied". A call that succeeded anyway (the plugin
/// had a fallback) is left as it is; the refusal was logged when it happened.
fn explain_denials(result: OpResult, denials: &[String]) -> OpResult {
    if denials.is_empty() {
        return result;
    }
    let note = format!("pier: {}", denials.join("\npier: "));
    let with_note = |e: WitError| match e {
        WitError::NotFound(m) => WitError::NotFound(format!("{m}\n{note}")),
        WitError::InvalidParams(m) => WitError::InvalidParams(format!("{m}\n{note}")),
        WitError::Internal(m) => WitError::Internal(format!("{m}\n{note}")),
    };
    match result {
        OpResult::Call(Ok(mut r)) if r.is_error => {
            r.content.push(Content::Text(note.clone()));
            OpResult::Call(Ok(r))
        }
        OpResult::Call(Err(e)) => OpResult::Call(Err(with_note(e))),
        OpResult::Read(Err(e)) => OpResult::Read(Err(with_note(e))),
        OpResult::Resources(Err(e)) => OpResult::Resources(Err(with_note(e))),
        OpResult::Prompt(Err(e)) => OpResult::Prompt(Err(with_note(e))),
        other => other,
    }
}

/// One line: the trap and its innermost cause, without a multi-line wasm backtrace.
fn describe_trap(e: &wasmtime::Error) -> String {
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
