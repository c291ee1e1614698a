//! GitHub's REST (and, where REST lacks a call, GraphQL) API over pier's `wasi:http`.
//!
//! No token here: pier adds it to requests for the origin the manifest grants with a
//! credential. GitHub's answers become errors that say what to do: a 401 (pier adds which
//! variable or file holds the token), a missing scope or permission (named from GitHub's
//! headers), a rate limit (when to retry), 404 (missing, or not visible to the token), 422
//! (GitHub's own message).

use pier_sdk::ToolError;
use pier_sdk::http::{HttpError, Request, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Names the plugin in `User-Agent`, which GitHub requires.
const USER_AGENT: &str = concat!("pier-github/", env!("CARGO_PKG_VERSION"));
const API_VERSION: &str = "2022-11-28";

/// A JSON answer and where its pages go (from the `Link` header).
pub struct Answer {
    pub json: Value,
    pub next_page: Option<u32>,
}

pub struct Api {
    pub rest: String,
    pub graphql: String,
    pub timeout_ms: u64,
    /// The most bytes of a body read in one request.
    pub max_body: usize,
}

pub use pier_sdk::http::encode;

/// Percent-encodes a path that keeps its slashes (`src/main.rs`).
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(encode)
        .collect::<Vec<_>>()
        .join("/")
}

impl Api {
    fn request(&self, method: &str, url: &str, accept: &str) -> Request {
        Request::new(method, url)
            .header("Accept", accept)
            .header("User-Agent", USER_AGENT)
            .header("X-GitHub-Api-Version", API_VERSION)
            .timeout_ms(self.timeout_ms)
            .max_body(self.max_body)
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        let mut url = format!("{}{path}", self.rest);
        let mut sep = if path.contains('?') { '&' } else { '?' };
        for (key, value) in query {
            url.push(sep);
            url.push_str(key);
            url.push('=');
            url.push_str(&encode(value));
            sep = '&';
        }
        url
    }

    /// GET a JSON resource.
    pub fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Answer, ToolError> {
        self.send("GET", path, query, None)
    }

