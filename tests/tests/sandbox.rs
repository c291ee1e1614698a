//! The sandbox, attacked: the `hostile` plugin tries every way out through the real `pier`
//! binary and rmcp's client. Each attempt must be refused with a message naming what to grant,
//! and after each one a call to another plugin must still work. Loopback echo and HTTP servers
//! started here prove that what *is* granted works end to end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pier_e2e::{Client, Fixture, call, ok, text, tool_error};
use serde_json::json;

/// A TCP server that echoes what it reads, on a free loopback port; also returns the count of
/// connections it accepted.
fn echo_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo server");
    let port = listener.local_addr().expect("local addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, accepted)
}

/// An HTTP/1.1 server: `/big` answers with a 2 MiB body, anything else with a short greeting.
fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind http server");
    let port = listener.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve_http(stream));
        }
    });
    port
}

fn serve_http(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let body = if path == "/big" {
        "x".repeat(2 * 1024 * 1024)
    } else {
        format!("hello from {path}")
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

/// A loopback port nothing listens on.
fn unused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The other plugin answers: pier kept serving after the refusal.
async fn still_serving(c: &Client) {
    ok(c, "probe_echo", json!({"after": "refusal"})).await;
}

/// Asserts a refusal text names `needle` and the manifest to edit.
fn teaches(refusal: &str, needle: &str, manifest: &str) {
    assert!(
        refusal.contains(needle) && refusal.contains(manifest),
        "refusal should contain {needle:?} and {manifest:?}:\n{refusal}"
    );
}

struct Setup {
    f: Fixture,
    echo: u16,
    echo_accepted: Arc<AtomicUsize>,
    http: u16,
    ro: std::path::PathBuf,
    rw: std::path::PathBuf,
}

fn setup() -> Setup {
    let f = Fixture::new();
    let (echo, echo_accepted) = echo_server();
    let http = http_server();
    let ro = f.dir("granted-ro");
    let rw = f.dir("granted-rw");
    std::fs::write(ro.join("note.txt"), "granted content").expect("write note");
    let secret = f.dir("secret");
    std::fs::write(secret.join("key.txt"), "TOP SECRET").expect("write secret");
    std::os::unix::fs::symlink(secret.join("key.txt"), ro.join("link.txt")).expect("symlink");
    let manifest = format!(
        r#"# hostile gets a little, on purpose
[grants]
network = ["tcp://localhost:{echo}"]
http = ["http://127.0.0.1:{http}"]
env = ["PIER_TEST_GRANTED"]

[[grants.files]]
host = {ro:?}
mode = "ro"

[[grants.files]]
host = {rw:?}
mode = "rw"

[limits]
timeout = "1s"
memory = "32MiB"
result_size = "256KiB"
http_response_size = "1MiB"
"#,
        ro = ro.display().to_string(),
        rw = rw.display().to_string(),
    );
    f.install("hostile", "hostile", Some(&manifest));
    f.install("probe", "probe", None);
    // The same binary under a wildcard grant with block_private.
    f.install(
        "hostile",
        "wild",
        Some(&format!(
            "[grants]\nnetwork = [\"tcp://*:{echo}\"]\nblock_private = true\n"
        )),
    );
    Setup {
        f,
        echo,
        echo_accepted,
        http,
        ro,
        rw,
    }
}

async fn connect(s: &Setup) -> Client {
    let mut cmd = s.f.serve_command();
    cmd.env("PIER_TEST_GRANTED", "visible")
        .env("PIER_TEST_SECRET", "must-not-leak");
    let transport = rmcp::transport::TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn pier")
        .0;
    rmcp::ServiceExt::serve(pier_e2e::Consenting::default(), transport)
        .await
        .expect("MCP initialize")
}

#[tokio::test]
async fn network_grants_allow_what_they_name_and_nothing_else() {
    let s = setup();
    let c = connect(&s).await;
    let m = "hostile.toml";
    let echo = s.echo;

    // Granted: the name resolves through pier and the echo server answers.
    let r = ok(
        &c,
        "hostile_connect",
        json!({"host": "localhost", "port": echo, "message": "hi"}),
    )
    .await;
    assert_eq!(text(&r), "reply: hi");
    let r = ok(&c, "hostile_lookup", json!({"name": "localhost"})).await;
    assert!(text(&r).contains("127.0.0.1"), "{}", text(&r));

    // A granted name's port + 1.
    let e = tool_error(
        &c,
        "hostile_connect",
        json!({"host": "localhost", "port": echo + 1}),
    )
    .await;
    teaches(&e, &format!("\"tcp://localhost:{}\"", echo + 1), m);
    still_serving(&c).await;

    // Another ungranted port on the granted host.
    let other = unused_port();
    let e = tool_error(
        &c,
        "hostile_connect",
        json!({"host": "localhost", "port": other}),
    )
    .await;
    teaches(&e, "to [grants].network", m);
    assert!(e.contains(&format!(":{other}")), "{e}");
    still_serving(&c).await;

    // An ungranted IP on the granted port.
    let e = tool_error(
        &c,
        "hostile_connect",
        json!({"host": "127.0.0.2", "port": echo}),
    )
    .await;
    teaches(&e, &format!("\"tcp://127.0.0.2:{echo}\""), m);
    still_serving(&c).await;

    // A name no grant covers is not resolved at all.
    let e = tool_error(&c, "hostile_lookup", json!({"name": "example.com"})).await;
    teaches(&e, "look up example.com", m);
    let e = tool_error(
        &c,
        "hostile_connect",
        json!({"host": "example.com", "port": 443}),
    )
    .await;
    teaches(&e, "\"tcp://example.com:PORT\"", m);
    still_serving(&c).await;

    // Listening and UDP are never granted.
    let e = tool_error(&c, "hostile_listen", json!({"port": unused_port()})).await;
    teaches(&e, "outgoing TCP connections only", m);
    let e = tool_error(
        &c,
        "hostile_udp",
        json!({"addr": format!("127.0.0.1:{echo}")}),
    )
    .await;
    teaches(&e, "never listening sockets or UDP", m);
    still_serving(&c).await;

    // A wildcard grant with block_private: loopback answers are refused, by name or by address.
    let e = tool_error(
        &c,
        "wild_connect",
        json!({"host": "localhost", "port": echo}),
    )
    .await;
    teaches(&e, "block_private", "wild.toml");
    let e = tool_error(
        &c,
        "wild_connect",
        json!({"host": "127.0.0.1", "port": echo}),
    )
    .await;
    teaches(&e, "private address", "wild.toml");
    // An IPv4-mapped IPv6 spelling of loopback: wasmtime-wasi refuses mapped addresses on its
    // own (invalid argument) before pier's check, which would also refuse it (unit-tested).
    let e = tool_error(
        &c,
        "wild_connect",
        json!({"host": "::ffff:127.0.0.1", "port": echo}),
    )
    .await;
    assert!(e.contains("failed") && !e.contains("reply"), "{e}");
    still_serving(&c).await;
    c.cancel().await.ok();
}

#[tokio::test]
async fn the_sdk_tcp_stream_keeps_a_connection_across_calls() {
    let s = setup();
    let c = connect(&s).await;
    let echo = s.echo;
    let r = ok(
        &c,
        "hostile_kept_connect",
        json!({"host": "localhost", "port": echo}),
    )
    .await;
    assert_eq!(text(&r), "connected");
    for word in ["one", "two", "three"] {
        let r = ok(&c, "hostile_kept_echo", json!({"message": word})).await;
        assert_eq!(text(&r), format!("reply: {word}"));
    }
    // Three calls, one connection: it lived in the instance between calls.
    assert_eq!(s.echo_accepted.load(Ordering::SeqCst), 1);
    // A task spawned in one call is driven to its end by the next call's executor.
    let start = json!({"host": "localhost", "port": echo, "message": "later"});
    assert_eq!(
        text(&ok(&c, "hostile_background_start", start).await),
        "started"
    );
    let r = ok(&c, "hostile_background_finish", json!({})).await;
    assert_eq!(text(&r), "reply: later");
    let e = tool_error(
        &c,
        "hostile_kept_connect",
        json!({"host": "localhost", "port": echo + 1}),
    )
    .await;
    teaches(
        &e,
        &format!("\"tcp://localhost:{}\"", echo + 1),
        "hostile.toml",
    );
    c.cancel().await.ok();
}

#[tokio::test]
async fn http_grants_allow_their_origin_only() {
    let s = setup();
    let c = connect(&s).await;
    let m = "hostile.toml";
    let http = s.http;

    let r = ok(
        &c,
        "hostile_http_get",
        json!({"url": format!("http://127.0.0.1:{http}/hi")}),
    )
    .await;
    assert_eq!(text(&r), "status 200: hello from /hi");

    let e = tool_error(
        &c,
        "hostile_http_get",
        json!({"url": "http://example.com/"}),
    )
    .await;
    teaches(&e, "\"http://example.com\" to [grants].http", m);
    still_serving(&c).await;

    let other = unused_port();
    let e = tool_error(
        &c,
        "hostile_http_get",
        json!({"url": format!("http://127.0.0.1:{other}/")}),
    )
    .await;
    teaches(&e, &format!("\"http://127.0.0.1:{other}\""), m);
    still_serving(&c).await;

    let e = tool_error(
        &c,
        "hostile_http_get",
        json!({"url": format!("https://127.0.0.1:{http}/")}),
    )
    .await;
    teaches(&e, &format!("\"https://127.0.0.1:{http}\""), m);

    // A granted origin that answers too much is cut off at [limits].http_response_size.
    let e = tool_error(
        &c,
        "hostile_http_get",
        json!({"url": format!("http://127.0.0.1:{http}/big")}),
    )
    .await;
    teaches(&e, "[limits].http_response_size", m);
    still_serving(&c).await;
    c.cancel().await.ok();
}

#[tokio::test]
async fn files_env_and_stdio_stay_private() {
    let s = setup();
    let c = connect(&s).await;
    let m = "hostile.toml";
    let ro = s.ro.display().to_string();
    let rw = s.rw.display().to_string();

    let r = ok(
        &c,
        "hostile_read_file",
        json!({"path": format!("{ro}/note.txt")}),
    )
    .await;
    assert_eq!(text(&r), "granted content");
    ok(
        &c,
        "hostile_write_file",
        json!({"path": format!("{rw}/out.txt")}),
    )
    .await;

    for path in ["/etc/passwd".to_string(), format!("{ro}/../secret/key.txt")] {
        let e = tool_error(&c, "hostile_read_file", json!({"path": path})).await;
        teaches(&e, "outside the directories granted", m);
        assert!(!e.contains("TOP SECRET") && !e.contains("root:"), "{e}");
        still_serving(&c).await;
    }
    let e = tool_error(
        &c,
        "hostile_read_file",
        json!({"path": format!("{ro}/link.txt")}),
    )
    .await;
    teaches(&e, "symlink", m);
    assert!(!e.contains("TOP SECRET"), "{e}");
    still_serving(&c).await;

    // host.read-directory: the granted directory lists (types, sizes, the symlink as one);
    // nothing outside it does, however the path is spelled.
    let listed = ok(&c, "hostile_list_dir", json!({"path": ro})).await;
    let listed = text(&listed);
    assert!(
        listed.contains("note.txt EntryKind::File Some(15)"),
        "{listed}"
    );
    assert!(
        listed.contains("link.txt EntryKind::Symlink None"),
        "{listed}"
    );
    for (path, why) in [
        (format!("{ro}/.."), "AccessDenied"),
        (format!("{ro}/../secret"), "AccessDenied"),
        (format!("{ro}/link.txt"), ""),
        ("/etc".to_string(), "NotGranted"),
        (format!("{ro}/missing"), "NotFound"),
        (format!("{ro}/note.txt"), "NotDirectory"),
    ] {
        let e = tool_error(&c, "hostile_list_dir", json!({"path": path})).await;
        assert!(e.contains(why), "{path}: {e}");
        assert!(!e.contains("key.txt"), "{path}: {e}");
        still_serving(&c).await;
    }

    let e = tool_error(
        &c,
        "hostile_write_file",
        json!({"path": format!("{ro}/new.txt")}),
    )
    .await;
    teaches(&e, "granted read-only", m);
    assert!(!s.ro.join("new.txt").exists());
    still_serving(&c).await;

    let r = ok(&c, "hostile_env", json!({"name": "PIER_TEST_GRANTED"})).await;
    assert_eq!(text(&r), "visible");
    let e = tool_error(&c, "hostile_env", json!({"name": "PIER_TEST_SECRET"})).await;
    teaches(&e, "\"PIER_TEST_SECRET\" to [grants].env", m);
    let r = ok(&c, "hostile_env_all", json!({})).await;
    assert_eq!(text(&r), "variables: [PIER_TEST_GRANTED]");
    still_serving(&c).await;

    // Writing a JSON-RPC line to stdout must not reach the client's stream.
    ok(&c, "hostile_print", json!({})).await;
    still_serving(&c).await;
    c.cancel().await.ok();
}

/// What a plugin prints reaches pier's log (tagged, rate-limited), never the client; a crash
/// quotes the panic message.
#[tokio::test]
async fn what_a_plugin_prints_goes_to_the_log_and_a_crash_explains_itself() {
    let s = setup();
    let c = s.f.connect_with(&[], &[]).await;

    ok(&c, "hostile_print", json!({})).await;
    let log = log_containing(&s.f, "hostile writes to stderr").await;
    let line = log
        .lines()
        .find(|l| l.contains("hostile writes to stderr"))
        .expect("the stderr line");
    assert!(
        line.contains("WARN")
            && line.contains("plugin=\"hostile\"")
            && line.contains("stream=\"stderr\""),
        "{line}"
    );
    // The fake JSON-RPC answer the plugin printed on stdout is in the log, at info.
    let log = log_containing(&s.f, "\"id\":999").await;
    assert!(
        log.lines().any(|l| l.contains("\"id\":999")
            && l.contains("INFO")
            && l.contains("stream=\"stdout\"")),
        "{log}"
    );
    still_serving(&c).await;

    // A panic: the client's error quotes it; the log has it too.
    let e = tool_error(&c, "hostile_panic", json!({})).await;
    assert!(
        e.contains("crashed")
            && e.contains("its stderr ended with")
            && e.contains("hostile panics on purpose"),
        "{e}"
    );
    log_containing(&s.f, "hostile panics on purpose").await;
    still_serving(&c).await;

    // A flood is cut to the plugin's budget and the rest counted.
    ok(&c, "hostile_flood", json!({"lines": 5000})).await;
    let log = log_containing(&s.f, "lines were not logged").await;
    let logged = log.lines().filter(|l| l.contains("flood line")).count();
    assert!((150..400).contains(&logged), "{logged} flood lines logged");
    still_serving(&c).await;
    c.cancel().await.ok();
}

/// pier's log once it contains `needle` (it is written as pier goes; give it a few seconds).
async fn log_containing(f: &Fixture, needle: &str) -> String {
    for _ in 0..100 {
        let log = f.stderr();
        if log.contains(needle) {
            return log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("pier's log never showed {needle:?}:\n{}", f.stderr());
}

#[tokio::test]
async fn runaway_code_is_stopped_by_limits() {
    let s = setup();
    let c = connect(&s).await;
    let m = "hostile.toml";

    let e = tool_error(&c, "hostile_spin", json!({})).await;
    teaches(&e, "[limits].timeout", m);
    still_serving(&c).await;

    let e = tool_error(&c, "hostile_alloc", json!({"mb": 64})).await;
    teaches(&e, "[limits].memory", m);
    still_serving(&c).await;

    let e = tool_error(&c, "hostile_big", json!({"bytes": 1024 * 1024})).await;
    teaches(&e, "[limits].result_size", m);
    assert!(e.len() < 4096, "the oversized result must not be passed on");
    ok(&c, "hostile_big", json!({"bytes": 1000})).await;
    still_serving(&c).await;

    let e = tool_error(&c, "hostile_panic", json!({})).await;
    assert!(e.contains("crashed") && e.contains("replaced"), "{e}");
    still_serving(&c).await;

    // And the hostile plugin itself recovers: a fresh instance serves the next call.
    ok(&c, "hostile_big", json!({"bytes": 10})).await;
    c.cancel().await.ok();
}

#[tokio::test]
async fn a_full_queue_fails_fast_with_a_clear_error() {
    let f = Fixture::new();
    f.install(
        "probe",
        "probe",
        Some("[limits]\ninstances = 1\nqueue = 1\ntimeout = \"5s\"\n"),
    );
    let c = f.connect().await;
    // Wait for the plugin to finish loading so the calls below start in the order written.
    c.list_all_tools().await.expect("tools/list");
    // One call runs, one waits, the third is refused at once.
    let (a, b, third) = tokio::join!(
        call(&c, "probe_sleep", json!({"ms": 600})),
        call(&c, "probe_sleep", json!({"ms": 600})),
        async {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            call(&c, "probe_echo", json!({})).await
        }
    );
    assert_ne!(a.expect("first answered").is_error, Some(true));
    assert_ne!(b.expect("queued answered").is_error, Some(true));
    let third = third.expect("third answered");
    assert_eq!(third.is_error, Some(true));
    let t = text(&third);
    assert!(
        t.contains("busy") && t.contains("[limits].queue") && t.contains("probe.toml"),
        "{t}"
    );
    ok(&c, "probe_echo", json!({})).await;
    c.cancel().await.ok();
}

fn pier(args: &[&str]) -> std::process::Output {
    std::process::Command::new(pier_e2e::pier_bin())
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("run pier")
}

#[test]
fn inspect_shows_wants_and_grant_edits_the_manifest_in_place() {
    let f = Fixture::new();
    let manifest =
        "# hostile, reviewed\n[grants]\nnetwork = [\"tcp://localhost:1\"] # the echo box\n";
    f.install("hostile", "hostile", Some(manifest));
    let wasm = f.plugins().join("hostile.wasm");
    let wasm = wasm.to_str().expect("utf-8 path");
    let cache = f.cache();
    let cache = cache.to_str().expect("utf-8 path");

    let out = pier(&["inspect", wasm, "--json", "--cache-dir", cache]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // Compiled once, into the cache `pier serve` would use.
    assert_eq!(report["cache_hit"], json!(false), "{report}");
    assert_eq!(report["cache_dir"], json!(cache), "{report}");
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        tools.contains(&"connect") && tools.contains(&"http_get"),
        "{tools:?}"
    );
    let cap = |kind: &str| {
        report["capabilities"]
            .as_array()
            .and_then(|caps| caps.iter().find(|c| c["kind"] == kind))
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} capability in {report}"))
    };
    assert_eq!(cap("sockets")["granted"], json!(["tcp://localhost:1"]));
    assert_eq!(cap("http")["granted"], json!([]));
    assert_eq!(report["runtime"], json!(null), "{report}");
    assert_eq!(cap("http")["from_runtime"], json!(false));
    assert!(
        cap("http")["note"]
            .as_str()
            .is_some_and(|n| n.contains("[grants].http")),
        "{}",
        cap("http")
    );

    // The human report says the same in words, and the second inspect compiles nothing.
    let out = pier(&["inspect", wasm, "--cache-dir", cache]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("wants HTTP but has no origin grant")
            // A Rust component embeds no language runtime: its imports are its code's own.
            && !text.contains("runtime:")
            && !text.contains("(runtime)")
            && text.contains(&format!("compiled:  from the cache in {cache}"))
            && text.contains("goes to pier's log"),
        "{text}"
    );

    // Prompts and resource templates are listed too.
    f.install("probe", "probe", None);
    let probe = f.plugins().join("probe.wasm");
    let out = pier(&["inspect", probe.to_str().expect("utf-8 path"), "--no-cache"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("prompts (1):")
            && text.contains("resource templates (1):")
            && text.contains("probe://echo/{text}")
            && text.contains("compiled:  now (no cache)"),
        "{text}"
    );

    // `pier grant` adds the missing grant and keeps the comments.
    let dir = f.plugins();
    let dir = dir.to_str().expect("utf-8 path");
    let out = pier(&[
        "grant",
        "hostile",
        "http",
        "https://api.github.com",
        "--plugins",
        dir,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = pier(&[
        "grant",
        "hostile",
        "http",
        "https://api.github.com",
        "--plugins",
        dir,
    ]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already"));
    let edited = std::fs::read_to_string(f.plugins().join("hostile.toml")).expect("read");
    assert!(edited.starts_with("# hostile, reviewed\n"), "{edited}");
    assert!(edited.contains("# the echo box"), "{edited}");
    assert!(
        edited.contains("http = [\"https://api.github.com\"]"),
        "{edited}"
    );
    let out = pier(&["inspect", wasm, "--json", "--cache-dir", cache]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let http = report["capabilities"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["kind"] == "http"))
        .cloned()
        .expect("http capability");
    assert_eq!(http["granted"], json!(["https://api.github.com"]));

    // A bad value is refused with the reason, and the file is left alone.
    let out = pier(&["grant", "hostile", "network", "db:5432", "--plugins", dir]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a scheme"));
    assert_eq!(
        std::fs::read_to_string(f.plugins().join("hostile.toml")).expect("read"),
        edited
    );
    let out = pier(&["inspect", "/etc/hostname", "--cache-dir", cache]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid WebAssembly component"));
}

#[tokio::test]
async fn a_call_stuck_in_a_blocking_open_holds_only_itself() {
    let s = setup();
    let fifo = s.ro.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let c = connect(&s).await;
    c.list_all_tools().await.expect("tools/list");
    let path = fifo.display().to_string();
    // hostile opens the FIFO with no check of its own: open(2) blocks until a writer comes.
    // Two such calls at once (as many as tokio has workers on two cores) must neither stall
    // pier nor outlive hostile's 1 s time limit.
    let order = std::sync::Mutex::new(Vec::new());
    let stuck = || async {
        let r = call(&c, "hostile_read_file", json!({"path": path})).await;
        order.lock().expect("order").push("stuck");
        r
    };
    let others = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        for _ in 0..3 {
            still_serving(&c).await;
        }
        c.list_all_tools().await.expect("tools/list");
        order.lock().expect("order").push("others");
    };
    let all = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        tokio::join!(stuck(), stuck(), others)
    })
    .await
    .expect("pier froze on a FIFO");
    let (a, b, ()) = all;
    for r in [a, b] {
        let r = r.expect("answered");
        assert_eq!(r.is_error, Some(true));
        teaches(&text(&r), "[limits].timeout", "hostile.toml");
    }
    assert_eq!(
        order.lock().expect("order").first().copied(),
        Some("others"),
        "other calls must be served while two calls are stuck"
    );
    // hostile itself still serves from its free instance slots.
    ok(&c, "hostile_big", json!({"bytes": 10})).await;
    // Let the stuck threads go: one writer releases every waiting reader (a detached thread,
    // so that a test run without waiting readers cannot hang on it).
    let f = fifo.clone();
    std::thread::spawn(move || std::fs::OpenOptions::new().write(true).open(f));
    c.cancel().await.ok();
}
