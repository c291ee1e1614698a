//! Load generator for `cargo xtask bench`: starts an MCP server over stdio, then makes `CALLS`
//! calls of one tool with `IN_FLIGHT` outstanding at once through rmcp's client, and prints
//! calls per second as JSON. Used to measure throughput with a client that is not itself the
//! bottleneck (the Python bench client tops out near 3,000 calls/s).
//!
//! usage: loadgen CALLS IN_FLIGHT TOOL ARGS_JSON -- SERVER_CMD [SERVER_ARGS...]
//!        loadgen CALLS IN_FLIGHT TOOL ARGS_JSON -- http://HOST:PORT/mcp
//!
//! With a URL it connects over Streamable HTTP instead (bearer token from `LOADGEN_TOKEN`).
//!
//! Also prints per-call latency percentiles (p50, p95, in ms). With `LOADGEN_EXPECT_ERROR=1` the
//! tool is expected to answer with a tool error (used to time crash-and-replace cycles).

use std::sync::Arc;
use std::time::Instant;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use tokio::sync::Semaphore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args
        .iter()
        .position(|a| a == "--")
        .ok_or("usage: loadgen CALLS IN_FLIGHT TOOL ARGS_JSON -- SERVER_CMD [ARGS...]")?;
    let (opts, cmd) = (&args[..split], &args[split + 1..]);
    if opts.len() != 4 || cmd.is_empty() {
        return Err("usage: loadgen CALLS IN_FLIGHT TOOL ARGS_JSON -- SERVER_CMD [ARGS...]".into());
    }
    let calls: usize = opts[0].parse()?;
    let in_flight: usize = opts[1].parse()?;
    let tool = opts[2].clone();
    let arguments = match serde_json::from_str(&opts[3])? {
        serde_json::Value::Object(m) => m,
        _ => return Err("ARGS_JSON must be an object".into()),
    };
    let client = if cmd[0].starts_with("http://") {
        // rmcp's client allows 16 POSTs at once by default; let IN_FLIGHT decide instead.
        let mut config = StreamableHttpClientTransportConfig::with_uri(cmd[0].as_str())
            .max_concurrent_requests(in_flight.max(16));
        if let Ok(token) = std::env::var("LOADGEN_TOKEN") {
            config = config.auth_header(token);
        }
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await?
    } else {
        let mut command = tokio::process::Command::new(&cmd[0]);
        command.args(&cmd[1..]);
        let transport = TokioChildProcess::builder(command)
            .stderr(std::process::Stdio::null())
            .spawn()?
            .0;
        ().serve(transport).await?
    };
    let peer = client.peer().clone();
    let params = CallToolRequestParams::new(tool).with_arguments(arguments);
    let expect_error = std::env::var("LOADGEN_EXPECT_ERROR").is_ok_and(|v| v == "1");
    // Warm-up, and a check that the call behaves as expected at all.
    let first = peer.call_tool(params.clone()).await?;
    if (first.is_error == Some(true)) != expect_error {
        return Err(format!("unexpected answer to the first call: {first:?}").into());
    }
    let gate = Arc::new(Semaphore::new(in_flight));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(calls);
    for _ in 0..calls {
        let permit = gate.clone().acquire_owned().await?;
        let (peer, params) = (peer.clone(), params.clone());
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let r = peer.call_tool(params).await;
            let took = t0.elapsed();
            drop(permit);
            (r, took)
        }));
    }
    let mut failed = 0usize;
    let mut latencies = Vec::with_capacity(calls);
    for t in tasks {
        let (r, took) = t.await?;
        latencies.push(took.as_secs_f64() * 1000.0);
        if !matches!(r, Ok(ref r) if (r.is_error == Some(true)) == expect_error) {
            failed += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "{}",
        serde_json::json!({"calls": calls, "in_flight": in_flight, "seconds": secs,
                           "calls_per_s": calls as f64 / secs, "failed": failed,
                           "p50_ms": pct(0.5), "p95_ms": pct(0.95)})
    );
    client.cancel().await?;
    Ok(())
}
