//! Slack's Web API over pier's `wasi:http`: every method is a form POST to `BASE/METHOD`, and
//! every answer is `{"ok": true, …}` or `{"ok": false, "error": CODE, …}` (HTTP 200 either way,
//! except 429 for rate limits).
//!
//! No token here: pier adds it to requests for the origins the manifest grants with a
//! credential (the bot token for `api_url`, a user token for `user_api_url`). Slack's error
//! codes become messages that say what to do: invite the app, add the scope, retry in N s.
//! A rate limit is waited out once when `Retry-After` fits in the call's time limit.

use pier_sdk::ToolError;
use pier_sdk::http::{HttpError, Request, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clock::Clock;

/// What an answer is read into. Large pages are read straight into their own types (no
/// `Value` tree of every block of every message); anything else into a `Value`.
pub trait SlackAnswer: DeserializeOwned {
    /// Slack's `ok`.
    fn ok(&self) -> bool;
}

/// `response_metadata` of a page read into its own type.
#[derive(serde::Deserialize)]
pub struct PageMeta {
    next_cursor: Option<String>,
}

/// The cursor of the next page, when there is one.
pub fn next_page(meta: Option<PageMeta>) -> Option<String> {
    meta.and_then(|m| m.next_cursor).filter(|c| !c.is_empty())
}

impl SlackAnswer for Value {
    fn ok(&self) -> bool {
        self.get("ok").and_then(Value::as_bool) == Some(true)
    }
}

const USER_AGENT: &str = concat!("pier-slack/", env!("CARGO_PKG_VERSION"));

/// Which credential a call needs: pier injects the bot token for `api_url` and a user token
/// for `user_api_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Bot,
    User,
}

pub struct Api {
    pub base: String,
    pub user_base: Option<String>,
    pub timeout_ms: u64,
    pub max_body: usize,
}

/// A refusal or failure of one method call, before it is said to the model.
#[derive(Debug, Clone)]
pub struct SlackError {
    pub method: String,
    pub kind: Box<Kind>,
    /// What the call was about (`#eng (C0123)`), for the message.
    pub subject: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// `ok: false` with Slack's code, the scope it needs and the scopes the token has, and
    /// Slack's own explanation (`response_metadata.messages`).
    Refused {
        code: String,
        needed: Option<String>,
        provided: Option<String>,
        detail: Option<String>,
    },
    RateLimited {
        retry_after: u64,
        waited: bool,
    },
    /// pier refused the request (origin not granted, credential missing): its text says what
    /// to grant.
    Denied(String),
    Failed(String),
}

impl SlackError {
    /// The same error, about `subject`.
    pub fn about(mut self, subject: impl Into<String>) -> SlackError {
        self.subject = Some(subject.into());
        self
    }

