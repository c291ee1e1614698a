//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! Requests go through pier's send hook: the origin must be granted in `[grants].http`, and a
//! credential configured for the origin is added by pier (the plugin never holds it; a header
//! the plugin sets in its place is replaced). Redirects are not followed: a `3xx` comes back as
//! it is, so the plugin decides whether the `Location` is an origin it may call.
//!
//! ```no_run
//! use pier_sdk::http::Request;
//!
//! let answer = Request::get("https://api.example.com/v1/things?page=2")
//!     .header("Accept", "application/json")
//!     .send()?;
//! assert!(answer.status < 400, "{}", answer.text());
//! # Ok::<(), pier_sdk::http::HttpError>(())
//! ```

use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

/// The most of a response body a [`Request`] reads unless told otherwise (8 MiB).
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL is not one a request can be made of.
    BadUrl(String),
    /// pier refused it: the origin is not granted, or its credential is missing. pier adds the
    /// reason and the manifest line to change to the tool result.
    Denied(String),
    /// The connection, TLS or the exchange failed.
    Failed(String),
    /// The body is larger than the limit the request set.
    TooLarge { limit: usize },
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::BadUrl(m) | HttpError::Denied(m) | HttpError::Failed(m) => f.write_str(m),
            HttpError::TooLarge { limit } => {
                write!(f, "the response body is larger than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for HttpError {}

/// Percent-encodes one path segment, query value or form field (RFC 3986 unreserved
/// characters stay as they are).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Bodies beyond this many bytes fail with [`HttpError::TooLarge`].
    pub max_body: usize,
    /// Time to wait for the connection, for the first byte of the answer and between chunks
    /// of it, in milliseconds.
    pub timeout_ms: Option<u64>,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in the order they arrived.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("the answer is not JSON: {e}"))
    }
}

impl Request {
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: None,
            max_body: DEFAULT_MAX_BODY,
            timeout_ms: None,
        }
    }

    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// A JSON body, with its content type.
    pub fn json(mut self, body: &serde_json::Value) -> Request {
        self.headers
            .push(("Content-Type".into(), "application/json".into()));
        self.body = Some(body.to_string().into_bytes());
        self
    }

    /// A form body (`application/x-www-form-urlencoded`), the one every method of APIs such
    /// as Slack's Web API accepts.
    pub fn form(mut self, fields: &[(&str, String)]) -> Request {
        self.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        self.body = Some(body.join("&").into_bytes());
        self
    }

    pub fn max_body(mut self, bytes: usize) -> Request {
        self.max_body = bytes;
        self
    }

    pub fn timeout_ms(mut self, ms: u64) -> Request {
        self.timeout_ms = Some(ms);
        self
    }

    /// Sends the request and reads the whole answer (blocking the instance, which serves one
    /// call at a time).
    pub fn send(&self) -> Result<Response, HttpError> {
        let parts = Parts::of(&self.url)?;
        let fields = Fields::new();
        for (name, value) in &self.headers {
            fields
                .append(name, value.as_bytes())
                .map_err(|e| HttpError::BadUrl(format!("header {name}: {e:?}")))?;
        }
        let request = OutgoingRequest::new(fields);
        request
            .set_method(&method(&self.method))
            .and_then(|()| request.set_scheme(Some(&parts.scheme)))
            .and_then(|()| request.set_authority(Some(parts.authority)))
            .and_then(|()| request.set_path_with_query(Some(&parts.path)))
            .map_err(|()| HttpError::BadUrl(format!("{} is not a valid request URL", self.url)))?;
        let body = request
            .body()
            .map_err(|()| HttpError::Failed("the request body was taken".into()))?;
        let options = self.timeout_ms.map(|ms| {
            let options = RequestOptions::new();
            let ns = ms.saturating_mul(1_000_000);
            let _ = options.set_connect_timeout(Some(ns));
            let _ = options.set_first_byte_timeout(Some(ns));
            // A body that trickles stalls no longer than this between chunks.
            let _ = options.set_between_bytes_timeout(Some(ns));
            options
        });
        let pending = outgoing_handler::handle(request, options).map_err(refused)?;
        write_body(body, self.body.as_deref())?;
        let response = loop {
            match pending.get() {
                Some(result) => break result,
                None => pending.subscribe().block(),
            }
        };
        let response = response
            .map_err(|()| HttpError::Failed("the response was already taken".into()))?
            .map_err(refused)?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let incoming = response
            .consume()
            .map_err(|()| HttpError::Failed("the body was already taken".into()))?;
        let stream = incoming
            .stream()
            .map_err(|()| HttpError::Failed("the body stream was already taken".into()))?;
        let mut bytes = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > self.max_body {
                        return Err(HttpError::TooLarge {
                            limit: self.max_body,
                        });
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(HttpError::Failed(format!(
                        "reading the answer of {}: {}",
                        self.url,
                        e.to_debug_string()
                    )));
                }
            }
        }
        drop(stream);
        Ok(Response {
            status,
            headers,
            body: bytes,
        })
    }
}

fn write_body(body: OutgoingBody, bytes: Option<&[u8]>) -> Result<(), HttpError> {
    if let Some(bytes) = bytes {
        let stream = body
            .write()
            .map_err(|()| HttpError::Failed("the request body stream was taken".into()))?;
        // blocking-write-and-flush takes at most 4096 bytes at a time.
        for chunk in bytes.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| HttpError::Failed(format!("sending the request body: {e:?}")))?;
        }
        drop(stream);
    }
    OutgoingBody::finish(body, None).map_err(refused)
}

fn method(name: &str) -> Method {
    match name.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    }
}

/// What pier or the network said, as a message a user can act on.
fn refused(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => {
            HttpError::Denied("pier refused the request: its origin is not granted".into())
        }
        ErrorCode::InternalError(Some(m)) => HttpError::Failed(m),
        ErrorCode::DnsError(e) => HttpError::Failed(format!(
            "the name did not resolve ({})",
            e.rcode.unwrap_or_default()
        )),
        ErrorCode::ConnectionRefused => HttpError::Failed("the connection was refused".into()),
        ErrorCode::ConnectionTimeout => HttpError::Failed("the connection timed out".into()),
        ErrorCode::ConnectionReadTimeout => {
            HttpError::Failed("the server did not answer in time".into())
        }
        ErrorCode::TlsCertificateError | ErrorCode::TlsProtocolError => {
            HttpError::Failed(format!("TLS failed ({code:?})"))
        }
        other => HttpError::Failed(format!("the request failed ({other:?})")),
    }
}

/// A URL split the way `wasi:http` wants it.
struct Parts<'a> {
    scheme: Scheme,
    authority: &'a str,
    path: String,
}

impl<'a> Parts<'a> {
    fn of(url: &'a str) -> Result<Parts<'a>, HttpError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| HttpError::BadUrl(format!("{url} is not an absolute URL")))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() {
            return Err(HttpError::BadUrl(format!("{url} has no host")));
        }
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => {
                return Err(HttpError::BadUrl(format!(
                    "{url}: only http and https are supported, not {other}"
                )));
            }
        };
        Ok(Parts {
            scheme,
            authority,
            path,
        })
    }
}
