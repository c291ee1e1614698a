//! A plugin that tries to escape. Each tool attempts one thing a sandboxed plugin must not do
//! unless its manifest grants it: open sockets, look up names, send HTTP, read the environment,
//! touch files outside its preopens, loop forever, eat memory, return a huge result, crash.
//! Tests run it through the real `pier` binary and check every refusal and that pier keeps
//! serving. It reports what happened as plain text, so a test can also see a granted success.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use pier_sdk::{CallContext, CallResult, Error, Plugin, Tool, Value, json};

mod http;
mod kept;

struct Hostile;

fn text<'a>(args: &'a Value, key: &str) -> Result<&'a str, Error> {
    args.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::InvalidParams(format!("`{key}` must be a string")))
}

fn num(args: &Value, key: &str) -> Result<u64, Error> {
    args.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::InvalidParams(format!("`{key}` must be a non-negative integer")))
}

/// A failed attempt is a tool error carrying the guest-side error; pier adds its own account.
fn failed(what: &str, e: impl std::fmt::Display) -> Result<CallResult, Error> {
    Ok(CallResult::error(format!("{what} failed: {e}")))
}

impl Plugin for Hostile {
    fn tools() -> Vec<Tool> {
        let schema = |props: Value, req: &[&str]| json!({"type": "object", "properties": props, "required": req});
        let host_port = schema(
            json!({"host": {"type": "string"}, "port": {"type": "integer"}, "message": {"type": "string"}}),
            &["host", "port"],
        );
        vec![
            Tool::new(
                "connect",
                "Connects over TCP, sends `message`, returns the reply.",
            )
            .open_world(true)
            .input_schema(host_port),
            Tool::new(
                "kept_connect",
                "Opens a TCP connection with the SDK's async stream and keeps it for later calls.",
            )
            .input_schema(schema(
                json!({"host": {"type": "string"}, "port": {"type": "integer"}}),
                &["host", "port"],
            )),
            Tool::new(
                "kept_echo",
                "Sends `message` over the kept connection, returns the reply.",
            )
            .input_schema(schema(json!({"message": {"type": "string"}}), &["message"])),
            Tool::new(
                "background_start",
                "Starts a task that connects and echoes `message`, and returns before it ends.",
            )
            .input_schema(schema(
                json!({"host": {"type": "string"}, "port": {"type": "integer"}, "message": {"type": "string"}}),
                &["host", "port", "message"],
            )),
            Tool::new("background_finish", "Waits for the background task and returns its reply."),
            Tool::new("lookup", "Looks up a host name.")
                .input_schema(schema(json!({"name": {"type": "string"}}), &["name"])),
            Tool::new("listen", "Tries to listen on a TCP port.")
                .input_schema(schema(json!({"port": {"type": "integer"}}), &["port"])),
            Tool::new("udp", "Tries to send a UDP datagram.")
                .input_schema(schema(json!({"addr": {"type": "string"}}), &["addr"])),
            Tool::new("http_get", "GETs a URL through wasi:http.")
                .open_world(true)
                .input_schema(schema(json!({"url": {"type": "string"}}), &["url"])),
            Tool::new("env", "Reads an environment variable.")
                .input_schema(schema(json!({"name": {"type": "string"}}), &["name"])),
            Tool::new("env_all", "Lists the whole environment."),
            Tool::new("read_file", "Reads a file.")
                .input_schema(schema(json!({"path": {"type": "string"}}), &["path"])),
            Tool::new("write_file", "Writes a file.")
                .destructive(true)
                .input_schema(schema(json!({"path": {"type": "string"}}), &["path"])),
            Tool::new(
                "print",
                "Writes to stdout and stderr (which must go nowhere).",
            ),
            Tool::new("spin", "Loops forever."),
            Tool::new("alloc", "Allocates and touches `mb` MiB.")
                .input_schema(schema(json!({"mb": {"type": "integer"}}), &["mb"])),
            Tool::new("big", "Returns a text result of `bytes` bytes.")
                .input_schema(schema(json!({"bytes": {"type": "integer"}}), &["bytes"])),
            Tool::new("panic", "Panics."),
        ]
    }

