//! The stdio transport, with a guard in front of rmcp.
//!
//! rmcp drops a line it cannot decode without answering, so a client that sends malformed JSON,
//! a non-JSON-RPC object or a request with ill-typed params would wait forever. This guard reads
//! stdin line by line, passes well-formed messages to rmcp, and answers the rest itself with the
//! JSON-RPC error the spec prescribes (-32700 parse error, -32600 invalid request, -32602 invalid
//! params). A single writer task owns stdout, so answers never interleave mid-line with rmcp's.

use rmcp::ServiceExt;
use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::PierHandler;

/// Lines longer than this are refused (and skipped) rather than buffered without bound.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// What to do with one input line.
enum Verdict {
    Pass,
    Answer(Value),
    Ignore,
}

fn error(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn judge(line: &str) -> Verdict {
    if line.trim().is_empty() {
        return Verdict::Ignore;
    }
    // Fast path: one typed parse for every well-formed message. Only a message that fails it is
    // parsed again, generically, to choose the error.
    let why = match serde_json::from_str::<ClientJsonRpcMessage>(line) {
        Ok(_) => return Verdict::Pass,
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

/// Serves `handler` on this process's stdin and stdout until stdin closes.
pub async fn serve(handler: PierHandler) -> Result<(), String> {
    let (mut to_rmcp, rmcp_in) = tokio::io::duplex(1 << 16);
    let (rmcp_out, from_rmcp) = tokio::io::duplex(1 << 16);
    let (answers, mut answer_rx) = mpsc::unbounded_channel::<String>();

    let reader = tokio::spawn(async move {
        let mut stdin = BufReader::new(tokio::io::stdin());
        let mut line = String::new();
        loop {
            line.clear();
            match stdin.read_line(&mut line).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    // Not UTF-8 (or an I/O error): answer as a parse error and go on.
                    let _ = answers
                        .send(error(Value::Null, -32700, format!("parse error: {e}")).to_string());
                    continue;
                }
            }
            if line.len() > MAX_LINE {
                let _ = answers
                    .send(error(Value::Null, -32600, "message too large".into()).to_string());
                continue;
            }
            match judge(&line) {
                Verdict::Pass => {
                    if to_rmcp.write_all(line.as_bytes()).await.is_err() {
                        break;
                    }
                    if !line.ends_with('\n') && to_rmcp.write_all(b"\n").await.is_err() {
                        break;
                    }
                }
                Verdict::Answer(v) => {
                    tracing::warn!("answered a malformed message: {v}");
                    let _ = answers.send(v.to_string());
                }
                Verdict::Ignore => {}
            }
        }
        let _ = to_rmcp.shutdown().await;
    });

    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        let mut rmcp_lines = BufReader::new(from_rmcp).lines();
        loop {
            let line = tokio::select! {
                l = rmcp_lines.next_line() => match l {
                    Ok(Some(l)) => l,
                    _ => break,
                },
                Some(a) = answer_rx.recv() => a,
            };
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
                || stdout.flush().await.is_err()
            {
                break;
            }
        }
    });

    let service = handler
        .serve((rmcp_in, rmcp_out))
        .await
        .map_err(|e| e.to_string())?;
    let result = service.waiting().await.map_err(|e| e.to_string());
    reader.abort();
    let _ = writer.await;
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Value {
        match judge(line) {
            Verdict::Answer(v) => v,
            Verdict::Pass => panic!("{line} passed"),
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
    fn good_messages_pass() {
        assert!(matches!(
            judge(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            Verdict::Pass
        ));
        assert!(matches!(judge("   \n"), Verdict::Ignore));
    }
}
