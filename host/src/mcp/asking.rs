//! How a plugin's `host.ask` reaches the client, on either protocol generation.
//!
//! - A 2025-11-25 session has a channel back to the client: pier sends each question as a
//!   server-to-client request and waits, with the plugin's instance paused inside `ask`.
//! - A 2026-07-28 request has no such channel: the answers come with a later request. pier does
//!   not keep the instance waiting for it (the client may never come back, and with `--stateless`
//!   it may come back to another replica). It ends this run of the call, hands the client the
//!   questions in an `InputRequiredResult` with the answers gathered so far sealed in its
//!   `requestState`, and when the client retries with its answers, runs the call again: this
//!   time `ask` finds its answers and returns at once. Re-running costs a fresh instance and the
//!   plugin's work up to its questions, which is why the contract tells plugins to ask first.
//!
//! The state is signed (HMAC-SHA256) with a key of pier's and bound to the caller, the request's
//! method and name and a digest of its arguments, and it expires: a client cannot forge answers
//! into it, move it to another call, or keep it for later.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ErrorData as McpError;
use rmcp::model::{
    ClientCapabilities, CustomRequest, ErrorCode, InputRequest, InputRequests, InputRequiredResult,
    InputResponses, ProtocolVersion, RequestStateCodec, SealOptions, ServerRequest,
};
use rmcp::service::{Peer, RequestContext, RoleServer, ServiceError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::plugin::CallError;
use crate::runtime::ask::{Asked, Asker, ELICIT, LIST_ROOTS, Question, SAMPLE};
use crate::runtime::bindings::pier::mcp::host::AskError;

/// How long pier waits for a client to answer one question on a session: a person may be
/// filling in a form.
const ANSWER_WAIT: Duration = Duration::from_secs(600);
/// How long a sealed request state stays good.
const STATE_TTL: Duration = Duration::from_secs(900);
/// The environment variable that gives pier its request-state key, so that replicas behind a
/// load balancer open each other's states. Without it each process makes its own.
pub const STATE_KEY_ENV: &str = "PIER_REQUEST_STATE_KEY";

/// The key that seals request states.
pub(crate) struct StateSeal(RequestStateCodec);

impl StateSeal {
    /// From [`STATE_KEY_ENV`] (at least 32 bytes), else a random key for this process.
    pub fn from_env() -> Result<Self, String> {
        if let Some(key) = std::env::var_os(STATE_KEY_ENV) {
            let key = key.into_encoded_bytes();
            return RequestStateCodec::try_new(key).map(StateSeal).map_err(|e| {
                format!(
                    "{STATE_KEY_ENV}: {e} (give at least 32 bytes, e.g. `openssl rand -hex 32`)"
                )
            });
        }
        use ring::rand::SecureRandom;
        let mut key = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| {
                "the operating system gave no random bytes for the state key".to_string()
            })?;
        RequestStateCodec::try_new(key.to_vec())
            .map(StateSeal)
            .map_err(|e| e.to_string())
    }
}

/// What a request's state is bound to: who asked, what, and with which arguments (compared
/// as JSON values, so a client that sends them again with the keys in another order or other
/// spacing still matches).
pub(super) fn binding(
    caller: &str,
    method: &str,
    name: &str,
    arguments: Option<&rmcp::model::JsonObject>,
) -> Vec<u8> {
    let mut hasher = Sha256::new();
    if let Some(args) = arguments {
        canonical(&Value::Object(args.clone()), &mut hasher);
    }
    let digest = hex::encode(hasher.finalize());
    format!("{caller}\n{method}\n{name}\n{digest}").into_bytes()
}

/// Feeds `value` to `hasher` with object keys in sorted order.
fn canonical(value: &Value, hasher: &mut Sha256) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            hasher.update(b"{");
            for k in keys {
                hasher.update(serde_json::to_string(k).unwrap_or_default().as_bytes());
                hasher.update(b":");
                canonical(&map[k], hasher);
                hasher.update(b",");
            }
            hasher.update(b"}");
        }
        Value::Array(list) => {
            hasher.update(b"[");
            for v in list {
                canonical(v, hasher);
                hasher.update(b",");
            }
            hasher.update(b"]");
        }
        other => hasher.update(other.to_string().as_bytes()),
    }
}

