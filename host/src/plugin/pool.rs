//! A plugin's instances, and running one request in one of them under the plugin's limits.
//!
//! Instances are kept between calls (a plugin may hold a database connection), up to
//! `[limits].instances` at once; more calls wait for a free one. A call that traps, overruns its
//! memory or its time is ended with an error naming the limit, and its instance is thrown away:
//! after a trap wasmtime cannot enter it again, and after a timeout its state is unknown. The next
//! call gets a fresh instance; other calls and plugins are untouched.
//!
//! Every kind of request (each a [`Request`], in `requests`) goes through the one generic
//! [`Pool::run`], so limits, the breaker and the explanation of sandbox refusals apply to all of
//! them alike.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::Semaphore;
use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::call_error::{CallError, describe_trap, last_words};
use super::description::Offers;
use super::health::Health;
use super::manifest::Limits;
use crate::grants::PluginGrants;
use crate::runtime::ask::{Interrupted, within};
use crate::runtime::bindings::exports::pier::mcp::{about, completions, prompts, resources, tools};
use crate::runtime::{CallScope, PluginIdentity, Runtime, State};

/// Where each export lives in the component, found once at load.
pub(crate) struct Exports {
    pub tools: tools::GuestIndices,
    pub resources: Option<resources::GuestIndices>,
    pub prompts: Option<prompts::GuestIndices>,
    pub completions: Option<completions::GuestIndices>,
    pub about: Option<about::GuestIndices>,
}

impl Exports {
    /// Which optional interfaces these are.
    pub fn offers(&self) -> Offers {
        Offers {
            resources: self.resources.is_some(),
            prompts: self.prompts.is_some(),
            completions: self.completions.is_some(),
            about: self.about.is_some(),
        }
    }
}

/// A plugin's compiled code: the runtime (engine) it belongs to, linked, with its exports found.
pub(crate) struct Code {
    pub runtime: Arc<Runtime>,
    pub pre: InstancePre<State>,
    pub exports: Exports,
}

/// The code new instances of a plugin are made from. It starts as baseline code for a large
/// component and is replaced once Cranelift's is ready (see `loader`); instances of the old code
/// finish their calls and are not reused. A plugin listed from its embedded listing starts with
/// no code at all: calls wait until the compile ends (or fails, and they are told why).
pub(crate) struct CodeCell(tokio::sync::watch::Sender<CodeState>);

#[derive(Clone)]
enum CodeState {
    Compiling,
    Ready(Arc<Code>),
    Failed(String),
}

impl CodeCell {
    fn new(state: CodeState) -> Self {
        CodeCell(tokio::sync::watch::Sender::new(state))
    }

    /// The code new instances start from, if there is code yet.
    pub fn current(&self) -> Option<Arc<Code>> {
        match &*self.0.borrow() {
            CodeState::Ready(code) => Some(code.clone()),
            CodeState::Compiling | CodeState::Failed(_) => None,
        }
    }

    /// The code, once the compile has ended; why not, when it failed.
    pub async fn ready(&self) -> Result<Arc<Code>, String> {
        let mut seen = self.0.subscribe();
        let state = seen
            .wait_for(|s| !matches!(s, CodeState::Compiling))
            .await
            .map_err(|_| "the plugin was unloaded while it compiled".to_string())?;
        match &*state {
            CodeState::Ready(code) => Ok(code.clone()),
            CodeState::Failed(reason) => Err(reason.clone()),
            CodeState::Compiling => Err("still compiling".into()),
        }
    }

    pub fn replace(&self, code: Code) {
        self.replace_shared(Arc::new(code));
    }

    pub fn replace_shared(&self, code: Arc<Code>) {
        self.0.send_replace(CodeState::Ready(code));
    }

    /// Ends the wait of every call: the plugin cannot run, for `reason`.
    pub fn fail(&self, reason: String) {
        self.0.send_replace(CodeState::Failed(reason));
    }
}

/// A live instance and its loaded exports.
pub(crate) struct Instance {
    /// The code it was made from.
    code: Arc<Code>,
    pub store: Store<State>,
    pub tools: tools::Guest,
    pub resources: Option<resources::Guest>,
    pub prompts: Option<prompts::Guest>,
    pub completions: Option<completions::Guest>,
    pub about: Option<about::Guest>,
}

