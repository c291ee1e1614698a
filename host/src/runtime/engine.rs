//! The shared wasmtime engine, its linker, and the epoch clock that bounds calls.

use std::sync::{Arc, Weak};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::pier::mcp::host;
use super::state::State;

/// How often the epoch advances. A running guest yields to the executor at each tick, which is
/// what lets a tokio timeout stop a guest spinning in a loop without touching other calls.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// One engine and linker for the whole host; plugins share compiled code, never state.
pub struct Runtime {
    pub engine: Engine,
    pub linker: Linker<State>,
}

impl Runtime {
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
        let runtime = Arc::new(Runtime { engine, linker });
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
