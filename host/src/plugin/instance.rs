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
        "{plugin} is failing: it crashed or timed out {failures} times within {window:?}, so pier stops calling it for a while; retry in {retry_in_s} s. Its log (stderr) says why; the thresholds are [limits].failures, failure_window and cooldown in {manifest}"
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
        // A busy refusal says nothing about the plugin's health; everything else does.
        if matches!(result, Err(CallError::Busy { .. })) {
            self.breaker.abandon();
        } else {
            self.breaker.record(crashed);
        }
        result
    }

    async fn run_admitted(
        &self,
        op: Op<'_>,
        scope: Option<CallScope>,
    ) -> Result<OpResult, CallError> {
        let _permit = self.admit().await?;
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

        let limits = self.manifest.limits;
        let manifest = || self.manifest.path.display().to_string();
        let outcome = tokio::time::timeout(limits.timeout, dispatch(&mut inst, op)).await;
        let denials = inst.store.data().sandbox.denials.take();
        self.denials
            .fetch_add(denials.len() as u64, Ordering::Relaxed);
        let result = match outcome {
            Err(_elapsed) => Err(CallError::Timeout {
                plugin: self.name.clone(),
                limit: limits.timeout,
                manifest: manifest(),
            }),
            Ok(Err(trap)) => {
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
            Ok(Ok(result)) => {
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
        };
        // Instances that failed are dropped here; only clean ones went back to `idle`.
        result
    }

    /// Waits for a free instance slot, unless `[limits].queue` calls are already waiting.
    async fn admit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, CallError> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        let limits = self.manifest.limits;
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _guard = Waiting(&self.waiting);
        if waiting >= limits.queue {
            return Err(CallError::Busy {
                plugin: self.name.clone(),
                running: limits.instances,
                waiting,
                manifest: self.manifest.path.display().to_string(),
            });
        }
        // The semaphore is never closed, so acquire only fails if it were; treat that as a
        // (never expected) instantiation failure rather than panicking.
        self.permits
            .acquire()
            .await
            .map_err(|e| CallError::Instantiate {
                plugin: self.name.clone(),
                reason: e.to_string(),
            })
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

async fn dispatch(inst: &mut Instance, op: Op<'_>) -> wasmtime::Result<OpResult> {
    let store = &mut inst.store;
    Ok(match op {
        Op::ListTools => OpResult::Tools(inst.tools.call_list_tools(store).await?),
        Op::CallTool {
            cx,
            name,
            arguments,
        } => OpResult::Call(
            inst.tools
                .call_call_tool(store, cx, name, arguments)
                .await?,
        ),
        Op::ListResources { cx } => match &inst.resources {
            Some(r) => OpResult::Resources(r.call_list_resources(store, cx).await?),
            None => OpResult::Unsupported,
        },
        Op::ListTemplates => match &inst.resources {
            Some(r) => OpResult::Templates(r.call_list_templates(store).await?),
            None => OpResult::Unsupported,
        },
        Op::ReadResource { cx, uri } => match &inst.resources {
            Some(r) => OpResult::Read(r.call_read_resource(store, cx, uri).await?),
            None => OpResult::Unsupported,
        },
        Op::ListPrompts => match &inst.prompts {
            Some(p) => OpResult::Prompts(p.call_list_prompts(store).await?),
            None => OpResult::Unsupported,
        },
        Op::GetPrompt {
            cx,
            name,
            arguments,
        } => match &inst.prompts {
            Some(p) => OpResult::Prompt(p.call_get_prompt(store, cx, name, arguments).await?),
            None => OpResult::Unsupported,
        },
        Op::Complete {
            cx,
            target,
            argument,
            value,
            context,
        } => match &inst.completions {
            Some(c) => OpResult::Completions(
                c.call_complete(store, cx, target, argument, value, context)
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