/// Whether the request speaks 2026-07-28 or later (questions go back in the result).
fn answers_in_result(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
}

/// The capability a question needs that the client did not declare, if any.
fn missing(caps: Option<&ClientCapabilities>, q: &Question) -> Option<&'static str> {
    let Some(caps) = caps else {
        return Some(match q.method {
            ELICIT => "elicitation",
            SAMPLE => "sampling",
            _ => "roots",
        });
    };
    match q.method {
        ELICIT => {
            let Some(e) = &caps.elicitation else {
                return Some("elicitation");
            };
            let url = q.params.get("mode").and_then(Value::as_str) == Some("url");
            // An empty `elicitation: {}` means forms (the 2025-06-18 meaning).
            if url && e.url.is_none() {
                Some("elicitation.url")
            } else if !url && e.form.is_none() && e.url.is_some() {
                Some("elicitation.form")
            } else {
                None
            }
        }
        SAMPLE => {
            let Some(s) = &caps.sampling else {
                return Some("sampling");
            };
            let tools = q.params.get("tools").is_some() || q.params.get("toolChoice").is_some();
            (tools && s.tools.is_none()).then_some("sampling.tools")
        }
        _ => caps.roots.is_none().then_some("roots"),
    }
}

/// The refusal when the client cannot answer one of `questions`, or `None` when it can.
fn refusal(
    caps: Option<&ClientCapabilities>,
    questions: &[Question],
    required: bool,
) -> Option<Asked> {
    let (q, capability) = questions
        .iter()
        .find_map(|q| missing(caps, q).map(|c| (q, c)))?;
    Some(if required {
        Asked::MissingCapability(capability.to_string())
    } else {
        Asked::Refused(AskError::Unsupported(format!(
            "the client did not declare the `{capability}` capability, so it cannot answer {} (question {:?})",
            q.method, q.key
        )))
    })
}

/// Whether `answer` has the shape of MCP's result for `method`.
fn answer_fits(method: &str, answer: &Value) -> bool {
    let Some(obj) = answer.as_object() else {
        return false;
    };
    match method {
        ELICIT => {
            let action = obj.get("action").and_then(Value::as_str);
            let content_ok = obj
                .get("content")
                .is_none_or(|c| c.is_object() || c.is_null());
            matches!(action, Some("accept" | "decline" | "cancel")) && content_ok
        }
        SAMPLE => obj.contains_key("role") && obj.contains_key("content"),
        LIST_ROOTS => obj.get("roots").is_some_and(Value::is_array),
        _ => false,
    }
}

/// How the questions reach the client: over the session's channel back, or in the result.
enum Way {
    Session {
        peer: Peer<RoleServer>,
        cancelled: CancellationToken,
    },
    Round(Round),
}

/// Answers from the request itself (2026-07-28): those sealed in its state and those it
/// carries; anything else is asked in the result.
struct Round {
    given: BTreeMap<String, Value>,
    /// The answers this run used, sealed into the next state.
    used: Mutex<BTreeMap<String, Value>>,
}

/// The call's way to its client, with the capabilities the client declared.
struct ClientAsker {
    caps: Option<ClientCapabilities>,
    way: Way,
}

impl Asker for ClientAsker {
    fn ask(
        &self,
        questions: Vec<Question>,
        required: bool,
    ) -> Pin<Box<dyn Future<Output = Asked> + Send + 'static>> {
        if let Some(refused) = refusal(self.caps.as_ref(), &questions, required) {
            return Box::pin(std::future::ready(refused));
        }
        match &self.way {
            Way::Session { peer, cancelled } => {
                Box::pin(over_session(peer.clone(), cancelled.clone(), questions))
            }
            Way::Round(round) => Box::pin(std::future::ready(round.answer(questions))),
        }
    }
}

