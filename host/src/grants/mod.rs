//! Turns a manifest's `[grants]` into the sandbox of one instance. One file per capability;
//! anything not granted here is simply absent from the guest's world, and every refusal is
//! recorded with the manifest line that would allow it.

pub mod credentials;
pub mod denials;
mod env;
mod files;
pub mod http;
mod http_pool;
pub mod network;
mod output;

use std::sync::Arc;
use std::time::Duration;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use credentials::{Injected, SecretCell};
pub use denials::Denials;
use http::HttpGate;
pub use network::LookupError;
use network::NetworkPolicy;
pub use output::{PluginOutput, Tail};

use crate::grammar::files::FileGrant;
use crate::grammar::http::HttpGrant;
use crate::grammar::network::NetworkGrant;

/// One plugin's grants, as the sandbox needs them. The plugin room builds it from the manifest;
/// enforcement never reads the manifest itself (only its path, to quote in refusals).
pub struct GrantSet {
    pub plugin: String,
    pub manifest_path: String,
    pub files: Vec<FileGrant>,
    pub env: Vec<String>,
    pub network: Vec<NetworkGrant>,
    pub block_private: bool,
    pub http: Vec<HttpGrant>,
    pub http_timeout: Duration,
    pub http_response_size: u64,
}

/// What all instances of one plugin share: its network policy (with the DNS answers pier pinned),
/// its HTTP origins, and the directories and variables each instance is given.
pub struct PluginGrants {
    set: GrantSet,
    network: Arc<NetworkPolicy>,
    http: Arc<Vec<HttpGrant>>,
    /// Per HTTP grant (same order), the credential pier injects, if any.
    secrets: Arc<Vec<Option<Arc<SecretCell>>>>,
    injected: Injected,
    /// Connections to the HTTP origins, kept open between requests.
    pool: Arc<http_pool::ConnectionPool>,
    /// Where its instances' stdout and stderr go: pier's log.
    output: PluginOutput,
}

impl PluginGrants {
    pub fn new(set: GrantSet) -> Self {
        let injected = Injected::default();
        PluginGrants {
            network: Arc::new(NetworkPolicy::new(
                &set.plugin,
                &set.manifest_path,
                set.network.clone(),
                set.block_private,
            )),
            http: Arc::new(set.http.clone()),
            secrets: Arc::new(
                set.http
                    .iter()
                    .map(|g| g.credential.clone().map(|c| Arc::new(SecretCell::new(c))))
                    .collect(),
            ),
            output: PluginOutput::new(&set.plugin, injected.clone()),
            injected,
            pool: Arc::default(),
            set,
        }
    }

    /// The credential values pier has injected for this plugin, to redact from its results.
    pub fn injected(&self) -> &Injected {
        &self.injected
    }

    /// Whether the plugin was granted any directory (its calls then run on a thread of their
    /// own: WASI file calls block).
    pub fn has_files(&self) -> bool {
        !self.set.files.is_empty()
    }
}

/// The per-instance side of the sandbox, kept in the store.
pub struct Sandbox {
    network: Arc<NetworkPolicy>,
    pub http: HttpGate,
    pub denials: Denials,
    /// The instance's last stderr lines, quoted when it crashes.
    pub stderr_tail: Tail,
    /// The plugin's output to pier's log, which `host.log` shares with stdout and stderr.
    pub output: PluginOutput,
}

impl Sandbox {
    /// Answers a guest's name lookup under the plugin's network policy (see
    /// `runtime::dns`): ungranted names are refused without a query, granted answers are pinned
    /// for the connect check. Owns what it needs, so the store is free while the lookup runs.
    pub fn lookup(
        &self,
        name: String,
    ) -> impl Future<Output = Result<Vec<std::net::IpAddr>, LookupError>> + Send + 'static {
        let (policy, denials) = (self.network.clone(), self.denials.clone());
        async move { policy.lookup(&name, &denials).await }
    }
}

/// Builds a fresh WASI context and sandbox for one instance of the plugin.
///
/// Private by default: no inherited environment, stdin or args. What the plugin prints on stdout
/// and stderr goes to pier's log, tagged with the plugin (see `output`), never to pier's own
/// streams. Sockets exist but every address is checked against `[grants].network`; name lookups
/// are answered by [`Sandbox::lookup`]. Clocks and random are always available.
pub fn instance_sandbox(grants: &PluginGrants) -> Result<(WasiCtx, Sandbox), GrantError> {
    let mut b = WasiCtxBuilder::new();
    // File operations run on the calling thread instead of hopping to tokio's blocking pool for
    // every WASI call (open, stat, read...). For local files that hop costs more than the
    // syscall: listing 1,000 entries went from ~108 ms to a few ms. It must be set before the
    // preopens are added, which capture it. The price: a very slow filesystem (a stalled network
    // mount) holds a tokio worker for the length of the syscall.
    b.allow_blocking_current_thread(true);
    let (stdout, stderr, stderr_tail) = grants.output.instance();
    b.stdout(stdout).stderr(stderr);
    let denials = Denials::default();
    // TCP and UDP are switched on so that a refusal reaches our check, which explains itself;
    // wasmtime's own switch would only say "not allowed".
    b.allow_tcp(true).allow_udp(true).allow_ip_name_lookup(true);
    {
        let policy = grants.network.clone();
        let denials = denials.clone();
        let plugin = grants.set.plugin.clone();
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
    let set = &grants.set;
    files::apply(&mut b, &set.files, &set.manifest_path)?;
    env::apply(&mut b, &set.env);
    let http = HttpGate {
        plugin: set.plugin.clone(),
        manifest: set.manifest_path.clone(),
        grants: grants.http.clone(),
        secrets: grants.secrets.clone(),
        injected: grants.injected.clone(),
        denials: denials.clone(),
        timeout: set.http_timeout,
        max_response: set.http_response_size,
        pool: grants.pool.clone(),
    };
    let sandbox = Sandbox {
        network: grants.network.clone(),
        http,
        denials,
        stderr_tail,
        output: grants.output.clone(),
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
