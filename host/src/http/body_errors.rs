//! Malformed JSON-RPC over HTTP gets a JSON-RPC error, as on stdio.
//!
//! rmcp answers a POST body it cannot read as a JSON-RPC message with `415 Unsupported Media
//! Type` and a plain-text serde message, even when the content type was right. A client then
//! sees a transport failure with no code. This layer turns that answer into `400 Bad Request` with
//! a JSON-RPC error object (`id: null`): `-32700` when the body is not JSON at all, `-32600` when
//! it is JSON but not a JSON-RPC message, keeping rmcp's explanation. A genuinely wrong content
//! type keeps its 415.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The prefix rmcp puts before serde's message.
const RMCP_PREFIX: &str = "fail to deserialize request body ";
/// rmcp's message for JSON that is no JSON-RPC message.
const NOT_JSON_RPC: &str = "unrecognized JSON-RPC message";

pub async fn rewrite(req: Request, next: Next) -> Response {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let response = next.run(req).await;
    if !json || response.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let detail = text.strip_prefix(RMCP_PREFIX).unwrap_or(&text).trim();
    let (code, message) = if detail.contains(NOT_JSON_RPC) {
        (
            -32600,
            format!(
                "invalid request: the body is JSON but not a JSON-RPC 2.0 request, notification or response ({detail})"
            ),
        )
    } else {
        (
            -32700,
            format!("parse error: the body is not valid JSON ({detail})"),
        )
    };
    let error = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    let mut r = (StatusCode::BAD_REQUEST, error.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
