//! A plugin that tries to escape. Each tool attempts one thing a sandboxed plugin must not do
//! unless its manifest grants it: open sockets, look up names, send HTTP, read the environment,
//! touch files outside its preopens, loop forever, eat memory, return a huge result, crash.
//! Tests run it through the real `pier` binary and check every refusal and that pier keeps
//! serving. It reports what happened as plain text, so a test can also see a granted success.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use pier_sdk::{CallResult, Error, Plugin, Tool, ToolError, Tools, Value, json};
use serde::Deserialize;

mod http;
mod kept;

struct Hostile;

type Outcome = Result<CallResult, ToolError>;

#[derive(Deserialize)]
struct Target {
    host: String,
    port: u16,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Text {
    #[serde(
        alias = "name",
        alias = "addr",
        alias = "url",
        alias = "path",
        alias = "message"
    )]
    value: String,
}

#[derive(Deserialize)]
struct Get {
    url: String,
    /// Headers the plugin sets itself.
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    /// Answer with the response headers too.
    #[serde(default)]
    show_headers: bool,
}

#[derive(Deserialize)]
struct Number {
    #[serde(alias = "port", alias = "mb", alias = "bytes", alias = "lines")]
    value: usize,
}

/// A failed attempt is a tool error carrying the guest-side error; pier adds its own account.
fn failed(what: &str, e: impl std::fmt::Display) -> Outcome {
    Ok(CallResult::error(format!("{what} failed: {e}")))
}

