//! Turns a manifest's `[grants]` into the sandbox of one instance. One file per capability;
//! anything not granted here is simply absent from the guest's world, and every refusal is
//! recorded with the manifest line that would allow it.

pub mod denials;
pub mod dns;
mod env;
mod files;
pub mod http;
pub mod network;

use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

pub use denials::Denials;
use http::{HttpGate, HttpGrant};
use network::NetworkPolicy;

use crate::plugin::manifest::Manifest;

/// What all instances of one plugin share: its network policy (with the DNS answers pier pinned)
/// and its HTTP origins.
pub struct PluginGrants {
    plugin: String,
    manifest_path: String,
    network: Arc<NetworkPolicy>,
    http: Arc<Vec<HttpGrant>>,
}

impl PluginGrants {
    pub fn new(plugin: &str, manifest: &Manifest) -> Self {
        let manifest_path = manifest.path.display().to_string();
        PluginGrants {
            plugin: plugin.to_string(),
            network: Arc::new(NetworkPolicy::new(
                plugin,
                &manifest_path,
                manifest.network.clone(),
                manifest.block_private,
            )),
            http: Arc::new(manifest.http.clone()),
            manifest_path,
        }
    }
}

/// The per-instance side of the sandbox, kept in the store.
pub struct Sandbox {
    network: Arc<NetworkPolicy>,
    pub http: HttpGate,
    pub denials: Denials,
}

impl Sandbox {
    /// What the name-lookup implementation needs, cloned so the store is free during the lookup.
    pub fn lookup_parts(&self) -> (Arc<NetworkPolicy>, Denials) {
        (self.network.clone(), self.denials.clone())
    }
}

/// Builds a fresh WASI context and sandbox for one instance of the plugin.
///
/// Private by default: no inherited environment, stdin, stdout or args; stderr is not inherited
/// either, since plugins log through `host.log`. Sockets exist but every address is checked
/// against `[grants].network`; name lookups are answered by [`dns`]. Clocks and random are
/// always available.
pub fn instance_sandbox(
    manifest: &Manifest,
    grants: &PluginGrants,
) -> Result<(WasiCtx, Sandbox), GrantError> {
    let mut b = WasiCtxBuilder::new();
    // File operations run on the calling thread instead of hopping to tokio's blocking pool for
    // every WASI call (open, stat, read...). For local files that hop costs more than the
    // syscall: listing 1,000 entries went from ~108 ms to a few ms. It must be set before the
    // preopens are added, which capture it. The price: a very slow filesystem (a stalled network
    // mount) holds a tokio worker for the length of the syscall.
    b.allow_blocking_current_thread(true);
    let denials = Denials::default();
    // TCP and UDP are switched on so that a refusal reaches our check, which explains itself;
    // wasmtime's own switch would only say "not allowed".
    b.allow_tcp(true).allow_udp(true).allow_ip_name_lookup(true);
    {
        let policy = grants.network.clone();
        let denials = denials.clone();
        let plugin = grants.plugin.clone();
        b.socket_addr_check(move |addr, use_| {
            let verdict = match use_ {
                SocketAddrUse::TcpConnect => policy.check_connect(addr),
                // The implicit bind before a connect is to the wildcard address, port 0.
                SocketAddrUse::TcpBind if addr.ip().is_unspecified() && addr.port() == 0 => Ok(()),
                SocketAddrUse::TcpBind => Err(policy.refuse_use("bind a TCP socket to", addr)),
                SocketAddrUse::TcpListen => Err(policy.refuse_use("listen on", addr)),
                SocketAddrUse::TcpAccept => Err(policy.refuse_use("accept a connection on", addr)),
                SocketAddrUse::UdpBind => Err(policy.refuse_use("bind a UDP socket to", addr)),
                SocketAddrUse::UdpSend => Err(policy.refuse_use("send a UDP datagram to", addr)),
                SocketAddrUse::UdpReceive => {
                    Err(policy.refuse_use("receive UDP datagrams from", addr))
                }
            };
            if let Err(refusal) = &verdict {
                denials.record(&plugin, refusal);
            }
            Box::pin(async move { verdict.is_ok() })
        });
    }
    files::apply(&mut b, manifest)?;
    env::apply(&mut b, manifest);
    let http = HttpGate {
        plugin: grants.plugin.clone(),
        manifest: grants.manifest_path.clone(),
        grants: grants.http.clone(),
        denials: denials.clone(),
        timeout: manifest.limits.http_timeout,
        max_response: manifest.limits.http_response_size,
    };
    let sandbox = Sandbox {
        network: grants.network.clone(),
        http,
        denials,
    };
    Ok((b.build(), sandbox))
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("cannot open granted directory {host} (from [grants].files in {manifest}): {reason}")]
    Directory {
        host: String,
        manifest: String,
        reason: String,
    },
}