pub(crate) struct Pool {
    name: String,
    manifest_path: String,
    pub(super) limits: Limits,
    code: Arc<CodeCell>,
    /// The optional interfaces the component exports (from its code, or its embedded listing
    /// until the code is there and checked).
    offers: Offers,
    identity: Arc<PluginIdentity>,
    grants: Arc<PluginGrants>,
    /// Kept instances, each of the code it was made from; shared with the pool that checks a
    /// plugin listed ahead of its code, so the instance the check made serves the first call.
    idle: Arc<Mutex<Vec<Instance>>>,
    permits: Arc<Semaphore>,
    /// Calls waiting for a permit; bounded by `[limits].queue`.
    waiting: AtomicU32,
    health: Health,
}

/// One kind of request to a plugin.
pub(crate) trait Request: Send + 'static {
    type Answer: Send + 'static;

    /// Calls the export in `inst`. An `Err` is a trap (the instance is then dropped).
    fn run(
        self,
        inst: &mut Instance,
    ) -> impl Future<Output = wasmtime::Result<Self::Answer>> + Send;

    /// Bytes the answer carries to the client, counted before any JSON encoding (what
    /// `[limits].result_size` caps and the audit log records).
    fn size(_answer: &Self::Answer) -> u64 {
        0
    }

    /// Adds pier's note on refused network/HTTP operations to a failed answer. A call that
    /// succeeded anyway (the plugin had a fallback) is left as it is; the refusal was logged.
    fn explain(answer: Self::Answer, _note: &str) -> Self::Answer {
        answer
    }

    /// Replaces credential values pier injected for this plugin wherever the answer carries
    /// them back (responses are redacted already; this is the second line).
    fn redact(answer: Self::Answer, _secrets: &[String]) -> Self::Answer {
        answer
    }
}

/// A plugin's live load, for `/metrics`.
pub struct PluginLoad {
    pub busy: u64,
    pub idle: u64,
    pub waiting: u64,
    pub denials: u64,
    pub crashes: u64,
}

