//! Over HTTP, the same exact-number carrying as on stdio (see `mcp::exact_numbers`): a POSTed
//! `tools/call` whose arguments hold a long run of digits gets their exact text added to its
//! `_meta` before rmcp parses the body.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::mcp::exact_numbers;

/// rmcp's own limit on a request body; a larger one is refused here with the same words.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub async fn carry(req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("pier: the request body is larger than {MAX_BODY} bytes\n"),
            )
                .into_response();
        }
    };
    let carried = std::str::from_utf8(&bytes)
        .ok()
        .and_then(exact_numbers::carry);
    let body = match carried {
        Some(text) => Body::from(text),
        None => Body::from(bytes),
    };
    next.run(Request::from_parts(parts, body)).await
}