/// Sends every question to the client at once and waits for all the answers.
async fn over_session(
    peer: Peer<RoleServer>,
    cancelled: CancellationToken,
    questions: Vec<Question>,
) -> Asked {
    let mut asks = tokio::task::JoinSet::new();
    for (i, q) in questions.iter().enumerate() {
        let peer = peer.clone();
        let request = CustomRequest::new(q.method, Some(q.params.clone()));
        asks.spawn(async move {
            let sent = peer.send_request(ServerRequest::CustomRequest(request));
            (i, tokio::time::timeout(ANSWER_WAIT, sent).await)
        });
    }
    let mut answers: Vec<Option<String>> = vec![None; questions.len()];
    loop {
        let next = tokio::select! {
            n = asks.join_next() => n,
            () = cancelled.cancelled() => {
                return Asked::Refused(AskError::Failed("the call was cancelled".into()));
            }
        };
        let Some(joined) = next else { break };
        let Ok((i, outcome)) = joined else {
            return Asked::Refused(AskError::Failed("asking the client failed".into()));
        };
        let method = questions[i].method;
        let answer = match outcome {
            Err(_) => Err(format!(
                "the client did not answer {method} within {} s",
                ANSWER_WAIT.as_secs()
            )),
            Ok(Err(ServiceError::McpError(e))) => Err(format!(
                "the client answered {method} with an error: {}",
                e.message
            )),
            Ok(Err(e)) => Err(format!("the client did not answer {method}: {e}")),
            Ok(Ok(result)) => serde_json::to_string(&result).map_err(|e| e.to_string()),
        };
        match answer {
            Ok(text) => answers[i] = Some(text),
            Err(why) => return Asked::Refused(AskError::Failed(why)),
        }
    }
    Asked::Answered(
        questions
            .into_iter()
            .zip(answers)
            .map(|(q, a)| (q.key, a.unwrap_or_default()))
            .collect(),
    )
}

impl Round {
    /// The answers at hand, or the questions still open.
    fn answer(&self, questions: Vec<Question>) -> Asked {
        let mut answers = Vec::new();
        let mut open = Vec::new();
        for q in questions {
            match self.given.get(&q.key).filter(|a| answer_fits(q.method, a)) {
                Some(a) => {
                    if let Ok(mut used) = self.used.lock() {
                        used.insert(q.key.clone(), a.clone());
                    }
                    answers.push((q.key, a.to_string()));
                }
                // A missing answer, or one that is not the answer's shape, is asked again.
                None => open.push(q),
            }
        }
        if open.is_empty() {
            Asked::Answered(answers)
        } else {
            Asked::Later(open)
        }
    }
}

/// The asking side of one request: how `ask` reaches the client, and on 2026-07-28 what to put
/// in the result when the call ends waiting for answers.
pub(super) struct Asking {
    asker: Arc<ClientAsker>,
    binding: Vec<u8>,
}

