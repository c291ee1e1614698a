//! `[grants].env`: named variables are copied from pier's own environment; nothing else is.
//! A granted variable that is unset in pier's environment is simply absent for the guest.

use wasmtime_wasi::WasiCtxBuilder;

pub fn apply(b: &mut WasiCtxBuilder, names: &[String]) {
    for name in names {
        if let Ok(value) = std::env::var(name) {
            b.env(name, value);
        }
    }
}