fn connect(_: &mut Hostile, _: &pier_sdk::CallContext, t: Target) -> Outcome {
    let (host, port) = (t.host.as_str(), t.port);
    let message = t.message.as_deref().unwrap_or("ping");
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

fn lookup(_: &mut Hostile, _: &pier_sdk::CallContext, name: Text) -> Outcome {
    match (name.value.as_str(), 0).to_socket_addrs() {
        Ok(addrs) => {
            let ips: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
            Ok(CallResult::text(format!("addresses: {}", ips.join(", "))))
        }
        Err(e) => failed(&format!("lookup of {}", name.value), e),
    }
}

fn file(path: Text, write: bool) -> Outcome {
    let path = path.value.as_str();
    let done = if write {
        std::fs::write(path, b"hostile was here").map(|()| format!("wrote {path}"))
    } else {
        std::fs::read_to_string(path)
    };
    Ok(match done {
        Ok(s) => CallResult::text(s),
        Err(e) => CallResult::error(pier_sdk::grants::explain_file_error(path, write, &e)),
    })
}

fn spin() -> Outcome {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

impl Plugin for Hostile {
    fn new() -> Self {
        Hostile
    }

    fn tools(&self, tools: &mut Tools<Self>) {
        let schema = |props: Value, req: &[&str]| json!({"type": "object", "properties": props, "required": req});
        let one = |key: &str, kind: &str| schema(json!({key: {"type": kind}}), &[key]);
        let host_port = schema(
            json!({"host": {"type": "string"}, "port": {"type": "integer"}, "message": {"type": "string"}}),
            &["host", "port"],
        );
        tools
            .add(
                Tool::new("connect", "Connects over TCP, sends `message`, returns the reply.")
                    .open_world(true)
                    .input_schema(host_port.clone()),
                connect,
            )
            .add(
                Tool::new(
                    "kept_connect",
                    "Opens a TCP connection with the SDK's async stream and keeps it for later calls.",
                )
                .input_schema(schema(
                    json!({"host": {"type": "string"}, "port": {"type": "integer"}}),
                    &["host", "port"],
                )),
                |_, _, t: Target| match kept::connect(&t.host, t.port) {
                    Ok(()) => Ok(CallResult::text("connected")),
                    Err(e) => failed(&format!("connect to {}:{}", t.host, t.port), e),
                },
            )
            .add(
                Tool::new("kept_echo", "Sends `message` over the kept connection, returns the reply.")
                    .input_schema(one("message", "string")),
                |_, _, m: Text| match kept::echo(&m.value) {
                    Ok(reply) => Ok(CallResult::text(format!("reply: {reply}"))),
                    Err(e) => failed("echo", e),
                },
            )
            .add(
                Tool::new(
                    "background_start",
                    "Starts a task that connects and echoes `message`, and returns before it ends.",
                )
                .input_schema(schema(
                    json!({"host": {"type": "string"}, "port": {"type": "integer"}, "message": {"type": "string"}}),
                    &["host", "port", "message"],
                )),
                |_, _, t: Target| {
                    let message = t
                        .message
                        .ok_or_else(|| ToolError::Invalid("`message` is required".into()))?;
                    kept::start_background(t.host, t.port, message);
                    Ok(CallResult::text("started"))
                },
            )
            .add(
                Tool::new("background_finish", "Waits for the background task and returns its reply."),
                |_, _, _: Value| match kept::finish_background() {
                    Ok(reply) => Ok(CallResult::text(format!("reply: {reply}"))),
                    Err(e) => failed("background echo", e),
                },
            )
            .add(
                Tool::new("lookup", "Looks up a host name.").input_schema(one("name", "string")),
                lookup,
            )
            .add(
                Tool::new("listen", "Tries to listen on a TCP port.")
                    .input_schema(one("port", "integer")),
                |_, _, port: Number| match TcpListener::bind(("0.0.0.0", port.value as u16)) {
                    Ok(_) => Ok(CallResult::text(format!("listening on {}", port.value))),
                    Err(e) => failed("listen", e),
                },
            )
            .add(
                Tool::new("udp", "Tries to send a UDP datagram.").input_schema(one("addr", "string")),
                |_, _, addr: Text| {
                    let sent = UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"x", &addr.value));
                    match sent {
                        Ok(n) => Ok(CallResult::text(format!("sent {n} bytes"))),
                        Err(e) => failed("udp send", e),
                    }
                },
            )
            .add(
                Tool::new("http_get", "GETs a URL through wasi:http, with `headers` of its own.")
                    .open_world(true)
                    .input_schema(schema(
                        json!({"url": {"type": "string"}, "headers": {"type": "object"}, "show_headers": {"type": "boolean"}}),
                        &["url"],
                    )),
                |_, _, get: Get| {
                    let headers: Vec<(String, String)> = get.headers.into_iter().collect();
                    match http::get(&get.url, &headers) {
                        Ok((status, response_headers, body)) => {
                            let shown = if get.show_headers {
                                let lines: Vec<String> =
                                    response_headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                                format!(" [{}]", lines.join("; "))
                            } else {
                                String::new()
                            };
                            let answer = format!("status {status}{shown}: {body}");
                            // A refused request is the plugin's failure: pier adds its account.
                            Ok(if status >= 400 {
                                CallResult::error(answer)
                            } else {
                                CallResult::text(answer)
                            })
                        }
                        Err(e) => failed("http request", e),
                    }
                },
            )
            .add(
                Tool::new("env", "Reads an environment variable.").input_schema(one("name", "string")),
                |_, _, name: Text| match pier_sdk::grants::env_var(&name.value) {
                    Ok(v) => Ok(CallResult::text(v)),
                    Err(Error::InvalidParams(m) | Error::NotFound(m) | Error::Internal(m)) => {
                        Ok(CallResult::error(m))
                    }
                },
            )
            .add(Tool::new("env_all", "Lists the whole environment."), |_, _, _: Value| {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                Ok(CallResult::text(format!("variables: [{}]", vars.join(","))))
            })
            .add(
                Tool::new("read_file", "Reads a file.").input_schema(one("path", "string")),
                |_, _, path: Text| file(path, false),
            )
            .add(
                Tool::new("list_dir", "Lists a directory through host.read-directory, with sizes.")
                    .input_schema(one("path", "string")),
                |_, _, path: Text| {
                    Ok(match pier_sdk::host::read_directory(&path.value, true) {
                        Ok(entries) => CallResult::text(
                            entries
                                .iter()
                                .map(|e| format!("{} {:?} {:?}", e.name, e.kind, e.size))
                                .collect::<Vec<_>>()
                                .join("\n"),
                        ),
                        Err(e) => CallResult::error(format!("{e:?}")),
                    })
                },
            )
            .add(
                Tool::new("write_file", "Writes a file.")
                    .destructive(true)
                    .input_schema(one("path", "string")),
                |_, _, path: Text| file(path, true),
            )
            .add(
                Tool::new(
                    "print",
                    "Writes to stdout and stderr (which go to pier's log, never to the client).",
                ),
                |_, _, _: Value| {
                    println!("{{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":{{}}}}");
                    eprintln!("hostile writes to stderr");
                    Ok(CallResult::text("printed"))
                },
            )
            .add(
                Tool::new("flood", "Prints `lines` lines to stderr.")
                    .input_schema(one("lines", "integer")),
                |_, _, n: Number| {
                    for i in 0..n.value {
                        eprintln!("flood line {i}");
                    }
                    Ok(CallResult::text("flooded"))
                },
            )
            .add(Tool::new("spin", "Loops forever."), |_, _, _: Value| spin())
            .add(
                Tool::new("alloc", "Allocates and touches `mb` MiB.").input_schema(one("mb", "integer")),
                |_, _, mb: Number| {
                    let mut v: Vec<u8> = Vec::with_capacity(mb.value * 1024 * 1024);
                    v.resize(mb.value * 1024 * 1024, 1);
                    Ok(CallResult::text(format!("allocated {} bytes", v.len())))
                },
            )
            .add(
                Tool::new("big", "Returns a text result of `bytes` bytes.")
                    .input_schema(one("bytes", "integer")),
                |_, _, n: Number| Ok(CallResult::text("x".repeat(n.value))),
            )
            .add(Tool::new("panic", "Panics."), |_, _, _: Value| {
                panic!("hostile panics on purpose")
            });
    }
}

pier_sdk::export_plugin!(Hostile);