    /// The seconds Slack asked to wait, when it rate-limited the call.
    fn retry_after(&self) -> Option<u64> {
        match self.kind.as_ref() {
            Kind::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Slack's error code, if Slack answered with one.
    pub fn code(&self) -> Option<&str> {
        match self.kind.as_ref() {
            Kind::Refused { code, .. } => Some(code),
            Kind::RateLimited { .. } => Some("ratelimited"),
            _ => None,
        }
    }
}

impl From<SlackError> for ToolError {
    fn from(e: SlackError) -> ToolError {
        explain(&e)
    }
}

impl Api {
    /// Calls `method` with form `params`; `Ok` is the whole answer (`ok: true`).
    pub fn call(
        &self,
        token: Token,
        method: &str,
        params: &[(&str, String)],
        clock: &Clock,
    ) -> Result<Value, SlackError> {
        self.call_as(token, method, params, clock)
    }

    /// [`Api::call`], with the answer read into `T`.
    pub fn call_as<T: SlackAnswer>(
        &self,
        token: Token,
        method: &str,
        params: &[(&str, String)],
        clock: &Clock,
    ) -> Result<T, SlackError> {
        let base = match token {
            Token::Bot => &self.base,
            Token::User => self.user_base.as_ref().unwrap_or(&self.base),
        };
        let url = format!("{base}/{method}");
        let mut waited = false;
        loop {
            let response = Request::new("POST", &url)
                .header("User-Agent", USER_AGENT)
                .header("Accept", "application/json")
                .timeout_ms(self.timeout_ms)
                .max_body(self.max_body)
                .form(params)
                .send()
                .map_err(|e| transport(method, &url, e))?;
            match answer(method, &response) {
                Err(e)
                    if !waited
                        && e.retry_after().is_some_and(|secs| {
                            clock.fits(secs * 1000 + self.timeout_ms.min(2_000))
                        }) =>
                {
                    waited = true;
                    clock.sleep_ms(e.retry_after().unwrap_or(1) * 1000);
                }
                Err(mut e) => {
                    if let Kind::RateLimited { waited: w, .. } = e.kind.as_mut() {
                        *w = waited;
                    }
                    return Err(e);
                }
                Ok(v) => return Ok(v),
            }
        }
    }
}

fn error(method: &str, kind: Kind) -> SlackError {
    SlackError {
        method: method.to_string(),
        kind: Box::new(kind),
        subject: None,
    }
}

/// A rate limit, with Slack's `Retry-After` (1 s when it sent none).
fn rate_limited(method: &str, response: &Response) -> SlackError {
    let retry_after = response
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1);
    error(
        method,
        Kind::RateLimited {
            retry_after,
            waited: false,
        },
    )
}

/// The JSON answer, or the error it carries.
fn answer<T: SlackAnswer>(method: &str, response: &Response) -> Result<T, SlackError> {
    if response.status == 429 {
        return Err(rate_limited(method, response));
    }
    if response.status >= 500 {
        return Err(error(
            method,
            Kind::Failed(format!(
                "Slack failed ({}); this is on Slack's side, retry shortly",
                response.status
            )),
        ));
    }
    let why = match serde_json::from_slice::<T>(&response.body) {
        Ok(t) if t.ok() => return Ok(t),
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    // An error, or not the shape `T` expects: read whole to say which.
    let value: Value = serde_json::from_slice(&response.body).map_err(|e| {
        let text: String = response.text().chars().take(200).collect();
        error(
            method,
            Kind::Failed(format!(
                "Slack's answer ({}) is not JSON ({e}): {text}",
                response.status
            )),
        )
    })?;
    if value.ok() {
        return Err(error(
            method,
            Kind::Failed(format!(
                "Slack's answer is not shaped as pier's plugin expects ({why}); report it"
            )),
        ));
    }
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
    let code = text("error").unwrap_or_else(|| format!("HTTP {}", response.status));
    if code == "ratelimited" {
        return Err(rate_limited(method, response));
    }
    let detail = value
        .pointer("/response_metadata/messages")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|d| !d.is_empty());
    Err(error(
        method,
        Kind::Refused {
            code,
            needed: text("needed"),
            provided: text("provided"),
            detail,
        },
    ))
}

fn transport(method: &str, url: &str, e: HttpError) -> SlackError {
    match e {
        HttpError::Denied(m) => error(method, Kind::Denied(format!("{url}: {m}"))),
        HttpError::TooLarge { limit } => error(
            method,
            Kind::Failed(format!(
                "Slack's answer is larger than {limit} bytes; ask for fewer items (a smaller limit)"
            )),
        ),
        other => error(method, Kind::Failed(format!("{url}: {other}"))),
    }
}

/// A message that says what went wrong and what to do about it.
pub fn explain(e: &SlackError) -> ToolError {
    let method = &e.method;
    let on = e
        .subject
        .as_ref()
        .map(|s| format!("{s}: "))
        .unwrap_or_default();
    let (code, needed, provided, detail) = match e.kind.as_ref() {
        Kind::Denied(m) => return ToolError::Denied(m.clone()),
        Kind::Failed(m) => return ToolError::Failed(format!("{on}{method}: {m}")),
        Kind::RateLimited {
            retry_after,
            waited,
        } => {
            let again = if *waited {
                " (pier's plugin already waited once within this call)"
            } else {
                ""
            };
            return ToolError::Failed(format!(
                "{on}Slack rate-limited {method}{again}: retry in {retry_after} s"
            ));
        }
        Kind::Refused {
            code,
            needed,
            provided,
            detail,
        } => (code.as_str(), needed, provided, detail),
    };
    let said = detail
        .as_ref()
        .map(|d| format!(" (Slack says: {d})"))
        .unwrap_or_default();
    let text = match code {
        "not_in_channel" => format!(
            "{on}the Slack app is not a member of this channel, so it cannot read or post \
             there: invite it (in the channel, type /invite @the-app's-name)"
        ),
        "channel_not_found" => format!(
            "{on}Slack does not know this channel, or the token cannot see it (a private \
             channel or DM the app is not in, or another workspace): check the id or #name, \
             and invite the app to private channels"
        ),
        "missing_scope" => {
            let needed = needed.as_deref().unwrap_or("a scope it lacks");
            format!(
                "{on}Slack refused {method}: the token lacks the scope {needed} (it has {}). \
                 Add {needed} in the app's settings (OAuth & Permissions → Scopes), reinstall \
                 the app to the workspace, and renew the token where pier reads it",
                provided.as_deref().unwrap_or("none")
            )
        }
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" => {
            format!(
                "Slack refused the token ({code}): it is missing, wrong, revoked or expired. \
                 Renew it where pier reads it (the credential of the Slack origin in the \
                 manifest's [grants].http)"
            )
        }
        "not_allowed_token_type" => format!(
            "Slack allows {method} only with a user token (xoxp-), not a bot token: set \
             [config].user_api_url to your workspace's API (https://WORKSPACE.slack.com/api) \
             and grant that origin with a user token"
        ),
        "is_archived" => format!("{on}the channel is archived: nothing can be posted there"),
        "msg_too_long" => "the message is too long for Slack (at most 40,000 characters)".into(),
        "no_text" => "the message is empty: give text".into(),
        "already_reacted" => format!("{on}that reaction is already on the message"),
        "no_reaction" => format!("{on}that reaction is not on the message"),
        "invalid_name" => "Slack does not know that emoji name (give it without colons, \
                           e.g. thumbsup)"
            .into(),
        "message_not_found" | "thread_not_found" => format!(
            "{on}no message with that ts: give the message's ts exactly as Slack shows it \
             (\"1712345678.123456\", a string)"
        ),
        "user_not_found" | "users_not_found" => {
            format!("{on}Slack does not know this user (check the id, U0123ABC, or @name)")
        }
        "invalid_cursor" => "the cursor is stale or from another listing: call again \
                             without cursor"
            .into(),
        "invalid_ts_latest" | "invalid_ts_oldest" => {
            "oldest/latest must be a Slack ts (\"1712345678.123456\"), seconds, a date \
             (2026-11-30) or an age (7d, 12h)"
                .into()
        }
        "restricted_action" | "restricted_action_read_only_channel" => format!(
            "{on}a workspace or channel setting does not let the app do this (posting may be \
             limited to admins)"
        ),
        "ekm_access_denied" => "the workspace's encryption keys deny access".into(),
        other => format!("{on}Slack refused {method}: {other}"),
    };
    ToolError::Failed(format!("{text}{said}"))
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