    /// Sends a JSON request; a `204 No Content` answers `null`.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, ToolError> {
        let (json, next_page) = self.send_as::<Value>(method, path, query, body)?;
        Ok(Answer { json, next_page })
    }

    /// GET parsed straight into `T`: for hot lists, where building a JSON tree of every field
    /// GitHub sends (most of them URLs) costs more than the call's other work together.
    pub fn get_as<T: DeserializeOwned + Default>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(T, Option<u32>), ToolError> {
        self.send_as("GET", path, query, None)
    }

    fn send_as<T: DeserializeOwned + Default>(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(T, Option<u32>), ToolError> {
        let url = self.url(path, query);
        let mut request = self.request(method, &url, "application/vnd.github+json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().map_err(|e| transport(&url, e))?;
        if response.status >= 300 {
            return Err(explain(&response, method, path));
        }
        let parsed = if response.body.is_empty() {
            T::default()
        } else {
            serde_json::from_slice(&response.body).map_err(|e| {
                ToolError::Failed(format!(
                    "GitHub's answer to {method} {path} is not what was expected: {e}"
                ))
            })?
        };
        let (next_page, _last) = pages(response.header("link"));
        Ok((parsed, next_page))
    }

    /// GET with another media type (a diff, raw file bytes); the body as it came.
    pub fn get_raw(&self, path: &str, accept: &str) -> Result<Response, ToolError> {
        let url = self.url(path, &[]);
        let response = self
            .request("GET", &url, accept)
            .send()
            .map_err(|e| transport(&url, e))?;
        if response.status >= 300 {
            return Err(explain(&response, "GET", path));
        }
        Ok(response)
    }

    /// GET that hands back a redirect's `Location` instead of following it (job logs live on
    /// another host, which must be granted on its own and never gets the token).
    pub fn get_location(&self, path: &str) -> Result<String, ToolError> {
        let url = self.url(path, &[]);
        let response = self
            .request("GET", &url, "application/vnd.github+json")
            .send()
            .map_err(|e| transport(&url, e))?;
        match response.status {
            300..=399 => response
                .header("location")
                .map(str::to_string)
                .ok_or_else(|| ToolError::Failed(format!("GitHub redirected {path} nowhere"))),
            s if s >= 400 => Err(explain(&response, "GET", path)),
            _ => Err(ToolError::Failed(format!(
                "GitHub answered {path} with {} instead of a redirect to the download",
                response.status
            ))),
        }
    }

    /// Downloads a URL GitHub handed out (a signed log or artifact link): plain GET, no GitHub
    /// headers. pier refuses it unless the manifest grants its origin.
    pub fn download(&self, url: &str) -> Result<Response, ToolError> {
        let response = Request::get(url)
            .header("User-Agent", USER_AGENT)
            .timeout_ms(self.timeout_ms)
            .max_body(self.max_body.saturating_mul(8))
            .send()
            .map_err(|e| transport(url, e))?;
        if response.status >= 300 {
            return Err(ToolError::Failed(format!(
                "downloading {} answered {}",
                url.split('?').next().unwrap_or(url),
                response.status
            )));
        }
        Ok(response)
    }

    /// One GraphQL request; GraphQL's `errors` become a tool error.
    pub fn graphql(&self, query: &str, variables: Value) -> Result<Value, ToolError> {
        let body = json!({"query": query, "variables": variables});
        let response = self
            .request("POST", &self.graphql, "application/json")
            .json(&body)
            .send()
            .map_err(|e| transport(&self.graphql, e))?;
        if response.status >= 300 {
            return Err(explain(&response, "POST", "/graphql"));
        }
        let mut value = response.json().map_err(ToolError::Failed)?;
        if let Some(errors) = value.get("errors").and_then(Value::as_array)
            && !errors.is_empty()
        {
            let messages: Vec<&str> = errors
                .iter()
                .filter_map(|e| e.get("message").and_then(Value::as_str))
                .collect();
            return Err(ToolError::Failed(format!(
                "GitHub's GraphQL API refused the request: {}",
                messages.join("; ")
            )));
        }
        Ok(value
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }
}

fn transport(url: &str, e: HttpError) -> ToolError {
    let place = url.split('?').next().unwrap_or(url);
    match e {
        HttpError::Denied(m) => ToolError::Denied(format!("{place}: {m}")),
        HttpError::TooLarge { limit } => ToolError::Failed(format!(
            "{place}: the answer is larger than {limit} bytes; ask for less (a smaller perPage, \
             a path, a narrower query) or raise max_bytes in [config]"
        )),
        other => ToolError::Failed(format!("{place}: {other}")),
    }
}

/// GitHub's error body message, if it sent one.
fn message(response: &Response) -> String {
    let Ok(body) = response.json() else {
        let text = response.text();
        return text.chars().take(300).collect();
    };
    let mut out = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(errors) = body.get("errors").and_then(Value::as_array) {
        let details: Vec<String> = errors
            .iter()
            .map(|e| match e {
                Value::String(s) => s.clone(),
                _ => e
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        let field = e.get("field").and_then(Value::as_str).unwrap_or("?");
                        let code = e.get("code").and_then(Value::as_str).unwrap_or("invalid");
                        format!("{field}: {code}")
                    }),
            })
            .collect();
        if !details.is_empty() {
            out.push_str(&format!(" ({})", details.join("; ")));
        }
    }
    out
}

