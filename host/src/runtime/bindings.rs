//! Host-side bindings generated from `wit/pier.wit`.
//!
//! We bind the `described-plugin` world (everything pier calls) so that every export interface
//! has generated types, but we never instantiate through the world type: every interface but
//! `tools` is optional, so each is looked up on its own (see `plugin::pool`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "described-plugin",
    exports: { default: async },
    // Opens through wasmtime-wasi's own (async) `open-at`; see `runtime::directory`.
    // `ask` waits for the client, and may end the run of the call (a trap pier tells from a crash).
    imports: {
        "pier:mcp/host.read-directory": async,
        "pier:mcp/host.ask": async | trappable,
    },
});
