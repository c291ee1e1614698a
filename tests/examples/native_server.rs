//! The yardstick for the sandbox benchmark: the same tools as the test plugins, written directly
//! against rmcp with no WebAssembly in between, served over rmcp's own stdio transport.
//!
//! Tools: `count` (a no-op that answers a number, like `probe_count`) and `connect` (TCP connect,
//! send `message`, read the echo, like `hostile_connect`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Default)]
struct Native {
    calls: Arc<AtomicU64>,
}

fn object(v: serde_json::Value) -> Arc<serde_json::Map<String, serde_json::Value>> {
    match v {
        serde_json::Value::Object(m) => Arc::new(m),
        _ => Arc::new(serde_json::Map::new()),
    }
}

impl ServerHandler for Native {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(vec![
            rmcp::model::Tool::new(
                "count",
                "Counts calls.",
                object(serde_json::json!({"type": "object"})),
            ),
            rmcp::model::Tool::new(
                "connect",
                "Connects over TCP, sends `message`, returns the reply.",
                object(serde_json::json!({"type": "object"})),
            ),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        let result = match request.name.as_ref() {
            "count" => {
                let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
                CallToolResult::success(vec![ContentBlock::text(n.to_string())])
            }
            "connect" => {
                let host = args
                    .get("host")
                    .and_then(|v| v.as_str())
                    .unwrap_or("127.0.0.1");
                let port = args.get("port").and_then(|v| v.as_u64()).unwrap_or(0) as u16;
                let message = args
                    .get("message")
                    .and_then(|v| v.as_str())
                    .unwrap_or("ping");
                match echo(host, port, message).await {
                    Ok(reply) => {
                        CallToolResult::success(vec![ContentBlock::text(format!("reply: {reply}"))])
                    }
                    Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
                        "connect failed: {e}"
                    ))]),
                }
            }
            other => {
                return Err(McpError::invalid_params(
                    format!("unknown tool {other}"),
                    None,
                ));
            }
        };
        Ok(CallToolResponse::Complete(result))
    }
}

async fn echo(host: &str, port: u16, message: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
    stream.write_all(message.as_bytes()).await?;
    let mut reply = vec![0u8; message.len()];
    stream.read_exact(&mut reply).await?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Native::default().serve(rmcp::transport::stdio()).await?;
    server.waiting().await?;
    Ok(())
}
