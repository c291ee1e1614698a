//! `[grants].http`: outgoing requests through `wasi:http`, to granted origins only.
//!
//! An origin is `scheme://host[:port]` with scheme `http` or `https`; the host may be `*.domain`.
//! The check runs in pier's `send_request` hook, before a connection is opened, so a refused
//! request sends no byte. Granted requests get the per-request time limit and a cap on the
//! response body from `[limits]`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::credentials::{self, Injected, SecretCell};
use super::denials::Denials;
use super::http_pool::ConnectionPool;
use crate::grammar::http::HttpGrant;
use crate::grammar::http::SecretSource;

/// The `wasi:http` hooks of one instance: the origin check, the time limit and the size cap.
pub struct HttpGate {
    pub plugin: String,
    pub manifest: String,
    pub grants: std::sync::Arc<Vec<HttpGrant>>,
    /// Per grant (same order), the credential to inject.
    pub secrets: std::sync::Arc<Vec<Option<std::sync::Arc<SecretCell>>>>,
    pub injected: Injected,
    pub denials: Denials,
    pub timeout: Duration,
    pub max_response: u64,
    /// The plugin's open connections, shared by its instances.
    pub pool: std::sync::Arc<ConnectionPool>,
}

impl HttpGate {
    /// Which grant lets a request to this URI be sent; the refusal text if none does.
    pub fn check(&self, uri: &http::Uri) -> Result<usize, String> {
        let https = uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"));
        let host = uri.host().unwrap_or("").to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        // An origin with a credential is granted once and exactly, so it wins over a wildcard
        // that also covers it: its requests always carry the credential.
        let matches = |g: &HttpGrant| g.matches(https, &host, port);
        let found = self
            .grants
            .iter()
            .position(|g| g.credential.is_some() && matches(g))
            .or_else(|| self.grants.iter().position(matches));
        if let Some(i) = found {
            return Ok(i);
        }
        let scheme = if https { "https" } else { "http" };
        let default = if https { 443 } else { 80 };
        let origin = if port == default {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{port}")
        };
        Err(format!(
            "{} tried to send an HTTP request to {origin}; to allow it add \"{origin}\" to [grants].http in {}",
            self.plugin, self.manifest
        ))
    }

