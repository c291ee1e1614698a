//! `pier serve --http` as a child process, and clients for it: rmcp's Streamable HTTP client
//! and plain HTTP (reqwest) for what an MCP client does not show (status codes, headers).

use std::collections::HashMap;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio::io::AsyncBufReadExt;

use crate::{Client, Fixture};

/// A running `pier serve --http 127.0.0.1:0`; killed when dropped.
pub struct HttpServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    child: tokio::process::Child,
}

impl HttpServer {
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// An rmcp client over Streamable HTTP with `token` (if any) and extra headers.
    pub async fn connect(&self, token: Option<&str>, headers: &[(&str, &str)]) -> Client {
        self.try_connect(token, headers)
            .await
            .unwrap_or_else(|e| panic!("MCP initialize over HTTP failed: {e}"))
    }

    pub async fn try_connect(
        &self,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Client, String> {
        self.try_connect_at("/mcp", token, headers).await
    }

    /// An rmcp client over Streamable HTTP at `path` (`/mcp`, `/mcp/x/…`).
    pub async fn try_connect_at(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Client, String> {
        let url = format!("{}{path}", self.base);
        let mut config = StreamableHttpClientTransportConfig::with_uri(url);
        if let Some(t) = token {
            config = config.auth_header(t);
        }
        let custom: HashMap<_, _> = headers
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                    http::HeaderValue::from_str(v).expect("header value"),
                )
            })
            .collect();
        config = config.custom_headers(custom);
        let transport = StreamableHttpClientTransport::from_config(config);
        crate::Consenting::default()
            .serve(transport)
            .await
            .map_err(|e| e.to_string())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Fixture {
    /// Starts `pier serve --http 127.0.0.1:0 ARGS` (stderr to `stderr.log`) and waits for the
    /// address it prints.
    pub async fn serve_http(&self, args: &[&str], env: &[(&str, &str)]) -> HttpServer {
        let mut cmd = self.serve_command();
        cmd.args(["--http", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let log = std::fs::File::create(self.path().join("stderr.log")).expect("create log");
        cmd.stderr(std::process::Stdio::from(log));
        let mut child = cmd.spawn().expect("spawn pier");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("pier printed its address within 60 s")
            .expect("read stdout")
            .unwrap_or_else(|| panic!("pier exited before listening: {}", self.stderr()));
        let base = line
            .strip_prefix("listening on ")
            .and_then(|u| u.strip_suffix("/mcp"))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        // Keep draining stdout so pier never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        HttpServer { base, child }
    }
}

/// A plain HTTP client (no proxy from the environment: everything here is loopback).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// POSTs one JSON-RPC message to `/mcp` as an MCP client would, with extra headers.
pub async fn post_mcp(
    server: &HttpServer,
    body: &serde_json::Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http_client()
        .post(server.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("POST /mcp")
}

/// An `initialize` request body.
pub fn initialize_body() -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "pier-e2e", "version": "1"}}
    })
}
