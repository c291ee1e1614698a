//! pier's own `wasi:sockets/ip-name-lookup`, replacing wasmtime-wasi's.
//!
//! wasmtime-wasi resolves any name the guest asks for (its address check runs only at connect),
//! so a plugin could use lookups as a side channel and a rebinding name could change between
//! lookup and connect. Here every lookup goes through the plugin's [`NetworkPolicy`]: ungranted
//! names are refused without a query, and granted answers are pinned for the connect check.
//!
//! [`NetworkPolicy`]: crate::grants::network::NetworkPolicy

use std::collections::VecDeque;
use std::net::IpAddr;

use wasmtime::component::{Linker, Resource, ResourceType};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddress};
use wasmtime_wasi::p2::{DynPollable, Network, Pollable, subscribe};

use super::state::State;
use crate::grants::LookupError;

/// The interface name wasmtime-wasi registers; guests importing any 0.2.x version are linked to
/// it by semver, so replacing this one entry covers them all. [`add_to_linker`] checks that the
/// name is really taken before it replaces it: were wasmtime-wasi to register another version,
/// pier would refuse to start rather than leave wasmtime-wasi's unchecked lookups in place.
const INTERFACE: &str = "wasi:sockets/ip-name-lookup@0.2.12";

/// The guest's view of one answer: pier resolves before returning the stream, so it is always
/// ready.
pub struct PinnedAnswer(VecDeque<IpAddr>);

#[async_trait::async_trait]
impl Pollable for PinnedAnswer {
    async fn ready(&mut self) {}
}

/// Replaces the name-lookup functions in a linker that already has wasmtime-wasi's.
pub fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    // Without shadowing, defining an existing function fails: that failure proves wasmtime-wasi's
    // lookup sits under INTERFACE, so the definitions below replace it rather than sit beside it.
    linker.allow_shadowing(false);
    let probe = linker
        .instance(INTERFACE)?
        .func_wrap("resolve-addresses", |_store, (): ()| Ok(()));
    if probe.is_ok() {
        wasmtime::bail!(
            "wasmtime-wasi does not register {INTERFACE}; update runtime::dns::INTERFACE to the version it links"
        );
    }
    linker.allow_shadowing(true);
    let mut inst = linker.instance(INTERFACE)?;
    inst.resource(
        "resolve-address-stream",
        ResourceType::host::<PinnedAnswer>(),
        |mut store, rep| {
            store
                .data_mut()
                .ctx()
                .table
                .delete(Resource::<PinnedAnswer>::new_own(rep))?;
            Ok(())
        },
    )?;
    inst.func_wrap_async(
        "resolve-addresses",
        |mut store, (network, name): (Resource<Network>, String)| {
            Box::new(async move {
                // The network handle is the capability to look up at all; check it is real.
                store.data_mut().ctx().table.get(&network)?;
                let lookup = store.data().sandbox.lookup(name);
                let result = match lookup.await {
                    Ok(ips) => {
                        let stream = store
                            .data_mut()
                            .ctx()
                            .table
                            .push(PinnedAnswer(ips.into()))?;
                        Ok(stream)
                    }
                    Err(LookupError::Denied) => Err(ErrorCode::AccessDenied),
                    Err(LookupError::Unresolvable) => Err(ErrorCode::NameUnresolvable),
                };
                Ok((result,))
            })
        },
    )?;
    inst.func_wrap(
        "[method]resolve-address-stream.resolve-next-address",
        |mut store, (stream,): (Resource<PinnedAnswer>,)| {
            let answer = store.data_mut().ctx().table.get_mut(&stream)?;
            let next: Option<IpAddress> = answer.0.pop_front().map(IpAddress::from);
            Ok((Ok::<_, ErrorCode>(next),))
        },
    )?;
    inst.func_wrap(
        "[method]resolve-address-stream.subscribe",
        |mut store, (stream,): (Resource<PinnedAnswer>,)| {
            let pollable: Resource<DynPollable> = subscribe(store.data_mut().ctx().table, stream)?;
            Ok((pollable,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
