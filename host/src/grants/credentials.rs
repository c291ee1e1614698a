//! Credentials pier adds to a plugin's HTTP requests, so the plugin never holds them.
//!
//! A `[grants].http` origin may name a credential (see `grammar::http`). In the send hook pier
//! reads its value (an environment variable of pier's, or a file read again whenever it changes,
//! so a renewed token is used without a restart), replaces whatever the guest put in that header
//! or query parameter, and sends the request. The value never goes to another origin (only the
//! grant's own origin carries it), is never logged, and is redacted from what comes back: the
//! response's headers and body, and (as a second line) the plugin's own results.

use std::borrow::Cow;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::SystemTime;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use http_body::{Body, Frame};

use crate::grammar::http::{Credential, Injection, SecretSource};

/// What replaces a credential wherever pier finds it echoed.
pub const REDACTED: &str = "[credential redacted by pier]";

/// The largest credential file pier reads.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Most values remembered for redaction (rotated tokens stay redacted for a while).
const MAX_REMEMBERED: usize = 16;

/// One grant's credential and the last value read from its file.
pub struct SecretCell {
    pub credential: Credential,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    stamp: (Option<SystemTime>, u64),
    value: String,
}

impl SecretCell {
    pub fn new(credential: Credential) -> Self {
        SecretCell {
            credential,
            cached: Mutex::new(None),
        }
    }

    /// The current value, or why there is none (naming the variable or file, never a value).
    pub fn value(&self) -> Result<String, String> {
        let value = match &self.credential.source {
            SecretSource::Env(name) => std::env::var(name)
                .map_err(|_| format!("${name} is not set in pier's environment"))?,
            SecretSource::File(path) => self.read_file(path)?,
        };
        let value = value.trim_end_matches(['\r', '\n']).to_string();
        if value.is_empty() {
            return Err(format!("{} is empty", self.credential.source.describe()));
        }
        Ok(value)
    }

    /// Reads the file when its size or modification time changed since the last read.
    fn read_file(&self, path: &Path) -> Result<String, String> {
        let fail =
            |why: String| format!("cannot read the credential file {}: {why}", path.display());
        let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
        // Read in the send hook, on the plugin call's thread: a FIFO or a device would block
        // or never end, and a credential is small.
        if !meta.is_file() {
            return Err(fail("not a regular file".into()));
        }
        if meta.len() > MAX_SECRET_BYTES {
            return Err(fail(format!(
                "{} bytes, more than a credential's {MAX_SECRET_BYTES}",
                meta.len()
            )));
        }
        let stamp = (meta.modified().ok(), meta.len());
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cached.as_ref()
            && c.stamp == stamp
        {
            return Ok(c.value.clone());
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| {
                use std::io::Read;
                f.take(MAX_SECRET_BYTES + 1).read_to_end(&mut bytes)
            })
            .map_err(|e| fail(e.to_string()))?;
        if bytes.len() as u64 > MAX_SECRET_BYTES {
            return Err(fail(format!(
                "more than a credential's {MAX_SECRET_BYTES} bytes"
            )));
        }
        let value = String::from_utf8(bytes).map_err(|_| fail("not UTF-8 text".into()))?;
        *cached = Some(Cached {
            stamp,
            value: value.clone(),
        });
        Ok(value)
    }
}

/// Every value pier injected for one plugin, to redact wherever it shows up again.
#[derive(Clone, Default)]
pub struct Injected(Arc<Mutex<Vec<String>>>);

impl Injected {
    pub(super) fn remember(&self, forms: &[String]) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for f in forms {
            if !all.contains(f) {
                all.push(f.clone());
            }
        }
        let excess = all.len().saturating_sub(MAX_REMEMBERED);
        all.drain(..excess);
    }

    /// The values to redact now (none if no credential was ever injected).
    pub fn values(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// `text` with every one of `secrets` replaced by [`REDACTED`].
pub fn redact<'a>(text: &'a str, secrets: &[String]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), REDACTED));
        }
    }
    out
}