impl Asking {
    /// Sets up asking for a request whose state (if any) is bound to `binding`; fails when a
    /// returned state was altered, belongs to another request, or expired.
    pub fn start(
        ctx: &RequestContext<RoleServer>,
        seal: &StateSeal,
        binding: Vec<u8>,
        responses: Option<&InputResponses>,
        state: Option<&str>,
    ) -> Result<Self, McpError> {
        let caps = ctx.client_capabilities();
        if !answers_in_result(ctx) {
            let way = Way::Session {
                peer: ctx.peer.clone(),
                cancelled: ctx.ct.clone(),
            };
            return Ok(Asking {
                asker: Arc::new(ClientAsker { caps, way }),
                binding,
            });
        }
        let mut given: BTreeMap<String, Value> = match state {
            None => BTreeMap::new(),
            Some(sealed) => seal.0.open_json_with(sealed, &binding).map_err(|e| {
                McpError::invalid_params(
                    format!(
                        "requestState refused: {e}; it must be returned exactly as pier sent it, for the same call; send the call again without requestState and inputResponses to start over"
                    ),
                    None,
                )
            })?,
        };
        if let Some(r) = responses {
            given.extend(r.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let way = Way::Round(Round {
            given,
            used: Mutex::default(),
        });
        Ok(Asking {
            asker: Arc::new(ClientAsker { caps, way }),
            binding,
        })
    }

    /// Asking inside a task: the answers given so far are at hand; anything else is asked by
    /// the task's status (`input_required`).
    pub fn with_answers(caps: Option<ClientCapabilities>, given: BTreeMap<String, Value>) -> Self {
        let way = Way::Round(Round {
            given,
            used: Mutex::default(),
        });
        Asking {
            asker: Arc::new(ClientAsker { caps, way }),
            binding: Vec::new(),
        }
    }

    /// The answers this run used.
    pub fn used(&self) -> BTreeMap<String, Value> {
        match &self.asker.way {
            Way::Round(round) => round.used.lock().map(|u| u.clone()).unwrap_or_default(),
            Way::Session { .. } => BTreeMap::new(),
        }
    }

    /// How `host.ask` reaches the client for this request.
    pub fn asker(&self) -> Arc<dyn Asker> {
        self.asker.clone()
    }

    /// Whether questions go back in the result (2026-07-28) rather than over a session.
    pub fn answers_in_result(&self) -> bool {
        matches!(self.asker.way, Way::Round(_))
    }

    /// What a call that ended inside `ask` answers: the questions for the client (with the
    /// state to return), or the missing capability. `None` for any other error.
    pub fn interrupted(
        &self,
        seal: &StateSeal,
        error: &CallError,
    ) -> Option<Result<InputRequiredResult, Interruption>> {
        match error {
            CallError::InputRequired { questions } => Some(self.questions(seal, questions)),
            CallError::MissingCapability { capability } => {
                Some(Err(Interruption::Missing(capability.clone())))
            }
            _ => None,
        }
    }

    fn questions(
        &self,
        seal: &StateSeal,
        questions: &[Question],
    ) -> Result<InputRequiredResult, Interruption> {
        let requests = input_requests(questions)?;
        let used = self.used();
        let options = SealOptions::new()
            .associated_data(&self.binding)
            .ttl(STATE_TTL);
        let state = seal
            .0
            .seal_json_with(&used, &options)
            .map_err(|e| Interruption::Malformed(e.to_string()))?;
        Ok(InputRequiredResult::new(Some(requests), Some(state)))
    }
}

/// The questions as MCP's `inputRequests`, by key.
pub(super) fn input_requests(questions: &[Question]) -> Result<InputRequests, Interruption> {
    let mut requests = BTreeMap::new();
    for q in questions {
        let wire = serde_json::json!({"method": q.method, "params": q.params});
        let request: InputRequest = serde_json::from_value(wire).map_err(|e| {
            Interruption::Malformed(format!(
                "question {:?} is not a valid {} request: {e}",
                q.key, q.method
            ))
        })?;
        requests.insert(q.key.clone(), request);
    }
    Ok(requests)
}

/// Why a call that ended inside `ask` has no questions to hand over.
pub(super) enum Interruption {
    /// The client lacks a capability a required question needs.
    Missing(String),
    /// The plugin's question is not MCP's request shape.
    Malformed(String),
}

impl Interruption {
    /// MCP's error for it: -32021 with the capability in `requiredCapabilities`.
    pub fn error(&self, plugin: &str) -> McpError {
        match self {
            Interruption::Missing(capability) => {
                let (top, sub) = capability.split_once('.').unwrap_or((capability, ""));
                let inner = if sub.is_empty() {
                    serde_json::json!({})
                } else {
                    serde_json::json!({ sub: {} })
                };
                McpError::new(
                    ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
                    format!(
                        "{plugin} needs the client capability `{capability}`, which this client did not declare"
                    ),
                    Some(serde_json::json!({"requiredCapabilities": { top: inner }})),
                )
            }
            Interruption::Malformed(why) => {
                McpError::internal_error(format!("{plugin} asked the client badly: {why}"), None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ElicitationCapability, RootsCapabilities};

    fn q(method: &'static str, params: Value) -> Question {
        Question {
            key: "k".into(),
            method,
            params,
        }
    }

    #[test]
    fn capabilities_are_checked_per_question() {
        let mut caps = ClientCapabilities::default();
        let form = q(ELICIT, serde_json::json!({"message": "x"}));
        assert_eq!(missing(Some(&caps), &form), Some("elicitation"));
        caps.elicitation = Some(ElicitationCapability::default());
        assert_eq!(missing(Some(&caps), &form), None);
        let url = q(
            ELICIT,
            serde_json::json!({"mode": "url", "url": "https://x"}),
        );
        assert_eq!(missing(Some(&caps), &url), Some("elicitation.url"));
        assert_eq!(
            missing(Some(&caps), &q(LIST_ROOTS, serde_json::json!({}))),
            Some("roots")
        );
        caps.roots = Some(RootsCapabilities::default());
        assert_eq!(
            missing(Some(&caps), &q(LIST_ROOTS, serde_json::json!({}))),
            None
        );
        assert!(matches!(
            refusal(Some(&caps), &[q(SAMPLE, serde_json::json!({}))], false),
            Some(Asked::Refused(AskError::Unsupported(m))) if m.contains("`sampling`")
        ));
        assert!(matches!(
            refusal(Some(&caps), &[q(SAMPLE, serde_json::json!({}))], true),
            Some(Asked::MissingCapability(c)) if c == "sampling"
        ));
    }

    #[test]
    fn answers_must_have_their_shape() {
        assert!(answer_fits(
            ELICIT,
            &serde_json::json!({"action": "accept", "content": {"a": 1}})
        ));
        assert!(answer_fits(
            ELICIT,
            &serde_json::json!({"action": "decline"})
        ));
        assert!(!answer_fits(
            ELICIT,
            &serde_json::json!({"action": "maybe"})
        ));
        assert!(!answer_fits(ELICIT, &serde_json::json!("accept")));
        assert!(answer_fits(LIST_ROOTS, &serde_json::json!({"roots": []})));
        assert!(!answer_fits(SAMPLE, &serde_json::json!({"text": "hi"})));
    }

    #[test]
    fn a_state_opens_only_for_its_own_call() {
        let seal = StateSeal::from_env().unwrap_or_else(|e| panic!("{e}"));
        let answers: BTreeMap<String, Value> =
            [("k".to_string(), serde_json::json!({"action": "decline"}))].into();
        let mut args = rmcp::model::JsonObject::new();
        args.insert("b".into(), serde_json::json!(1));
        args.insert("a".into(), serde_json::json!({"y": 2, "x": [1]}));
        let here = binding("alice", "tools/call", "t", Some(&args));
        let mut reordered = rmcp::model::JsonObject::new();
        reordered.insert("a".into(), serde_json::json!({"x": [1], "y": 2}));
        reordered.insert("b".into(), serde_json::json!(1));
        assert_eq!(here, binding("alice", "tools/call", "t", Some(&reordered)));
        assert_ne!(here, binding("alice", "tools/call", "t", None));
        let options = SealOptions::new().associated_data(&here).ttl(STATE_TTL);
        let sealed = seal
            .0
            .seal_json_with(&answers, &options)
            .unwrap_or_default();
        let opened: Result<BTreeMap<String, Value>, _> = seal.0.open_json_with(&sealed, &here);
        assert_eq!(opened.ok(), Some(answers));
        let other = binding("bob", "tools/call", "t", Some(&args));
        let moved: Result<BTreeMap<String, Value>, _> = seal.0.open_json_with(&sealed, &other);
        assert!(moved.is_err());
        let mut tampered = sealed.clone();
        tampered.insert(tampered.len() / 2, 'x');
        let bad: Result<BTreeMap<String, Value>, _> = seal.0.open_json_with(&tampered, &here);
        assert!(bad.is_err());
    }
}