/// An error answer as a message that says what to do.
pub fn explain(response: &Response, method: &str, path: &str) -> ToolError {
    let status = response.status;
    let said = message(response);
    let now = now_secs();
    let rate_exhausted = response.header("x-ratelimit-remaining") == Some("0");
    let retry_after = response
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if (status == 403 || status == 429) && (rate_exhausted || retry_after.is_some()) {
        let when = match (retry_after, response.header("x-ratelimit-reset")) {
            (Some(secs), _) => format!("retry in {secs} s"),
            (None, Some(reset)) => match reset.trim().parse::<u64>() {
                Ok(at) => format!(
                    "the limit resets at {} (in {} s)",
                    iso_time(at),
                    at.saturating_sub(now)
                ),
                Err(_) => "retry later".into(),
            },
            (None, None) => "retry later".into(),
        };
        let kind = if rate_exhausted {
            "rate limit is used up"
        } else {
            "secondary rate limit was hit (too many requests at once or too fast)"
        };
        return ToolError::Failed(format!("GitHub's {kind}: {when}. {said}"));
    }
    let failed = |text: String| ToolError::Failed(text);
    match status {
        401 => failed(format!(
            "GitHub answered 401 ({said}): the token is missing, wrong or expired; renew it \
             where pier reads it (the manifest's credential for the GitHub origin)"
        )),
        403 => {
            let accepted = response.header("x-accepted-oauth-scopes").unwrap_or("");
            let has = response.header("x-oauth-scopes");
            let permissions = response.header("x-accepted-github-permissions");
            let mut text = format!("GitHub answered 403 to {method} {path} ({said})");
            if !accepted.trim().is_empty() {
                text.push_str(&format!(
                    ": this needs a token with the scope {accepted}; the token has {}",
                    has.filter(|h| !h.trim().is_empty()).unwrap_or("none")
                ));
            } else if let Some(p) = permissions {
                text.push_str(&format!(
                    ": a fine-grained token or app needs the permission {p}"
                ));
            } else {
                text.push_str(
                    ": the token may not do this here (scope, permission or a repository rule)",
                );
            }
            failed(text)
        }
        404 => failed(format!(
            "GitHub answered 404 to {method} {path}: it does not exist, or the token cannot see \
             it (GitHub answers 404 rather than 403 for a private repository the token has no \
             access to)"
        )),
        409 => failed(format!("GitHub answered 409 (conflict): {said}")),
        422 => failed(format!("GitHub refused the request (422): {said}")),
        s if s >= 500 => failed(format!(
            "GitHub failed ({s}): {said}; this is on GitHub's side, retry shortly"
        )),
        s => failed(format!("GitHub answered {s} to {method} {path}: {said}")),
    }
}

/// The `page` numbers of `rel="next"` and `rel="last"` in a `Link` header.
pub fn pages(link: Option<&str>) -> (Option<u32>, Option<u32>) {
    let (mut next, mut last) = (None, None);
    for part in link.unwrap_or("").split(',') {
        let Some((url, params)) = part.split_once(';') else {
            continue;
        };
        let page = url
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("page="))
            .and_then(|p| p.parse::<u32>().ok());
        if params.contains("rel=\"next\"") {
            next = page;
        } else if params.contains("rel=\"last\"") {
            last = page;
        }
    }
    (next, last)
}

fn now_secs() -> u64 {
    pier_sdk::time::now_secs()
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso_time(secs: u64) -> String {
    pier_sdk::time::iso(secs as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn link_headers_give_the_next_and_last_page() {
        let link = r#"<https://api.github.com/repositories/1/issues?state=open&page=3>; rel="next", <https://api.github.com/repositories/1/issues?page=7&state=open>; rel="last""#;
        assert_eq!(pages(Some(link)), (Some(3), Some(7)));
        assert_eq!(pages(None), (None, None));
    }

    #[test]
    fn error_answers_say_what_to_do() {
        let limited = response(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1767225600"),
            ],
            r#"{"message":"API rate limit exceeded"}"#,
        );
        let m = explain(&limited, "GET", "/x").to_string();
        assert!(
            m.contains("rate limit is used up") && m.contains("2026-01-01T00:00:00Z"),
            "{m}"
        );
        let secondary = response(403, &[("retry-after", "60")], r#"{"message":"slow down"}"#);
        let m = explain(&secondary, "POST", "/x").to_string();
        assert!(
            m.contains("secondary") && m.contains("retry in 60 s"),
            "{m}"
        );
        let scope = response(
            403,
            &[
                ("x-accepted-oauth-scopes", "repo"),
                ("x-oauth-scopes", "read:org"),
            ],
            r#"{"message":"Resource not accessible"}"#,
        );
        let m = explain(&scope, "PUT", "/x").to_string();
        assert!(
            m.contains("scope repo") && m.contains("has read:org"),
            "{m}"
        );
        let invalid = response(
            422,
            &[],
            r#"{"message":"Validation Failed","errors":[{"resource":"Issue","field":"title","code":"missing_field"}]}"#,
        );
        let m = explain(&invalid, "POST", "/x").to_string();
        assert!(
            m.contains("Validation Failed (title: missing_field)"),
            "{m}"
        );
        let missing = explain(&response(404, &[], "{}"), "GET", "/repos/a/b").to_string();
        assert!(missing.contains("cannot see"), "{missing}");
    }

    #[test]
    fn names_are_encoded_for_paths_and_queries() {
        assert_eq!(encode("a b/c?"), "a%20b%2Fc%3F");
        assert_eq!(encode_path("/src/my file.rs"), "src/my%20file.rs");
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
    }
}