/// Puts the credential on `request` in place of whatever the guest set there, and remembers the
/// forms of the value that could be echoed back. Returns those forms.
pub fn inject<B>(
    request: &mut http::Request<B>,
    cell: &SecretCell,
    injected: &Injected,
) -> Result<Vec<String>, String> {
    let value = cell.value()?;
    let source = cell.credential.source.describe();
    let header = |text: String| {
        let mut v = HeaderValue::from_str(&text)
            .map_err(|_| format!("the credential from {source} is not a valid header value"))?;
        v.set_sensitive(true);
        Ok::<_, String>(v)
    };
    let mut forms = vec![value.clone()];
    match &cell.credential.injection {
        Injection::Bearer => {
            let v = header(format!("Bearer {value}"))?;
            request.headers_mut().insert(http::header::AUTHORIZATION, v);
        }
        Injection::Basic { user } => {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{value}"));
            let v = header(format!("Basic {encoded}"))?;
            request.headers_mut().insert(http::header::AUTHORIZATION, v);
            forms.push(encoded);
        }
        Injection::Header { name, prefix } => {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{name:?} is not a header name"))?;
            let v = header(format!("{prefix}{value}"))?;
            request.headers_mut().insert(name, v);
        }
        Injection::Query { name } => {
            let encoded = percent_encode(&value);
            let uri = with_query_param(request.uri(), name, &encoded)?;
            *request.uri_mut() = uri;
            if encoded != value {
                forms.push(encoded);
            }
        }
    }
    injected.remember(&forms);
    Ok(forms)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `uri` with every `name=` parameter dropped and `name=value` appended.
fn with_query_param(uri: &http::Uri, name: &str, value: &str) -> Result<http::Uri, String> {
    let mut kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some(name))
        .collect();
    let ours = format!("{name}={value}");
    kept.push(&ours);
    let path_and_query = format!("{}?{}", uri.path(), kept.join("&"));
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        path_and_query
            .parse()
            .map_err(|e| format!("cannot add the credential to the query: {e}"))?,
    );
    http::Uri::from_parts(parts).map_err(|e| format!("cannot add the credential to the query: {e}"))
}

/// Replaces injected values in a response's header values.
pub fn redact_headers(headers: &mut http::HeaderMap, secrets: &[String]) {
    for value in headers.values_mut() {
        if let Ok(text) = value.to_str()
            && let Cow::Owned(clean) = redact(text, secrets)
            && let Ok(v) = HeaderValue::from_str(&clean)
        {
            *value = v;
        }
    }
}

/// A response body with injected values replaced, also when one is split across chunks: the
/// last `longest - 1` bytes of each chunk are held back until the next one arrives.
pub struct Redacted<B> {
    inner: B,
    secrets: Vec<Vec<u8>>,
    held: BytesMut,
    /// Trailers that arrived while data was held back; sent after it.
    trailers: Option<Frame<Bytes>>,
    done: bool,
}

impl<B> Redacted<B> {
    pub fn new(inner: B, secrets: &[String]) -> Self {
        Redacted {
            inner,
            secrets: secrets
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().to_vec())
                .collect(),
            held: BytesMut::new(),
            trailers: None,
            done: false,
        }
    }

    fn scrub(&self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        for s in &self.secrets {
            out = replace_bytes(&out, s, REDACTED.as_bytes());
        }
        out
    }

    /// Redacts what is held plus `data`; returns what can go out now and keeps the tail.
    fn take(&mut self, data: &[u8], last: bool) -> Bytes {
        self.held.extend_from_slice(data);
        let clean = self.scrub(&self.held);
        let keep = if last {
            0
        } else {
            self.secrets
                .iter()
                .map(|s| s.len())
                .max()
                .unwrap_or(1)
                .saturating_sub(1)
                .min(clean.len())
        };
        let (out, tail) = clean.split_at(clean.len() - keep);
        self.held = BytesMut::from(tail);
        Bytes::copy_from_slice(out)
    }
}

/// `haystack` with every `needle` replaced by `with`. memchr's two-way search keeps this linear
/// in the response, whatever the response is built to look like.
fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut from = 0;
    for at in memchr::memmem::find_iter(haystack, needle) {
        out.extend_from_slice(&haystack[from..at]);
        out.extend_from_slice(with);
        from = at + needle.len();
    }
    out.extend_from_slice(&haystack[from..]);
    out
}

