//! The shared wasmtime engines, their linkers, and the epoch clock that bounds calls.
//!
//! Plugins run on Cranelift's optimised code. Compiling a large component with it takes
//! seconds (a Python or JavaScript plugin carries its interpreter: 15-20 MB), so the first start
//! of one runs on code from Winch, wasmtime's baseline compiler, which compiles several times
//! faster into slower code, while Cranelift compiles in the background (see `plugin::loader`).
//! Each compiler has its own engine, since code from one engine runs only in its stores.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Strategy};

use super::bindings::pier::mcp::host;
use super::state::State;

/// How often the epoch advances. A running guest yields to the executor at each tick, which is
/// what lets a tokio timeout stop a guest spinning in a loop without touching other calls.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Which compiler made the code a runtime runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// Cranelift: optimised code, slower to compile.
    Optimized,
    /// Winch: a single-pass compiler for first starts of large components.
    Baseline,
}

/// One engine and linker per compiler for the whole host; plugins share compiled code, never
/// state.
pub struct Runtime {
    pub engine: Engine,
    pub linker: Linker<State>,
    pub tier: Tier,
    /// The Winch runtime beside this (Cranelift) one, made when first needed; `None` inside if
    /// it cannot be made here (then Cranelift compiles everything).
    baseline: OnceLock<Option<Arc<Runtime>>>,
}

impl Runtime {
    /// The optimising runtime every plugin ends up on.
    pub fn new() -> wasmtime::Result<Arc<Self>> {
        let engine = match std::env::var("PIER_INSTANCE_ALLOCATOR").as_deref() {
            Ok("on-demand") => Engine::new(&base_config())?,
            _ => {
                let mut config = base_config();
                config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling()));
                match Engine::new(&config) {
                    Ok(e) => e,
                    Err(e) => {
                        // Some sandboxes cap virtual memory; pier still works without the pool.
                        tracing::warn!(
                            "pooling instance allocator unavailable ({e}); using on-demand allocation"
                        );
                        Engine::new(&base_config())?
                    }
                }
            }
        };
        Self::with_engine(engine, Tier::Optimized)
    }

    /// The baseline (Winch) runtime, unless `PIER_BASELINE=off` or Winch cannot run here.
    pub fn baseline(&self) -> Option<Arc<Runtime>> {
        if self.tier == Tier::Baseline {
            return None;
        }
        self.baseline
            .get_or_init(|| {
                if std::env::var("PIER_BASELINE").is_ok_and(|v| v == "off" || v == "0") {
                    return None;
                }
                let mut config = base_config();
                config.strategy(Strategy::Winch);
                // Code that serves one start need not map back to wasm offsets (backtraces name
                // functions without them) nor register unwind tables: ~15% off its compile.
                config.native_unwind_info(false);
                config.generate_address_map(false);
                // Baseline code lives for one start; instances come and go on demand rather
                // than reserving a second pool of address space.
                match Engine::new(&config).and_then(|e| Self::with_engine(e, Tier::Baseline)) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::warn!(
                            "the baseline compiler is unavailable ({e:#}); large plugins start on Cranelift's code"
                        );
                        None
                    }
                }
            })
            .clone()
    }

    fn with_engine(engine: Engine, tier: Tier) -> wasmtime::Result<Arc<Self>> {
        let mut linker = Linker::<State>::new(&engine);
        // Every WASI 0.2 interface is linked, but a store only reaches what its WasiCtx grants:
        // no preopens, no env, no sockets unless the manifest says so.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // wasi:http is linked for every plugin; requests pass the origin check in
        // `grants::http`, so a plugin without [grants].http loads but cannot send.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        // Name lookups are answered by pier, not wasmtime-wasi (see `runtime::dns`).
        super::dns::add_to_linker(&mut linker)?;
        host::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
        let runtime = Arc::new(Runtime {
            engine,
            linker,
            tier,
            baseline: OnceLock::new(),
        });
        spawn_epoch_clock(Arc::downgrade(&runtime));
        Ok(runtime)
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    config
}

/// The pool that fresh instances come from. A new instance (after a crash, a timeout, or under
/// load) then reuses reserved memory instead of mapping it anew. Sizes are generous: a slot too
/// small for a plugin would fail its instantiation, and reservations are only address space.
fn pooling() -> PoolingAllocationConfig {
    let mut p = PoolingAllocationConfig::new();
    p.total_component_instances(1000)
        .total_core_instances(2000)
        .total_memories(2000)
        .total_tables(2000)
        .total_stacks(1000)
        .max_memories_per_component(8)
        .max_tables_per_component(8)
        .max_component_instance_size(16 << 20)
        .max_core_instance_size(16 << 20);
    p
}

/// A plain thread, not a tokio task: it must keep ticking even when every tokio worker is busy
/// running guests. It ends when the runtime is dropped.
fn spawn_epoch_clock(runtime: Weak<Runtime>) {
    let spawned = std::thread::Builder::new()
        .name("pier-epoch".into())
        .spawn(move || {
            while let Some(rt) = runtime.upgrade() {
                rt.engine.increment_epoch();
                drop(rt);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the epoch clock, timeouts will not stop busy loops: {e}");
    }
}
