//! Credentials pier injects into a plugin's HTTP requests: they reach only their origin, replace
//! what the plugin set, are redacted from what comes back, follow a rotated token file, explain
//! a 401, and are never visible to the plugin, in reports or in pier's log.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use pier_e2e::{Fixture, call, ok, text, tool_error};
use serde_json::json;

const FIRST: &str = "tok-first-9f2c61d0a7";
const SECOND: &str = "tok-second-4be8e1f3c92d55";
const API_KEY: &str = "key-env-77c1b0e5";

/// A loopback HTTP/1.1 server that records each request's header block. `/echo` answers with
/// the request's headers in the body and its `Authorization` in an `x-echo-auth` header;
/// `/deny` answers 401.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || answer(stream, &log));
            }
        });
        Server { port, seen }
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The header block of the last request, lower-cased names.
    fn last(&self) -> String {
        self.seen
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

fn answer(mut stream: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut head = String::new();
    let mut auth = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("authorization:") {
                    auth = line[line.len() - v.len()..].trim().to_string();
                }
                head.push_str(&line);
            }
        }
    }
    seen.lock().expect("lock").push(head.clone());
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, body) = if path.starts_with("/deny") {
        ("401 Unauthorized", "bad credentials".to_string())
    } else {
        ("200 OK", format!("you sent:\n{head}"))
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\nx-echo-auth: {auth}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
}

#[tokio::test]
async fn credentials_are_injected_by_pier_and_never_reach_the_plugin() {
    let f = Fixture::new();
    let (bearer, header, plain) = (Server::start(), Server::start(), Server::start());
    let secrets = f.dir("secrets");
    let token = secrets.join("github-token");
    std::fs::write(&token, format!("{FIRST}\n")).expect("write token");
    let manifest = format!(
        r#"[grants]
http = [
  {{ origin = "{}", auth = {{ bearer_file = {:?} }} }},
  {{ origin = "{}", auth = {{ header = "X-Api-Key", prefix = "Key ", value_env = "PIER_TEST_API_KEY" }} }},
  "{}",
]
"#,
        bearer.origin(),
        token.display().to_string(),
        header.origin(),
        plain.origin(),
    );
    f.install("hostile", "hostile", Some(&manifest));
    let c = f.connect_with(&[], &[("PIER_TEST_API_KEY", API_KEY)]).await;

    // The bearer token replaces the one the plugin forged, and what echoes it is redacted.
    let forged = json!({"Authorization": "Bearer forged-by-plugin"});
    let r = ok(
        &c,
        "hostile_http_get",
        json!({"url": format!("{}/echo", bearer.origin()), "headers": forged, "show_headers": true}),
    )
    .await;
    let seen = bearer.last();
    assert!(
        seen.contains(&format!("authorization: Bearer {FIRST}")),
        "{seen}"
    );
    assert_eq!(seen.matches("authorization:").count(), 1, "{seen}");
    assert!(!seen.contains("forged-by-plugin"), "{seen}");
    let answer = text(&r);
    assert!(
        !answer.contains(FIRST),
        "the plugin saw the token: {answer}"
    );
    assert!(
        answer.contains("x-echo-auth: Bearer [credential redacted by pier]")
            && answer.contains("authorization: Bearer [credential redacted by pier]"),
        "{answer}"
    );

    // A named header with a prefix, from pier's environment; the plugin has no env grant.
    let r = ok(
        &c,
        "hostile_http_get",
        json!({"url": format!("{}/echo", header.origin()), "headers": {"X-Api-Key": "guess"}}),
    )
    .await;
    assert!(header.last().contains(&format!("x-api-key: Key {API_KEY}")));
    assert!(!header.last().contains("guess"));
    assert!(!text(&r).contains(API_KEY), "{}", text(&r));
    let env = tool_error(&c, "hostile_env", json!({"name": "PIER_TEST_API_KEY"})).await;
    assert!(!env.contains(API_KEY), "{env}");

    // Another granted origin gets neither credential.
    let plain_forged = json!({"Authorization": "Bearer forged-by-plugin"});
    ok(
        &c,
        "hostile_http_get",
        json!({"url": format!("{}/echo", plain.origin()), "headers": plain_forged}),
    )
    .await;
    let seen = plain.last();
    assert!(!seen.contains(FIRST) && !seen.contains(API_KEY), "{seen}");
    assert!(
        seen.contains("authorization: Bearer forged-by-plugin"),
        "{seen}"
    );

    // The token file is not the plugin's to read.
    let read = tool_error(
        &c,
        "hostile_read_file",
        json!({"path": token.display().to_string()}),
    )
    .await;
    assert!(!read.contains(FIRST), "{read}");

    // A renewed token file is used by the next call, without a restart.
    std::fs::write(&token, format!("{SECOND}\n")).expect("rotate token");
    ok(
        &c,
        "hostile_http_get",
        json!({"url": format!("{}/echo", bearer.origin())}),
    )
    .await;
    assert!(
        bearer
            .last()
            .contains(&format!("authorization: Bearer {SECOND}")),
        "{}",
        bearer.last()
    );

    // A 401 says which file holds the credential.
    let r = call(
        &c,
        "hostile_http_get",
        json!({"url": format!("{}/deny", bearer.origin())}),
    )
    .await
    .expect("call");
    let denied = text(&r);
    assert!(
        denied.contains("answered 401") && denied.contains(&token.display().to_string()),
        "{denied}"
    );
    c.cancel().await.ok();

    // Reports say a credential is injected, never where from or what it is.
    let report = f.plugins_report().to_string();
    assert!(
        report.contains(&format!("credential injected for {}", bearer.origin())),
        "{report}"
    );
    assert!(
        !report.contains("github-token") && !report.contains(FIRST),
        "{report}"
    );
    let log = f.stderr();
    for secret in [FIRST, SECOND, API_KEY] {
        assert!(!log.contains(secret), "pier logged a credential:\n{log}");
    }
}

#[tokio::test]
async fn a_missing_credential_stops_the_request_and_says_what_to_set() {
    let f = Fixture::new();
    let server = Server::start();
    let manifest = format!(
        "[grants]\nhttp = [{{ origin = \"{}\", auth = {{ bearer_env = \"PIER_TEST_UNSET_TOKEN\" }} }}]\n",
        server.origin()
    );
    f.install("hostile", "hostile", Some(&manifest));
    let c = f.connect_with(&[], &[]).await;
    let e = tool_error(
        &c,
        "hostile_http_get",
        json!({"url": format!("{}/echo", server.origin())}),
    )
    .await;
    assert!(
        e.contains("no credential for") && e.contains("$PIER_TEST_UNSET_TOKEN is not set"),
        "{e}"
    );
    assert!(
        server.seen.lock().expect("lock").is_empty(),
        "nothing was sent"
    );
    c.cancel().await.ok();
}