    fn call(_cx: &CallContext, name: &str, args: Value) -> Result<CallResult, Error> {
        match name {
            "connect" => {
                let host = text(&args, "host")?;
                let port = num(&args, "port")? as u16;
                let message = args
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("ping");
                let mut stream = match TcpStream::connect((host, port)) {
                    Ok(s) => s,
                    Err(e) => return failed(&format!("connect to {host}:{port}"), e),
                };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                if let Err(e) = stream.write_all(message.as_bytes()) {
                    return failed("write", e);
                }
                let mut reply = vec![0u8; message.len()];
                match stream.read_exact(&mut reply) {
                    Ok(()) => Ok(CallResult::text(format!(
                        "reply: {}",
                        String::from_utf8_lossy(&reply)
                    ))),
                    Err(e) => failed("read", e),
                }
            }
            "kept_connect" => {
                let host = text(&args, "host")?;
                let port = num(&args, "port")? as u16;
                match kept::connect(host, port) {
                    Ok(()) => Ok(CallResult::text("connected")),
                    Err(e) => failed(&format!("connect to {host}:{port}"), e),
                }
            }
            "kept_echo" => match kept::echo(text(&args, "message")?) {
                Ok(reply) => Ok(CallResult::text(format!("reply: {reply}"))),
                Err(e) => failed("echo", e),
            },
            "background_start" => {
                let (host, port) = (text(&args, "host")?, num(&args, "port")? as u16);
                kept::start_background(host.to_string(), port, text(&args, "message")?.to_string());
                Ok(CallResult::text("started"))
            }
            "background_finish" => match kept::finish_background() {
                Ok(reply) => Ok(CallResult::text(format!("reply: {reply}"))),
                Err(e) => failed("background echo", e),
            },
            "lookup" => {
                let name = text(&args, "name")?;
                match (name, 0).to_socket_addrs() {
                    Ok(addrs) => {
                        let ips: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
                        Ok(CallResult::text(format!("addresses: {}", ips.join(", "))))
                    }
                    Err(e) => failed(&format!("lookup of {name}"), e),
                }
            }
            "listen" => {
                let port = num(&args, "port")?;
                match TcpListener::bind(("0.0.0.0", port as u16)) {
                    Ok(_) => Ok(CallResult::text(format!("listening on {port}"))),
                    Err(e) => failed("listen", e),
                }
            }
            "udp" => {
                let addr = text(&args, "addr")?;
                let sent = UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"x", addr));
                match sent {
                    Ok(n) => Ok(CallResult::text(format!("sent {n} bytes"))),
                    Err(e) => failed("udp send", e),
                }
            }
            "http_get" => match http::get(text(&args, "url")?) {
                Ok((status, body)) => Ok(CallResult::text(format!("status {status}: {body}"))),
                Err(e) => failed("http request", e),
            },
            "env" => match pier_sdk::grants::env_var(text(&args, "name")?) {
                Ok(v) => Ok(CallResult::text(v)),
                Err(Error::InvalidParams(m) | Error::NotFound(m) | Error::Internal(m)) => {
                    Ok(CallResult::error(m))
                }
            },
            "env_all" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                Ok(CallResult::text(format!("variables: [{}]", vars.join(","))))
            }
            "read_file" => {
                let path = text(&args, "path")?;
                match std::fs::read_to_string(path) {
                    Ok(s) => Ok(CallResult::text(s)),
                    Err(e) => Ok(CallResult::error(pier_sdk::grants::explain_file_error(
                        path, false, &e,
                    ))),
                }
            }
            "write_file" => {
                let path = text(&args, "path")?;
                match std::fs::write(path, b"hostile was here") {
                    Ok(()) => Ok(CallResult::text(format!("wrote {path}"))),
                    Err(e) => Ok(CallResult::error(pier_sdk::grants::explain_file_error(
                        path, true, &e,
                    ))),
                }
            }
            "print" => {
                println!("{{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":{{}}}}");
                eprintln!("hostile writes to stderr");
                Ok(CallResult::text("printed"))
            }
            "spin" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "alloc" => {
                let mb = num(&args, "mb")? as usize;
                let mut v: Vec<u8> = Vec::with_capacity(mb * 1024 * 1024);
                v.resize(mb * 1024 * 1024, 1);
                Ok(CallResult::text(format!("allocated {} bytes", v.len())))
            }
            "big" => {
                let n = num(&args, "bytes")? as usize;
                Ok(CallResult::text("x".repeat(n)))
            }
            "panic" => panic!("hostile panics on purpose"),
            other => Err(Error::unknown_tool(other)),
        }
    }
}

pier_sdk::export_plugin!(Hostile);
