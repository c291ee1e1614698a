//! Judging one JSON-RPC line before rmcp sees it.
//!
//! rmcp drops a line it cannot decode without answering, so a client that sends malformed JSON,
//! a non-JSON-RPC object or a request with ill-typed params would wait forever; and it answers a
//! request to an MCP method whose params do not fit with "method not found". Here such lines
//! get the JSON-RPC error the spec prescribes (-32700 parse error, -32600 invalid request, -32602
//! invalid params); well-formed messages pass on already parsed.

use rmcp::model::{ClientJsonRpcMessage, ClientRequest, JsonRpcMessage};
use serde_json::{Value, json};

/// What to do with one input line.
pub(super) enum Verdict {
    Pass(Box<ClientJsonRpcMessage>),
    Answer(Value),
    Ignore,
}

pub(super) fn error(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

pub(super) fn judge(line: &str) -> Verdict {
    if line.trim().is_empty() {
        return Verdict::Ignore;
    }
    // A tools/call with long numbers gets their exact text in its _meta (exact_numbers).
    let carried = super::exact_numbers::carry(line);
    let line = carried.as_deref().unwrap_or(line);
    // Fast path: one typed parse for every well-formed message, which rmcp then uses as is.
    // Only a message that fails it is parsed again, generically, to choose the error.
    let why = match serde_json::from_str::<ClientJsonRpcMessage>(line) {
        Ok(m) => return ill_typed(&m).map_or(Verdict::Pass(Box::new(m)), Verdict::Answer),
        Err(e) => e.to_string(),
    };
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Verdict::Answer(error(Value::Null, -32700, format!("parse error: {e}"))),
    };
    let id = value.get("id").cloned();
    let method = value.get("method").and_then(Value::as_str);
    match (id, method) {
        // A request whose method rmcp knows but whose params do not fit.
        (Some(id), Some(method)) => {
            Verdict::Answer(error(id, -32602, format!("invalid params for {method}: {why}")))
        }
        // A notification cannot be answered; log and drop it.
        (None, Some(method)) => {
            tracing::warn!(method, "ignoring a malformed notification");
            Verdict::Ignore
        }
        (id, None) => Verdict::Answer(error(
            id.unwrap_or(Value::Null),
            -32600,
            "invalid request: expected a JSON-RPC 2.0 object with \"jsonrpc\": \"2.0\" and a \"method\"".into(),
        )),
    }
}

/// Methods of MCP itself: rmcp takes a request for one of them whose params do not fit as a
/// custom request and answers "method not found" (-32601), which tells the client nothing.
const MCP_METHODS: &[&str] = &[
    "ping",
    "initialize",
    "completion/complete",
    "logging/setLevel",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "tools/call",
    "tools/list",
];

/// The -32602 answer for a request to an MCP method whose params do not fit it.
fn ill_typed(message: &ClientJsonRpcMessage) -> Option<Value> {
    let JsonRpcMessage::Request(r) = message else {
        return None;
    };
    let ClientRequest::CustomRequest(c) = &r.request else {
        return None;
    };
    if !MCP_METHODS.contains(&c.method.as_str()) {
        return None;
    }
    let detail = match (c.method.as_str(), &c.params) {
        ("tools/call", Some(p)) => {
            serde_json::from_value::<rmcp::model::CallToolRequestParams>(p.clone())
                .err()
                .map(|e| e.to_string())
        }
        _ => None,
    }
    .unwrap_or_else(|| "they do not match the method's schema".into());
    let id = serde_json::to_value(&r.id).unwrap_or(Value::Null);
    Some(error(
        id,
        -32602,
        format!("invalid params for {}: {detail}", c.method),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Value {
        match judge(line) {
            Verdict::Answer(v) => v,
            Verdict::Pass(_) => panic!("{line} passed"),
            Verdict::Ignore => panic!("{line} ignored"),
        }
    }

    #[test]
    fn malformed_lines_get_the_right_errors() {
        assert_eq!(answer("not json")["error"]["code"], -32700);
        assert_eq!(answer(r#"{"foo": 1}"#)["error"]["code"], -32600);
        let bad = answer(r#"{"jsonrpc":"2.0","id":7}"#);
        assert_eq!(bad["error"]["code"], -32600);
        assert_eq!(bad["id"], 7);
    }

    #[test]
    fn ill_typed_params_of_mcp_methods_are_invalid_params() {
        let bad = answer(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":5}}"#);
        assert_eq!(bad["error"]["code"], -32602, "{bad}");
        assert_eq!(bad["id"], 4);
        assert!(
            bad["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("tools/call"))
        );
        // A method of someone else's stays rmcp's to answer.
        assert!(matches!(
            judge(r#"{"jsonrpc":"2.0","id":5,"method":"x/custom","params":{"a":1}}"#),
            Verdict::Pass(_)
        ));
    }

    #[test]
    fn good_messages_pass() {
        assert!(matches!(
            judge(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            Verdict::Pass(_)
        ));
        assert!(matches!(judge("   \n"), Verdict::Ignore));
    }
}