    fn said(r: &Response) -> String {
        match answer::<Value>("conversations.history", r) {
            Ok(v) => panic!("expected an error, got {v}"),
            Err(e) => explain(&e.about("#eng (C0123ABCD)")).to_string(),
        }
    }

    #[test]
    fn slack_errors_say_what_to_do() {
        let m = said(&response(
            200,
            &[],
            r#"{"ok":false,"error":"not_in_channel"}"#,
        ));
        assert!(
            m.contains("#eng (C0123ABCD)") && m.contains("/invite"),
            "{m}"
        );
        let m = said(&response(
            200,
            &[],
            r#"{"ok":false,"error":"missing_scope","needed":"channels:history","provided":"chat:write"}"#,
        ));
        assert!(
            m.contains("lacks the scope channels:history") && m.contains("has chat:write"),
            "{m}"
        );
        let m = said(&response(429, &[("retry-after", "7")], ""));
        assert!(m.contains("retry in 7 s"), "{m}");
        let m = said(&response(
            200,
            &[],
            r#"{"ok":false,"error":"invalid_auth"}"#,
        ));
        assert!(m.contains("Renew it"), "{m}");
        let m = said(&response(
            200,
            &[],
            r#"{"ok":false,"error":"invalid_arguments","response_metadata":{"messages":["[ERROR] missing required field: channel"]}}"#,
        ));
        assert!(
            m.contains("invalid_arguments") && m.contains("missing required field"),
            "{m}"
        );
        let m = said(&response(502, &[], "<html>"));
        assert!(m.contains("Slack's side"), "{m}");
        let ok = answer::<Value>("x", &response(200, &[], r#"{"ok":true,"a":1}"#)).expect("ok");
        assert_eq!(ok["a"], 1);
    }
}