    fn clamp(&self, options: Option<RequestOptions>) -> RequestOptions {
        let limit = |d: Option<Duration>| Some(d.map_or(self.timeout, |d| d.min(self.timeout)));
        let o = options.unwrap_or_default();
        RequestOptions {
            connect_timeout: limit(o.connect_timeout),
            first_byte_timeout: limit(o.first_byte_timeout),
            between_bytes_timeout: limit(o.between_bytes_timeout),
        }
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let mut request = request;
        let grant = match self.check(request.uri()) {
            Ok(i) => i,
            Err(refusal) => {
                self.denials.record(&self.plugin, refusal);
                return Box::new(async { Err(HttpError::HttpRequestDenied) });
            }
        };
        // The grant's credential replaces whatever the guest put in its place.
        let cell = self.secrets.get(grant).cloned().flatten();
        let mut forms = Vec::new();
        if let Some(cell) = &cell {
            match credentials::inject(&mut request, cell, &self.injected) {
                Ok(f) => forms = f,
                Err(why) => {
                    let origin = &self.grants[grant].text;
                    self.denials.record(
                        &self.plugin,
                        format!("no credential for {origin}, so the request was not sent: {why}; set it, or change auth for this origin in [grants].http of {}", self.manifest),
                    );
                    return Box::new(async { Err(HttpError::HttpRequestDenied) });
                }
            }
        }
        let rejected_credential = cell.map(|c| {
            let origin = self.grants[grant].text.clone();
            let source = c.credential.source.clone();
            move |status: u16| {
                let again = match source {
                    SecretSource::File(_) => "; pier reads the file again when it changes",
                    SecretSource::Env(_) => "; pier reads it again on its next start",
                };
                format!(
                    "{origin} answered {status} to a request carrying the credential pier injects from {}: check that it is valid and allows this{again}",
                    source.describe()
                )
            }
        });
        let options = self.clamp(options);
        let timeout = self.timeout;
        let max = self.max_response;
        let denials = self.denials.clone();
        let plugin = self.plugin.clone();
        let pool = self.pool.clone();
        let too_big = {
            let uri = request.uri().clone();
            let plugin = self.plugin.clone();
            let manifest = self.manifest.clone();
            move |size: u64| {
                format!(
                    "{plugin} received more than {size} bytes from {uri}, past its [limits].http_response_size of {max} bytes; the response was cut off. Raise [limits].http_response_size in {manifest} if it needs more"
                )
            }
        };
        Box::new(async move {
            let sent = tokio::time::timeout(timeout, pool.send(request, options))
                .await
                .map_err(|_| HttpError::ConnectionTimeout)?;
            let mut response = sent?;
            if let Some(explain) = rejected_credential
                && matches!(response.status().as_u16(), 401 | 403)
                && !rate_limited(response.headers())
            {
                denials.record(&plugin, explain(response.status().as_u16()));
            }
            if !forms.is_empty() {
                credentials::redact_headers(response.headers_mut(), &forms);
            }
            if let Some(len) = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                && len > max
            {
                denials.record(&plugin, too_big(len));
                return Err(HttpError::HttpResponseBodySize(Some(len)));
            }
            let overflow = Box::new(move |seen: u64| denials.record(&plugin, too_big(seen)));
            let response = response.map(|body| {
                let capped = Capped::new(body, max, overflow);
                if forms.is_empty() {
                    capped.boxed_unsync()
                } else {
                    credentials::Redacted::new(capped, &forms).boxed_unsync()
                }
            });
            // The connection's I/O runs on a task of the pool; its failures reach the body.
            let io = async { Ok(()) };
            Ok((
                response,
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

/// A response body that fails once more than `max` bytes have arrived, so a plugin cannot make
/// pier buffer an unbounded download.
struct Capped<B> {
    inner: B,
    seen: u64,
    max: u64,
    /// Records the refusal once, when the cap is first passed.
    on_overflow: Option<Box<dyn FnOnce(u64) + Send>>,
}

impl<B> Capped<B> {
    fn new(inner: B, max: u64, on_overflow: Box<dyn FnOnce(u64) + Send>) -> Self {
        Capped {
            inner,
            seen: 0,
            max,
            on_overflow: Some(on_overflow),
        }
    }
}

impl<B> Body for Capped<B>
where
    B: Body<Data = Bytes, Error = HttpError> + Unpin,
{
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                    if this.seen > this.max {
                        if let Some(report) = this.on_overflow.take() {
                            report(this.seen);
                        }
                        return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(
                            this.seen,
                        )))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether a 403/429 is a rate limit (`X-RateLimit-Remaining: 0` or `Retry-After`): the
/// credential was accepted, so a note blaming it would mislead.
fn rate_limited(headers: &http::HeaderMap) -> bool {
    headers.contains_key(http::header::RETRY_AFTER)
        || headers
            .get("x-ratelimit-remaining")
            .is_some_and(|v| v.as_bytes() == b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(grants: &[&str]) -> HttpGate {
        HttpGate {
            plugin: "p".into(),
            manifest: "p.toml".into(),
            grants: std::sync::Arc::new(
                grants
                    .iter()
                    .map(|g| HttpGrant::parse(g).expect("valid"))
                    .collect(),
            ),
            secrets: std::sync::Arc::new(vec![None; grants.len()]),
            injected: Injected::default(),
            denials: Denials::default(),
            timeout: Duration::from_secs(1),
            max_response: 10,
            pool: Default::default(),
        }
    }

    fn uri(s: &str) -> http::Uri {
        s.parse().expect("uri")
    }

    #[test]
    fn the_origin_with_a_credential_wins_over_a_wildcard() {
        let mut g = gate(&["https://*.example.com", "https://api.example.com"]);
        let mut grants: Vec<HttpGrant> = g.grants.iter().cloned().collect();
        grants[1].credential = Some(crate::grammar::http::Credential {
            injection: crate::grammar::http::Injection::Bearer,
            source: SecretSource::Env("T".into()),
        });
        g.grants = std::sync::Arc::new(grants);
        let uri = |u: &str| u.parse::<http::Uri>().expect("uri");
        assert_eq!(g.check(&uri("https://api.example.com/x")), Ok(1));
        assert_eq!(g.check(&uri("https://www.example.com/x")), Ok(0));
    }

    #[test]
    fn origins_match_exactly_or_by_subdomain() {
        let g = gate(&[
            "https://api.github.com",
            "https://*.slack.com",
            "http://127.0.0.1:8080",
        ]);
        assert!(g.check(&uri("https://api.github.com/repos")).is_ok());
        assert!(g.check(&uri("https://API.GitHub.com:443/x")).is_ok());
        assert!(g.check(&uri("https://files.slack.com/")).is_ok());
        assert!(g.check(&uri("http://127.0.0.1:8080/")).is_ok());
        let e = g
            .check(&uri("https://slack.com/"))
            .expect_err("bare domain");
        assert!(e.contains("\"https://slack.com\""), "{e}");
        let e = g
            .check(&uri("http://127.0.0.1:8081/"))
            .expect_err("other port");
        assert!(
            e.contains("\"http://127.0.0.1:8081\"") && e.contains("p.toml"),
            "{e}"
        );
        assert!(
            g.check(&uri("http://api.github.com/")).is_err(),
            "scheme matters"
        );
        assert!(g.check(&uri("https://evil.com/?api.github.com")).is_err());
    }

    #[test]
    fn grants_are_validated() {
        assert_eq!(HttpGrant::parse("https://a.b").expect("valid").port, 443);
        assert_eq!(HttpGrant::parse("http://a.b/").expect("valid").port, 80);
        for bad in [
            "api.github.com",
            "ftp://a.b",
            "https://a.b/path",
            "https://u@a.b",
            "https://a.b:0",
            "https://a..b",
        ] {
            assert!(HttpGrant::parse(bad).is_err(), "{bad}");
        }
    }
}
