//! Streamable HTTP: MCP at `/mcp` (rmcp's server), with `/healthz`, `/readyz` and `/metrics`
//! beside it, behind the Host/Origin guard and bearer-token authentication.
//!
//! Request path: guard (Host, Origin; 403) → authentication on `/mcp` and `/metrics` (401) →
//! rmcp (its answers to unreadable bodies made JSON-RPC errors by `body_errors`), which hands the
//! request's parts (with the [`Caller`](crate::access::Caller) put in
//! their extensions here) to the handler with every message.

mod auth;
mod body_errors;
mod connections;
mod exact_args;
mod guard;
mod sessions;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{
    SessionManager, StreamableHttpServerConfig, StreamableHttpService,
};
use tokio_util::sync::CancellationToken;

pub use auth::Authenticator;
pub use guard::Guard;
use sessions::{Owner, SessionOwners};

use crate::access::Tokens;
use crate::mcp::PierHandler;
use crate::ops::{Operations, Rejection};
use crate::plugin::Registry;

/// How to serve over HTTP.
pub struct HttpOptions {
    pub listen: SocketAddr,
    /// Host names (or `host:port`) clients use besides the loopback ones.
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call (`https://app.example.com`, `http://dev:*`).
    pub allowed_origins: Vec<String>,
    /// No sessions: every request stands alone, so any replica can answer it.
    pub stateless: bool,
    /// Header a trusted proxy names the end user in.
    pub identity_header: Option<String>,
    pub tokens: Tokens,
    /// The identity callers get when no tokens are configured.
    pub identity: Option<String>,
    /// Open connections at most. At the cap, the oldest connection that has not yet carried an
    /// authenticated request is closed to make room (so a flood of idle or slow connections
    /// cannot lock callers out); if every one has, the new connection is refused.
    pub max_connections: usize,
    /// Time a client has to send a request's headers; also how long an idle kept-alive
    /// connection stays open.
    pub header_timeout: std::time::Duration,
}

/// `[http].max_connections` when not set.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// `[http].header_timeout` when not set.
pub const DEFAULT_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "refusing to listen on {0} without tokens: anyone who can reach that address could call every tool. Configure tokens ([[http.tokens]] or tokens_file in pier.toml, --tokens FILE, or PIER_TOKEN), or listen on 127.0.0.1"
    )]
    OpenToNetwork(SocketAddr),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("the HTTP server stopped: {0}")]
    Serve(String),
}

struct Gate {
    guard: Guard,
    auth: Authenticator,
    ops: Arc<Operations>,
    registry: Arc<Registry>,
    /// Who created each session (stateful mode only).
    sessions: Option<Arc<SessionOwners>>,
}

/// Serves until `shutdown` completes; returns the bound address through `bound` first (port 0
/// picks a free one).
pub(crate) async fn serve(
    handler: PierHandler,
    registry: Arc<Registry>,
    opts: HttpOptions,
    bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    if !opts.listen.ip().is_loopback() && opts.tokens.is_empty() {
        return Err(HttpError::OpenToNetwork(opts.listen));
    }
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| HttpError::Bind {
            addr: opts.listen,
            reason: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| HttpError::Bind {
        addr: opts.listen,
        reason: e.to_string(),
    })?;
    let guard = Guard::new(addr, &opts.allowed_hosts, &opts.allowed_origins);
    if guard.accepts_any_host() {
        tracing::warn!(
            "listening on every interface with no [http].allowed_hosts: any Host header is accepted; list the names clients use to turn the DNS-rebinding check on"
        );
    }
    let cancel = CancellationToken::new();
    // pier's own guard checks Host and Origin (with reasons that say what to configure), so
    // rmcp's copy of the check is turned off rather than kept with a second list.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_cancellation_token(cancel.clone());
    let local_sessions = Arc::new(LocalSessionManager::default());
    let gate = Arc::new(Gate {
        guard,
        auth: Authenticator::new(opts.tokens, opts.identity_header, opts.identity),
        ops: handler.operations().clone(),
        registry,
        sessions: (!opts.stateless).then(|| Arc::new(SessionOwners::new(local_sessions.clone()))),
    });
    let app = if opts.stateless {
        let config = config
            .with_legacy_session_mode(false)
            .with_json_response(true);
        router(
            gate.clone(),
            handler,
            Arc::new(NeverSessionManager::default()),
            config,
        )
    } else {
        router(gate.clone(), handler, local_sessions, config)
    };
    tracing::info!(
        %addr,
        stateless = opts.stateless,
        tokens = gate.auth.requires_tokens(),
        max_connections = opts.max_connections,
        "serving MCP over Streamable HTTP at http://{addr}/mcp"
    );
    bound(addr);
    let limits = connections::Limits {
        max_connections: opts.max_connections.max(1),
        header_timeout: opts.header_timeout,
    };
    connections::serve(listener, app, limits, gate.ops.clone(), async move {
        shutdown.await;
        // End open SSE streams so the graceful shutdown does not wait on them.
        cancel.cancel();
    })
    .await;
    Ok(())
}

fn router<M: SessionManager>(
    gate: Arc<Gate>,
    handler: PierHandler,
    sessions: Arc<M>,
    config: StreamableHttpServerConfig,
) -> Router {
    let mcp = StreamableHttpService::new(move || Ok(handler.for_session()), sessions, config);
    let mcp = Router::new()
        .route_service("/mcp", mcp.clone())
        .route_service("/mcp/x/{*selection}", mcp)
        .route_layer(from_fn(exact_args::carry))
        .route_layer(from_fn(body_errors::rewrite));
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .merge(mcp)
        .route_layer(from_fn_with_state(gate.clone(), authenticate));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .merge(protected)
        .layer(from_fn_with_state(gate.clone(), check_host_and_origin))
        .with_state(gate)
}