/// Counts a call as waiting for an instance until it gets one (or gives up).
struct Waiting<'a>(&'a AtomicU32);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    /// A pool of `code`.
    pub fn new(
        code: Code,
        identity: Arc<PluginIdentity>,
        grants: PluginGrants,
        limits: Limits,
    ) -> Self {
        let offers = code.exports.offers();
        let cell = CodeCell::new(CodeState::Ready(Arc::new(code)));
        Self::with_cell(cell, offers, identity, Arc::new(grants), limits)
    }

    /// A pool whose code is still compiling (the plugin was described by its embedded
    /// listing, which claims `offers`): calls wait for [`CodeCell::replace`] or
    /// [`CodeCell::fail`].
    pub fn compiling(
        offers: Offers,
        identity: Arc<PluginIdentity>,
        grants: PluginGrants,
        limits: Limits,
    ) -> Self {
        let cell = CodeCell::new(CodeState::Compiling);
        Self::with_cell(cell, offers, identity, Arc::new(grants), limits)
    }

    /// A pool of its own code cell (compiling) for checking this pool's plugin: the same
    /// identity, grants and limits, and the same kept instances, so what the check started is
    /// reused once this pool has the same code.
    pub fn checker(&self) -> Pool {
        let mut pool = Self::with_cell(
            CodeCell::new(CodeState::Compiling),
            self.offers,
            self.identity.clone(),
            self.grants.clone(),
            self.limits,
        );
        pool.idle = self.idle.clone();
        pool
    }

    fn with_cell(
        cell: CodeCell,
        offers: Offers,
        identity: Arc<PluginIdentity>,
        grants: Arc<PluginGrants>,
        limits: Limits,
    ) -> Self {
        Pool {
            name: identity.name.clone(),
            manifest_path: identity.manifest_path.display().to_string(),
            permits: Arc::new(Semaphore::new(limits.instances as usize)),
            waiting: AtomicU32::new(0),
            health: Health::new(&limits),
            idle: Arc::new(Mutex::new(Vec::new())),
            limits,
            code: Arc::new(cell),
            offers,
            identity,
            grants,
        }
    }

    /// The plugin's code cell, for the compile that upgrades it (held weakly there: an
    /// unloaded plugin is not kept alive by its upgrade).
    pub fn code(&self) -> std::sync::Weak<CodeCell> {
        Arc::downgrade(&self.code)
    }

    /// The pool's code, for another pool to serve (a checked plugin's, see `loader`).
    pub fn take_code(&self) -> Option<Arc<Code>> {
        self.code.current()
    }

    /// Gives the pool its code (the checker's, see [`Pool::checker`]).
    pub fn set_code(&self, code: Code) {
        self.code.replace(code);
    }

    /// Which compiler made the code new instances start from (none while it compiles).
    pub fn tier(&self) -> Option<crate::runtime::Tier> {
        self.code.current().map(|c| c.runtime.tier)
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Instances running and idle, calls waiting, refusals and crashes, read now.
    pub fn load_now(&self) -> PluginLoad {
        let limit = self.limits.instances as usize;
        let counters = self.health.counters();
        PluginLoad {
            busy: limit.saturating_sub(self.permits.available_permits()) as u64,
            idle: self.idle.lock().map(|v| v.len()).unwrap_or(0) as u64,
            waiting: u64::from(self.waiting.load(Ordering::Relaxed)),
            denials: counters.denials,
            crashes: counters.failures,
        }
    }

    /// Which optional interfaces the component exports.
    pub fn offers(&self) -> Offers {
        self.offers
    }

    /// Runs `request` in an idle or new instance under the plugin's limits: admitted by the
    /// breaker, given a slot, timed, its size capped, its sandbox refusals explained. Returns
    /// the answer with its size (see [`Request::size`]).
    pub async fn run<R: Request>(
        &self,
        request: R,
        scope: Option<CallScope>,
    ) -> Result<(R::Answer, u64), CallError> {
        let trial = self
            .health
            .admit(&self.name, &self.limits, &self.manifest_path)?;
        let result = self.run_admitted(request, scope).await;
        trial.finish(&result);
        result
    }

    async fn run_admitted<R: Request>(
        &self,
        request: R,
        scope: Option<CallScope>,
    ) -> Result<(R::Answer, u64), CallError> {
        // A plugin listed before its code was compiled: the wait is the compile's, not the
        // call's, so it does not count against the time limit.
        let code = self
            .code
            .ready()
            .await
            .map_err(|reason| CallError::Instantiate {
                plugin: self.name.clone(),
                reason,
            })?;
        let permit = self.admit().await?;
        let idle = self.idle.lock().map(|mut v| {
            // Instances of code that has since been replaced are dropped, not reused.
            v.retain(|i| Arc::ptr_eq(&i.code, &code));
            v.pop()
        });
        let mut inst = match idle.unwrap_or(None) {
            Some(i) => {
                // A crash quotes what this call printed, not what an earlier call did (a fresh
                // instance keeps what it printed while starting).
                i.store.data().sandbox.stderr_tail.clear();
                i
            }
            None => self.instantiate(code).await?,
        };
        // Time the call waits for its client (`host.ask`) is not held against its limit.
        let clock = scope.as_ref().map(|s| s.clock.clone()).unwrap_or_default();
        inst.store.data_mut().scope = scope;
        inst.store.data_mut().interrupted = None;
        inst.store.data_mut().limiter.exceeded = false;
        inst.store.data().sandbox.denials.take();
        inst.store.set_epoch_deadline(1);
        inst.store.epoch_deadline_async_yield_and_update(1);
        let recorded = inst.store.data().sandbox.denials.clone();

        let limits = self.limits;
        let outcome = if !self.grants.has_files() {
            // Without file grants every host call the guest can make is asynchronous (sockets,
            // HTTP, clocks, pier's own imports): it runs here, on the caller's task, and a
            // timeout drops it with its instance.
            within(limits.timeout, &clock, async move {
                let result = request.run(&mut inst).await;
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
                        r = request.run(&mut inst) => Some(r),
                        () = stop.cancelled() => None,
                    }
                });
                if let Some(result) = outcome {
                    let _ = answer.send((inst, result));
                }
            });
            within(limits.timeout, &clock, answered).await
        };
        let denials = recorded.take();
        self.health.add_denials(denials.len());
        match outcome {
            None => Err(self.timed_out()),
            Some(Err(_)) => Err(CallError::Trap {
                plugin: self.name.clone(),
                reason: "the call's thread ended without an answer".into(),
                stderr: None,
            }),
            Some(Ok((mut inst, Err(trap)))) => {
                if let Some(stop) = inst.store.data_mut().interrupted.take() {
                    Err(match stop {
                        Interrupted::Later(questions) => CallError::InputRequired { questions },
                        Interrupted::MissingCapability(capability) => {
                            CallError::MissingCapability { capability }
                        }
                    })
                } else if inst.store.data().limiter.exceeded {
                    Err(CallError::Memory {
                        plugin: self.name.clone(),
                        limit: limits.memory / (1024 * 1024),
                        manifest: self.manifest_path.clone(),
                    })
                } else {
                    Err(CallError::Trap {
                        plugin: self.name.clone(),
                        reason: describe_trap(&trap),
                        stderr: inst.store.data().sandbox.stderr_tail.quote(),
                    })
                }
            }
            Some(Ok((mut inst, Ok(answer)))) => {
                let secrets = self.grants.injected().values();
                let answer = if secrets.is_empty() {
                    answer
                } else {
                    R::redact(answer, &secrets)
                };
                let size = R::size(&answer);
                if size > limits.result_size {
                    Err(CallError::TooLarge {
                        plugin: self.name.clone(),
                        size,
                        limit: limits.result_size,
                        manifest: self.manifest_path.clone(),
                    })
                } else {
                    inst.store.data_mut().scope = None;
                    let current = self.code.current();
                    if let Ok(mut idle) = self.idle.lock()
                        && current.is_some_and(|c| Arc::ptr_eq(&inst.code, &c))
                    {
                        idle.push(inst);
                    }
                    if denials.is_empty() {
                        Ok((answer, size))
                    } else {
                        // pier's account of refused network/HTTP operations goes with a failed
                        // answer, so the client sees what to grant, not just "access denied".
                        let note = format!("pier: {}", denials.join("\npier: "));
                        Ok((R::explain(answer, &note), size))
                    }
                }
            }
        }
        // Instances that failed are dropped here; only clean ones went back to `idle`.
    }

    fn timed_out(&self) -> CallError {
        CallError::Timeout {
            plugin: self.name.clone(),
            limit: self.limits.timeout,
            manifest: self.manifest_path.clone(),
        }
    }

    /// Waits for a free instance slot, unless `[limits].queue` calls are already waiting, and
    /// no longer than the call's time limit (a slot stays taken while its call's thread is
    /// stuck in a syscall).
    async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, CallError> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let limits = self.limits;
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _guard = Waiting(&self.waiting);
        let busy = || CallError::Busy {
            plugin: self.name.clone(),
            running: limits.instances,
            waiting,
            manifest: self.manifest_path.clone(),
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

    /// Creates a fresh instance of `code` with its own WASI context built from the grants.
    async fn instantiate(&self, code: Arc<Code>) -> Result<Instance, CallError> {
        let fail = |reason: String| CallError::Instantiate {
            plugin: self.name.clone(),
            reason,
        };
        let (wasi, sandbox) =
            crate::grants::instance_sandbox(&self.grants).map_err(|e| fail(e.to_string()))?;
        let state = State::new(wasi, sandbox, self.identity.clone(), self.limits.memory);
        let mut store = Store::new(&code.runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        let timeout = self.limits.timeout;
        let instance =
            match tokio::time::timeout(timeout, code.pre.instantiate_async(&mut store)).await {
                Err(_) => return Err(self.timed_out()),
                Ok(r) => r.map_err(|e| {
                    let printed = store.data().sandbox.stderr_tail.quote();
                    fail(format!("{}{}", describe_trap(&e), last_words(&printed)))
                })?,
            };
        let tools = code
            .exports
            .tools
            .load(&mut store, &instance)
            .map_err(|e| fail(e.to_string()))?;
        // Optional exports: present in the component or not, decided once at load.
        macro_rules! optional {
            ($export:ident) => {
                match &code.exports.$export {
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
        let about = optional!(about);
        Ok(Instance {
            code,
            store,
            tools,
            resources,
            prompts,
            completions,
            about,
        })
    }
}