impl<B> Body for Redacted<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        if let Some(trailers) = this.trailers.take() {
            this.done = true;
            return Poll::Ready(Some(Ok(trailers)));
        }
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let out = this.take(&data, false);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    // Trailers end the data: what is held goes first, then they follow.
                    Err(frame) => {
                        let out = this.take(&[], true);
                        if out.is_empty() {
                            this.done = true;
                            return Poll::Ready(Some(Ok(frame)));
                        }
                        this.trailers = Some(frame);
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                },
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    this.done = true;
                    let out = this.take(&[], true);
                    return Poll::Ready((!out.is_empty()).then(|| Ok(Frame::data(out))));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::http::AuthKeys;
    use http_body_util::BodyExt;

    fn cell(keys: AuthKeys, dir: &Path, value: &str) -> SecretCell {
        std::fs::write(dir.join("secret"), format!("{value}\n")).expect("write");
        SecretCell::new(Credential::from_keys(keys).expect("credential"))
    }

    fn request(uri: &str) -> http::Request<()> {
        let mut r = http::Request::builder().uri(uri).body(()).expect("request");
        r.headers_mut()
            .insert("authorization", HeaderValue::from_static("Bearer guest"));
        r.headers_mut()
            .insert("x-api-key", HeaderValue::from_static("guest"));
        r
    }

    #[test]
    fn each_kind_replaces_what_the_guest_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = Some(dir.path().join("secret"));
        let injected = Injected::default();

        let bearer = cell(
            AuthKeys {
                bearer_file: file.clone(),
                ..Default::default()
            },
            dir.path(),
            "t0k",
        );
        let mut r = request("https://api.example.com/x");
        inject(&mut r, &bearer, &injected).expect("inject");
        assert_eq!(r.headers()["authorization"], "Bearer t0k");
        assert_eq!(r.headers().get_all("authorization").iter().count(), 1);

        let basic = cell(
            AuthKeys {
                basic_user: Some("bot".into()),
                password_file: file.clone(),
                ..Default::default()
            },
            dir.path(),
            "pw",
        );
        let mut r = request("https://api.example.com/x");
        let forms = inject(&mut r, &basic, &injected).expect("inject");
        assert_eq!(r.headers()["authorization"], "Basic Ym90OnB3");
        assert!(forms.contains(&"Ym90OnB3".to_string()));

        let header = cell(
            AuthKeys {
                header: Some("X-Api-Key".into()),
                prefix: Some("Key ".into()),
                value_file: file.clone(),
                ..Default::default()
            },
            dir.path(),
            "k1",
        );
        let mut r = request("https://api.example.com/x");
        inject(&mut r, &header, &injected).expect("inject");
        assert_eq!(r.headers()["x-api-key"], "Key k1");
        assert_eq!(
            r.headers()["authorization"],
            "Bearer guest",
            "other headers are left alone"
        );

        let query = cell(
            AuthKeys {
                query: Some("api_key".into()),
                value_file: file,
                ..Default::default()
            },
            dir.path(),
            "a b",
        );
        let mut r = request("https://api.example.com/x?q=1&api_key=guest");
        inject(&mut r, &query, &injected).expect("inject");
        assert_eq!(
            r.uri().to_string(),
            "https://api.example.com/x?q=1&api_key=a%20b"
        );
        assert!(injected.values().contains(&"a%20b".to_string()));
    }

    #[test]
    fn a_changed_file_is_read_again_and_a_missing_value_says_where() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = AuthKeys {
            bearer_file: Some(dir.path().join("secret")),
            ..Default::default()
        };
        let c = cell(keys, dir.path(), "first");
        assert_eq!(c.value().expect("value"), "first");
        std::fs::write(dir.path().join("secret"), "second-and-longer\n").expect("rotate");
        assert_eq!(c.value().expect("value"), "second-and-longer");
        std::fs::write(dir.path().join("secret"), vec![b'x'; 70 * 1024]).expect("huge");
        let huge = c.value().expect_err("huge");
        assert!(huge.contains("more than a credential's 65536"), "{huge}");
        std::fs::remove_file(dir.path().join("secret")).expect("remove");
        std::fs::create_dir(dir.path().join("secret")).expect("mkdir");
        let dir_err = c.value().expect_err("dir");
        assert!(dir_err.contains("not a regular file"), "{dir_err}");
        std::fs::remove_dir(dir.path().join("secret")).expect("rmdir");
        assert!(
            c.value()
                .expect_err("gone")
                .contains("cannot read the credential file")
        );

        let env = SecretCell::new(
            Credential::from_keys(AuthKeys {
                bearer_env: Some("PIER_TEST_SURELY_UNSET".into()),
                ..Default::default()
            })
            .expect("credential"),
        );
        assert_eq!(
            env.value().expect_err("unset"),
            "$PIER_TEST_SURELY_UNSET is not set in pier's environment"
        );
    }

    /// A body of fixed chunks, sent one per poll.
    struct Chunks(Vec<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.0.is_empty() {
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Ok(Frame::data(self.0.remove(0)))))
        }
    }

    #[tokio::test]
    async fn echoed_values_are_redacted_even_across_chunks() {
        let body = Chunks(vec![
            Bytes::from("you sent sec"),
            Bytes::from("ret-token and secret-token."),
        ]);
        let redacted = Redacted::new(body, &["secret-token".to_string()]);
        let all = redacted.collect().await.expect("collect").to_bytes();
        assert_eq!(
            String::from_utf8_lossy(&all),
            format!("you sent {REDACTED} and {REDACTED}.")
        );
        let mut headers = http::HeaderMap::new();
        headers.insert("x-echo", HeaderValue::from_static("Bearer secret-token"));
        redact_headers(&mut headers, &["secret-token".to_string()]);
        assert_eq!(headers["x-echo"], format!("Bearer {REDACTED}").as_str());
    }
}