fn text(status: StatusCode, body: String) -> Response {
    let mut r = (status, body + "\n").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn check_host_and_origin(
    State(gate): State<Arc<Gate>>,
    req: Request,
    next: Next,
) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
    let refused = match gate.guard.check_host(host) {
        Err(reason) => Some((Rejection::ForbiddenHost, reason)),
        Ok(()) => gate
            .guard
            .check_origin(origin)
            .err()
            .map(|reason| (Rejection::ForbiddenOrigin, reason)),
    };
    if let Some((why, reason)) = refused {
        gate.ops.metrics.rejected(why);
        tracing::warn!("refused a request: {reason}");
        return text(StatusCode::FORBIDDEN, format!("pier: {reason}"));
    }
    next.run(req).await
}

async fn authenticate(
    State(gate): State<Arc<Gate>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    use auth::Verdict;
    let (challenge, message) = match gate.auth.judge(req.headers()) {
        Verdict::Allowed(mut caller, token) => {
            if let Err(reason) = select_by_path(&mut caller, req.uri().path()) {
                return text(StatusCode::BAD_REQUEST, format!("pier: {reason}"));
            }
            if let Some(conn) = req.extensions().get::<Arc<connections::Connection>>() {
                conn.prove();
            }
            let owner = Owner {
                token,
                identity: caller.identity.clone(),
            };
            req.extensions_mut().insert(caller);
            return match &gate.sessions {
                Some(owners) if is_mcp_path(req.uri().path()) => {
                    in_own_session(&gate, owners, owner, req, next).await
                }
                _ => next.run(req).await,
            };
        }
        Verdict::BadHeader(reason) => {
            return text(StatusCode::BAD_REQUEST, format!("pier: {reason}"));
        }
        Verdict::Missing => (
            "Bearer realm=\"pier\"",
            "this server needs a bearer token: send `Authorization: Bearer <token>`",
        ),
        Verdict::Unknown => (
            "Bearer realm=\"pier\", error=\"invalid_token\", error_description=\"unknown token\"",
            "the bearer token is not one this server knows",
        ),
    };
    gate.ops.metrics.rejected(Rejection::Unauthorized);
    // Never the token itself: only that one was refused, and from where.
    tracing::warn!(%peer, path = %req.uri().path(), "unauthorized: {message}");
    let mut r = text(StatusCode::UNAUTHORIZED, format!("pier: {message}"));
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

/// `/mcp` and its tool-selecting forms `/mcp/x/…`: the paths that serve MCP (and sessions).
fn is_mcp_path(path: &str) -> bool {
    path == "/mcp" || path.starts_with(auth::SELECTION_PATH)
}

/// Narrows `caller` to what a `/mcp/x/…` path selects (and to read-only tools for
/// `/mcp/x/…/readonly`). A request that selects by header and by path is refused rather than
/// guessed at.
fn select_by_path(caller: &mut crate::access::Caller, path: &str) -> Result<(), String> {
    let Some((selection, read_only)) = auth::path_selection(path)? else {
        return Ok(());
    };
    if caller.selection.is_some() {
        return Err(format!(
            "this request selects tools twice, in the {} header and in its {}… path: use one",
            crate::access::TOOLS_HEADER,
            auth::SELECTION_PATH
        ));
    }
    caller.selection = Some(selection);
    if read_only && caller.read_only.is_none() {
        caller.read_only = Some(Arc::from("this request's URL ends in /readonly"));
    }
    Ok(())
}

/// Lets a request naming a session through only if its caller created that session, and binds
/// a session created by this request to its caller.
async fn in_own_session(
    gate: &Gate,
    owners: &Arc<SessionOwners>,
    owner: Owner,
    req: Request,
    next: Next,
) -> Response {
    let named = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(id) = &named
        && !owners.allows(id, &owner)
    {
        gate.ops.metrics.rejected(Rejection::ForeignSession);
        tracing::warn!(
            identity = owner.identity.as_deref().unwrap_or("-"),
            method = %req.method(),
            "refused a request naming another caller's session"
        );
        return text(StatusCode::NOT_FOUND, "pier: session not found".into());
    }
    let deleting = req.method() == axum::http::Method::DELETE;
    let response = next.run(req).await;
    match named {
        None => {
            if let Some(id) = response
                .headers()
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
            {
                owners.bind(id, owner);
            }
        }
        Some(id) if deleting && response.status().is_success() => owners.forget(&id),
        Some(_) => {}
    }
    response
}

const SESSION_HEADER: &str = "mcp-session-id";

/// 200 once every plugin has finished loading (failed ones included: they are reported, not
/// retried), 503 while some are still compiling.
async fn readyz(State(gate): State<Arc<Gate>>) -> Response {
    let reports = gate.registry.reports_now();
    let count =
        |want: fn(&crate::PluginStatus) -> bool| reports.iter().filter(|r| want(&r.status)).count();
    let loaded = count(|s| matches!(s, crate::PluginStatus::Loaded));
    let failed = count(|s| matches!(s, crate::PluginStatus::Failed(_)));
    if gate.registry.is_loading() {
        let compiling = count(|s| matches!(s, crate::PluginStatus::Compiling));
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("loading: {loaded} loaded, {compiling} compiling, {failed} failed"),
        );
    }
    text(
        StatusCode::OK,
        format!("ready: {loaded} loaded, {failed} failed"),
    )
}

async fn metrics(State(gate): State<Arc<Gate>>) -> Response {
    let body = gate.ops.metrics.render(&gate.registry.catalog());
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// Resolves on Ctrl-C or SIGTERM (what a container runtime sends).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing open requests");
}
