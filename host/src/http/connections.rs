//! Accepting HTTP connections with limits: a header timeout, a connection cap, and room kept
//! for real callers when the cap is reached.
//!
//! `axum::serve` has none of these: a client that opens a connection and sends one byte holds a
//! file descriptor for as long as it likes, and enough of them make pier refuse everyone. Here
//! each connection is served by hyper's HTTP/1 server with a header-read timeout, which also
//! closes kept-alive connections that sit idle (the timer starts as soon as the server waits for
//! the next request). At `max_connections` the oldest connection that has never carried an
//! authenticated request is closed to make room for the new one, so a flood of idle or slow
//! connections delays nobody who has a token; only when every open connection has proved itself
//! is the newcomer turned away.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::ops::{Operations, Rejection};

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// One open connection, as the request handlers see it (a request extension).
pub struct Connection {
    id: u64,
    proven: AtomicBool,
    close: CancellationToken,
}

impl Connection {
    /// Marks the connection as one that carried an authenticated request: it is no longer
    /// closed to make room for newcomers.
    pub fn prove(&self) {
        self.proven.store(true, Ordering::Relaxed);
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Open {
    next: u64,
    by_age: BTreeMap<u64, Arc<Connection>>,
}

struct Registry {
    open: Mutex<Open>,
    max: usize,
}

impl Registry {
    /// Room for one more connection, closing the oldest unproven one if the cap is reached;
    /// `None` if every open connection has proved itself.
    fn admit(&self) -> Option<(Arc<Connection>, bool)> {
        let mut open = self.open.lock().ok()?;
        let mut evicted = false;
        if open.by_age.len() >= self.max {
            let victim = open
                .by_age
                .iter()
                .find(|(_, c)| !c.proven.load(Ordering::Relaxed))
                .map(|(id, _)| *id)?;
            if let Some(c) = open.by_age.remove(&victim) {
                c.close.cancel();
                evicted = true;
            }
        }
        let id = open.next;
        open.next += 1;
        let conn = Arc::new(Connection {
            id,
            proven: AtomicBool::new(false),
            close: CancellationToken::new(),
        });
        open.by_age.insert(id, conn.clone());
        Some((conn, evicted))
    }

    fn remove(&self, id: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.by_age.remove(&id);
        }
    }

    fn len(&self) -> usize {
        self.open.lock().map(|o| o.by_age.len()).unwrap_or(0)
    }
}

/// How long open requests may take to finish once shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish (up to
/// [`DRAIN`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    ops: Arc<Operations>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let registry = Arc::new(Registry {
        open: Mutex::new(Open::default()),
        max: limits.max_connections,
    });
    let stopping = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors (or a connection reset before accept): wait a moment
                // instead of spinning, and keep serving.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some((conn, evicted)) = registry.admit() else {
            ops.metrics.rejected(Rejection::ConnectionLimit);
            tracing::warn!(%peer, "refused a connection: {} open, the most [http].max_connections allows, and all carry authenticated requests", limits.max_connections);
            drop(stream);
            continue;
        };
        if evicted {
            ops.metrics.rejected(Rejection::ConnectionLimit);
            tracing::debug!(
                "closed the oldest unauthenticated connection to make room ([http].max_connections = {})",
                limits.max_connections
            );
        }
        let _ = stream.set_nodelay(true);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(serve_one(
            stream,
            peer,
            app.clone(),
            conn,
            registry.clone(),
            limits,
            stopping.clone(),
        ));
    }
    stopping.cancel();
    tracing::debug!(open = registry.len(), "draining connections");
    let drained =
        tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("some requests did not finish within {DRAIN:?} of shutdown; closing them");
        tasks.abort_all();
    }
}

async fn serve_one(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    conn: Arc<Connection>,
    registry: Arc<Registry>,
    limits: Limits,
    stopping: CancellationToken,
) {
    let tag = conn.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(tag.clone());
        app.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        r = connection.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        }
        () = conn.close.cancelled() => {}
        () = stopping.cancelled() => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                _ = connection.as_mut() => {}
                () = conn.close.cancelled() => {}
            }
        }
    }
    registry.remove(conn.id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_unproven_connection_makes_room() {
        let r = Registry {
            open: Mutex::new(Open::default()),
            max: 3,
        };
        let (a, _) = r.admit().expect("a");
        let (b, _) = r.admit().expect("b");
        let (c, _) = r.admit().expect("c");
        a.prove();
        let (_d, evicted) = r.admit().expect("room made");
        assert!(evicted);
        assert!(!a.close.is_cancelled(), "a proved itself");
        assert!(b.close.is_cancelled(), "b was the oldest unproven");
        assert!(!c.close.is_cancelled());
        assert_eq!(r.len(), 3);
        for conn in [&c, &_d] {
            conn.prove();
        }
        assert!(r.admit().is_none(), "every connection proved itself");
    }
}
