//! Keeps the HTTP/1.1 connections a plugin opens to its granted origins open between its
//! requests, as every HTTP client of a web service does.
//!
//! wasmtime's default sender opens a new TCP connection, and for `https` a new TLS handshake,
//! for every request: to a remote API that is one to three round trips and a handshake's CPU
//! before each tool call's first byte (Node's and Go's clients keep their connections).
//!
//! One pool per loaded plugin, shared by its instances; nothing crosses plugins, and a
//! replaced plugin starts with an empty pool. A connection returns to the pool when the
//! response body has been read to its end (a body left unread makes the connection useless, so
//! it is dropped), and is reused only while it has been idle less than [`IDLE_MAX`], shorter
//! than the keep-alive timeouts of the services plugins talk to (60 s at the load balancers of
//! Slack and GitHub), so a connection the server is about to close is not picked. A request
//! that hyper could not start on a reused connection is sent again on a new one; one that was
//! already written is never sent twice (it may have been a post).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Scheme;
use http_body::{Body, Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// How long an idle connection is kept for reuse.
pub const IDLE_MAX: Duration = Duration::from_secs(15);
/// Idle connections kept per origin (a plugin's instances each hold at most one at a time).
const IDLE_PER_ORIGIN: usize = 16;

/// A plugin's idle connections by origin, and the TLS setup they share.
pub struct ConnectionPool {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
    tls: Arc<rustls::ClientConfig>,
}

struct Idle {
    sender: SendRequest<WasiBody>,
    since: Instant,
}

impl Default for ConnectionPool {
    fn default() -> Self {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        ConnectionPool {
            idle: Mutex::new(HashMap::new()),
            tls: Arc::new(tls),
        }
    }
}

/// A response body that gives its connection back to the pool once it has been read to the end,
/// and fails when nothing arrives for `between_bytes`.
pub struct PooledBody {
    inner: hyper::body::Incoming,
    timeout: tokio::time::Interval,
    back: Option<(Arc<ConnectionPool>, String, SendRequest<WasiBody>)>,
}

impl PooledBody {
    fn give_back(&mut self) {
        if let Some((pool, origin, sender)) = self.back.take() {
            pool.put(origin, sender);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.give_back();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                // The connection is broken or out of step: it is not given back.
                this.back = None;
                Poll::Ready(Some(Err(if e.is_timeout() {
                    HttpError::HttpResponseTimeout
                } else {
                    HttpError::from(e)
                })))
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.timeout.reset();
                // A reader may stop at the last byte without asking for the end.
                if this.inner.is_end_stream() {
                    this.give_back();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.timeout.poll_tick(cx) {
                Poll::Ready(_) => {
                    this.back = None;
                    Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `scheme://host:port`, the pool's key, and `host:port` to connect to.
fn origin_of(uri: &http::Uri) -> Result<(String, String, bool), HttpError> {
    let authority = uri.authority().ok_or(HttpError::HttpRequestUriInvalid)?;
    let tls = uri.scheme() == Some(&Scheme::HTTPS);
    let address = match authority.port() {
        Some(_) => authority.as_str().to_ascii_lowercase(),
        None => format!(
            "{}:{}",
            authority.host().to_ascii_lowercase(),
            if tls { 443 } else { 80 }
        ),
    };
    let scheme = if tls { "https" } else { "http" };
    Ok((format!("{scheme}://{address}"), address, tls))
}

/// The server name rustls checks the certificate against: an IP literal or a DNS name.
fn server_name(address: &str) -> Result<rustls::pki_types::ServerName<'static>, HttpError> {
    use rustls::pki_types::ServerName;
    if let Ok(addr) = address.parse::<std::net::SocketAddr>() {
        return Ok(ServerName::from(addr.ip()));
    }
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    ServerName::try_from(host.to_string()).map_err(HttpError::from)
}

/// The HTTP/1.1 handshake on an open stream; the connection's I/O runs on a task of its own
/// until every sender of it is dropped.
async fn http1<S>(stream: S) -> Result<SendRequest<WasiBody>, HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(HttpError::from)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

impl ConnectionPool {
    /// An idle connection to `origin` that is ready for a request, dropping the expired and
    /// closed ones on the way.
    async fn take(&self, origin: &str) -> Option<SendRequest<WasiBody>> {
        loop {
            let candidate = {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                let list = idle.get_mut(origin)?;
                list.retain(|i| i.since.elapsed() < IDLE_MAX && !i.sender.is_closed());
                list.pop()?
            };
            let mut sender = candidate.sender;
            // Given back at the body's end, hyper is idle again within a poll or two.
            if tokio::time::timeout(Duration::from_millis(100), sender.ready())
                .await
                .is_ok_and(|r| r.is_ok())
            {
                return Some(sender);
            }
        }
    }

    fn put(&self, origin: String, sender: SendRequest<WasiBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(origin).or_default();
        if list.len() < IDLE_PER_ORIGIN {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// A new connection: TCP, TLS for `https`, the HTTP/1.1 handshake.
    async fn connect(
        &self,
        address: &str,
        tls: bool,
        timeout: Duration,
    ) -> Result<SendRequest<WasiBody>, HttpError> {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
            .map_err(HttpError::Connect)?;
        // Requests are small and answers awaited: Nagle's delay would only add latency.
        let _ = tcp.set_nodelay(true);
        let handshake = async {
            if tls {
                let name = server_name(address)?;
                let stream = tokio_rustls::TlsConnector::from(self.tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(HttpError::Tls)?;
                http1(stream).await
            } else {
                http1(tcp).await
            }
        };
        tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
    }

    /// Sends `request` on an idle connection to its origin, or on a new one.
    pub async fn send(
        self: Arc<Self>,
        mut request: http::Request<WasiBody>,
        options: RequestOptions,
    ) -> Result<http::Response<PooledBody>, HttpError> {
        let (origin, address, tls) = origin_of(request.uri())?;
        let forever = Duration::from_secs(600);
        let connect_timeout = options.connect_timeout.unwrap_or(forever);
        let first_byte = options.first_byte_timeout.unwrap_or(forever);
        // tokio panics on a zero interval.
        let between_bytes = options
            .between_bytes_timeout
            .unwrap_or(forever)
            .max(Duration::from_nanos(1));
        // On the wire the target is the path; the authority went into the Host header.
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        *request.uri_mut() = target;
        let mut reused = self.take(&origin).await;
        let response = loop {
            let fresh = reused.is_none();
            let mut sender = match reused.take() {
                Some(s) => s,
                None => self.connect(&address, tls, connect_timeout).await?,
            };
            let sent = tokio::time::timeout(first_byte, sender.try_send_request(request))
                .await
                .map_err(|_| HttpError::ConnectionReadTimeout)?;
            match sent {
                Ok(response) => break (response, sender),
                Err(mut e) => match e.take_message() {
                    // Not started on a connection that went stale: once more on a new one.
                    Some(unsent) if !fresh => request = unsent,
                    _ => return Err(HttpError::from(e.into_error())),
                },
            }
        };
        let (response, sender) = response;
        let mut timeout = tokio::time::interval(between_bytes);
        timeout.reset();
        Ok(response.map(|inner| PooledBody {
            inner,
            timeout,
            back: Some((self.clone(), origin, sender)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_carry_their_default_port_and_ignore_case() {
        let o = |u: &str| origin_of(&u.parse().expect("uri")).expect("origin");
        assert_eq!(
            o("https://API.slack.com/api/x"),
            (
                "https://api.slack.com:443".into(),
                "api.slack.com:443".into(),
                true
            )
        );
        assert_eq!(
            o("http://127.0.0.1:8080/a?b"),
            (
                "http://127.0.0.1:8080".into(),
                "127.0.0.1:8080".into(),
                false
            )
        );
        assert!(origin_of(&"/relative".parse().expect("uri")).is_err());
    }

    #[test]
    fn server_names_are_hosts_or_addresses() {
        use rustls::pki_types::ServerName;
        assert_eq!(
            server_name("api.github.com:443").expect("name"),
            ServerName::try_from("api.github.com").expect("dns")
        );
        assert_eq!(
            server_name("[::1]:443").expect("name"),
            ServerName::from(std::net::Ipv6Addr::LOCALHOST)
        );
    }
}
