//! The host itself through the real binary: bad input of every kind, limits and crash recovery,
//! config and env grants, tool filters, resources and prompts, and the compile cache.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use pier_e2e::{
    Answers, Fixture, call, files_manifest, ok, structured, text, tool_error, tool_names,
};
use serde_json::{Value, json};

const PROBE: &str = "[limits]\nmemory = \"32MiB\"\ntimeout = \"700ms\"\ninstances = 2\n\n[grants]\nenv = [\"PIER_TEST_GRANTED\"]\n\n[config]\ngreeting = \"hi\"\nretries = 3\n\n[tools]\ndeny = [\"sleep\"]\n";

#[tokio::test]
async fn bad_plugins_are_reported_and_the_rest_serve() {
    let f = Fixture::new();
    let docs = f.dir("docs");
    f.install(
        "filesystem",
        "filesystem",
        Some(&files_manifest(&[(&docs, "ro")])),
    );
    std::fs::write(f.plugins().join("corrupt.wasm"), b"\0asm but not really").expect("write");
    f.install(
        "probe",
        "badkey",
        Some("[grants]\nsockets = [\"tcp://x:1\"]\n"),
    );
    f.install(
        "probe",
        "pinned",
        Some(&format!("[plugin]\nsha256 = \"{}\"\n", "0".repeat(64))),
    );
    f.install(
        "probe",
        "zz-dupe",
        Some("[plugin]\nname = \"filesystem\"\n"),
    );

    let report = f.plugins_report();
    let status = |name: &str| -> (String, String) {
        let r = report
            .as_array()
            .and_then(|a| {
                a.iter().find(|r| {
                    r["file"]
                        .as_str()
                        .is_some_and(|p| p.ends_with(&format!("/{name}.wasm")))
                })
            })
            .cloned()
            .unwrap_or(Value::Null);
        (
            r["status"].as_str().unwrap_or("").to_string(),
            r["reason"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(status("filesystem").0, "loaded");
    let (s, why) = status("corrupt");
    assert!(
        s == "failed" && why.contains("not a valid WebAssembly component"),
        "{why}"
    );
    let (s, why) = status("badkey");
    assert!(
        s == "failed"
            && why.contains("badkey.toml")
            && why.contains("unknown key `sockets`")
            && why.contains("files"),
        "{why}"
    );
    let (s, why) = status("pinned");
    assert!(
        s == "failed" && why.contains("sha256 mismatch") && why.contains("pinned.toml"),
        "{why}"
    );
    let (s, why) = status("zz-dupe");
    assert!(
        s == "failed" && why.contains("already taken") && why.contains("filesystem.wasm"),
        "{why}"
    );

    let c = f.connect().await;
    let tools = c.list_all_tools().await.expect("tools/list");
    assert!(
        tools
            .iter()
            .any(|t| t.name == "filesystem_list_allowed_directories")
    );
    assert!(
        tools.iter().all(|t| t.name.starts_with("filesystem_")),
        "only the good plugin serves"
    );
    ok(&c, "filesystem_list_allowed_directories", json!({})).await;
    c.cancel().await.ok();
}

#[test]
fn a_tool_name_collision_fails_the_later_plugin_and_names_both() {
    let f = Fixture::new();
    // Plugin `a` with tool `b_echo` and plugin `a_b` with tool `echo` both expose `a_b_echo`.
    f.install("probe", "a", Some("[config]\nextra_tool = \"b_echo\"\n"));
    f.install("probe", "a_b", None);
    let report = f.plugins_report();
    assert_eq!(report[0]["name"], json!("a"));
    assert_eq!(report[0]["status"], json!("loaded"));
    assert!(
        report[0]["tools"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("a_b_echo")))
    );
    assert_eq!(report[1]["status"], json!("failed"), "{report}");
    let why = report[1]["reason"].as_str().unwrap_or_default();
    assert!(
        why.contains("`a_b_echo`") && why.contains("plugin `a`"),
        "{why}"
    );
}

#[tokio::test]
async fn unknown_tools_and_wrong_argument_types_get_clear_errors() {
    let f = Fixture::new();
    let docs = f.dir("docs");
    f.install(
        "filesystem",
        "filesystem",
        Some(&files_manifest(&[(&docs, "ro")])),
    );
    f.install("probe", "probe", Some(PROBE));
    let c = f.connect().await;
    let e = call(&c, "nope_nothing", json!({}))
        .await
        .expect_err("unknown tool is a protocol error");
    assert!(e.to_string().contains("unknown tool `nope_nothing`"), "{e}");
    let denied = call(&c, "probe_sleep", json!({"ms": 1}))
        .await
        .expect_err("denied tool");
    assert!(
        denied.to_string().contains("[tools]") && denied.to_string().contains("probe.toml"),
        "{denied}"
    );
    let tools = c.list_all_tools().await.expect("tools/list");
    assert!(
        !tools.iter().any(|t| t.name == "probe_sleep"),
        "denied tools are not listed"
    );
    let wrong = tool_error(&c, "filesystem_read_text_file", json!({"path": 42})).await;
    assert!(
        wrong.contains("invalid arguments") && wrong.contains("expected a string"),
        "{wrong}"
    );
    let extra = tool_error(
        &c,
        "filesystem_list_directory",
        json!({"path": "/", "bogus": true}),
    )
    .await;
    assert!(extra.contains("unknown field `bogus`"), "{extra}");
    ok(&c, "filesystem_list_allowed_directories", json!({})).await;
    c.cancel().await.ok();
}

#[test]
fn malformed_json_rpc_lines_are_answered_and_the_session_goes_on() {
    let f = Fixture::new();
    let docs = f.dir("docs");
    f.install(
        "filesystem",
        "filesystem",
        Some(&files_manifest(&[(&docs, "ro")])),
    );
    let mut child = f.spawn_raw(&[]);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Responses only: notifications (list_changed when a plugin finishes loading) are skipped.
    let mut next = || -> Value {
        loop {
            let line = lines.next().expect("a line").expect("read line");
            let v: Value = serde_json::from_str(&line).expect("pier writes JSON");
            if v.get("method").is_none() {
                return v;
            }
        }
    };
    let mut send = |s: &str| {
        stdin.write_all(s.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write");
        stdin.flush().expect("flush");
    };
    send("this is not json");
    assert_eq!(next()["error"]["code"], json!(-32700));
    send(r#"{"hello": "world"}"#);
    assert_eq!(next()["error"]["code"], json!(-32600));
    send(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#,
    );
    assert_eq!(next()["id"], json!(1));
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    send("{\"jsonrpc\": \"2.0\", \"id\": 2, \"method\": ");
    assert_eq!(next()["error"]["code"], json!(-32700));
    send(r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#);
    let listed = next();
    assert_eq!(listed["id"], json!(3));
    assert!(
        listed["result"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    drop(stdin);
    let status = child.wait().expect("wait");
    assert!(
        status.success(),
        "pier exits cleanly when stdin closes: {status}"
    );
}

#[tokio::test]
async fn limits_stop_runaway_calls_and_instances_are_replaced() {
    let f = Fixture::new();
    f.install("probe", "probe", Some(PROBE));
    let c = f.connect().await;

    // Kept instance: the call count grows.
    assert_eq!(text(&ok(&c, "probe_count", json!({})).await), "1");
    assert_eq!(text(&ok(&c, "probe_count", json!({})).await), "2");

    let spin = tool_error(&c, "probe_spin", json!({})).await;
    assert!(
        spin.contains("time limit of 700ms")
            && spin.contains("[limits].timeout")
            && spin.contains("probe.toml"),
        "{spin}"
    );

    let mem = tool_error(&c, "probe_alloc", json!({"mb": 64})).await;
    assert!(
        mem.contains("memory") && mem.contains("32 MiB") && mem.contains("[limits].memory"),
        "{mem}"
    );
    assert!(text(&ok(&c, "probe_alloc", json!({"mb": 4})).await).contains("allocated"));

    let trap = tool_error(&c, "probe_panic", json!({})).await;
    assert!(
        trap.contains("crashed") && trap.contains("replaced"),
        "{trap}"
    );
    // The trapped instance was discarded: a fresh one counts from 1.
    assert_eq!(text(&ok(&c, "probe_count", json!({})).await), "1");

    // A spinning call does not block another call to the same plugin (two instances).
    let spinning = call(&c, "probe_spin", json!({}));
    let echo = call(&c, "probe_echo", json!({"x": 1}));
    let (spun, echoed) = tokio::join!(spinning, echo);
    assert_eq!(spun.expect("spin answered").is_error, Some(true));
    assert_ne!(echoed.expect("echo answered").is_error, Some(true));
    c.cancel().await.ok();
}

#[tokio::test]
async fn plugins_see_their_config_env_grants_and_call_context() {
    let f = Fixture::new();
    f.install("probe", "probe", Some(PROBE));
    let transport = rmcp::transport::TokioChildProcess::builder({
        let mut cmd = f.serve_command();
        cmd.arg("--identity")
            .arg("alice")
            .env("PIER_TEST_GRANTED", "granted-value")
            .env("PIER_TEST_SECRET", "hidden");
        cmd
    })
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn")
    .0;
    use rmcp::ServiceExt;
    let c = ().serve(transport).await.expect("initialize");
    let echo = ok(&c, "probe_echo", json!({"k": [1, 2]})).await;
    let s = structured(&echo);
    assert_eq!(s["args"], json!({"k": [1, 2]}));
    assert_eq!(s["identity"], json!("alice"));
    assert_eq!(s["plugin"], json!("probe"));
    assert!(s["manifest"].as_str().unwrap_or("").ends_with("probe.toml"));
    assert!(
        s["config"].as_array().is_some_and(
            |c| c.contains(&json!(["greeting", "hi"])) && c.contains(&json!(["retries", "3"]))
        ),
        "{s}"
    );
    assert_eq!(
        text(&ok(&c, "probe_env", json!({"name": "PIER_TEST_GRANTED"})).await),
        "granted-value"
    );
    let hidden = tool_error(&c, "probe_env", json!({"name": "PIER_TEST_SECRET"})).await;
    assert!(hidden.contains("not set"), "{hidden}");
    tool_error(&c, "probe_env", json!({"name": "HOME"})).await;
    c.cancel().await.ok();
}

#[tokio::test]
async fn resources_and_prompts_are_routed_to_their_plugin() {
    let f = Fixture::new();
    f.install("probe", "probe", Some(PROBE));
    let c = f.connect().await;
    let resources = c.list_resources(None).await.expect("resources/list");
    assert!(resources.resources.iter().any(|r| r.uri == "probe://hello"));
    let templates = c.list_resource_templates(None).await.expect("templates");
    assert!(
        templates
            .resource_templates
            .iter()
            .any(|t| t.uri_template == "probe://echo/{text}")
    );
    let read = c
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "probe://echo/abc",
        ))
        .await
        .expect("read");
    let body = serde_json::to_value(&read.contents[0]).expect("json");
    assert_eq!(body["text"], json!("abc"));
    let missing = c
        .read_resource(rmcp::model::ReadResourceRequestParams::new("nowhere://x"))
        .await;
    assert!(missing.is_err());
    let prompts = c.list_prompts(None).await.expect("prompts/list");
    assert!(prompts.prompts.iter().any(|p| p.name == "probe_greet"));
    let mut args = serde_json::Map::new();
    args.insert("name".into(), json!("Ada"));
    let got = c
        .get_prompt(rmcp::model::GetPromptRequestParams::new("probe_greet").with_arguments(args))
        .await
        .expect("get");
    let msg = serde_json::to_value(&got.messages[0]).expect("json");
    assert_eq!(msg["content"]["text"], json!("Say hello to Ada."));
    c.cancel().await.ok();
}

/// A plugin built with the SDK exports only what it implements (hostile: tools), so listing
/// resources never takes one of its instances: here its only instance is busy spinning, and
/// the listing neither waits for it nor is refused by it.
#[tokio::test]
async fn resources_list_leaves_plugins_without_resources_alone() {
    let f = Fixture::new();
    f.install("probe", "probe", Some(PROBE));
    let busy = "[limits]\ninstances = 1\nqueue = 0\ntimeout = \"60s\"\n";
    f.install("hostile", "hostile", Some(busy));
    let c = f.connect_with(&[], &[]).await;
    // Loaded (a cold compile can take seconds), with its one instance idle.
    ok(&c, "hostile_env_all", json!({})).await;
    let start_spin = || {
        let spinner = c.peer().clone();
        tokio::spawn(async move {
            let params = rmcp::model::CallToolRequestParams::new("hostile_spin");
            spinner.call_tool(params).await
        })
    };
    let mut spin = start_spin();
    // Until the spin has the instance, a second call would not be refused as busy. A spin that
    // arrived while a probe call had the instance was itself refused: start another.
    let mut refused = String::new();
    for _ in 0..300 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if spin.is_finished() {
            spin = start_spin();
            continue;
        }
        let r = call(&c, "hostile_env_all", json!({})).await.expect("call");
        refused = text(&r);
        if refused.contains("is busy") {
            break;
        }
    }
    assert!(refused.contains("hostile is busy"), "{refused}");

    let busy_before = f.stderr().matches("hostile is busy").count();
    let resources = c.list_resources(None).await.expect("resources/list");
    assert!(resources.resources.iter().any(|r| r.uri == "probe://hello"));
    let prompts = c.list_prompts(None).await.expect("prompts/list");
    assert!(prompts.prompts.iter().any(|p| p.name == "probe_greet"));
    let log = f.stderr();
    assert!(
        !log.contains("list-resources") && log.matches("hostile is busy").count() == busy_before,
        "resources/list reached hostile:\n{log}"
    );
    spin.abort();
    c.cancel().await.ok();
}

/// `[plugin].prefix` replaces the tool prefix; `""` exposes the plugin's own names, so prompts
/// and allow-lists written for the server a plugin replaces keep working.
#[tokio::test]
async fn a_manifest_chooses_the_tool_prefix_or_none() {
    let f = Fixture::new();
    f.install("probe", "probe", Some("[plugin]\nprefix = \"\"\n"));
    f.install(
        "probe",
        "other",
        Some("[plugin]\nname = \"other\"\nprefix = \"p2\"\n"),
    );
    let c = f.connect().await;
    let tools = c.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(
        names.contains(&"echo") && names.contains(&"p2_echo"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("probe_")), "{names:?}");
    let r = ok(&c, "echo", json!({"x": 1})).await;
    assert_eq!(structured(&r)["plugin"], json!("probe"));
    let r = ok(&c, "p2_echo", json!({})).await;
    assert_eq!(structured(&r)["plugin"], json!("other"));
    c.cancel().await.ok();
}

#[test]
fn second_start_uses_the_compile_cache() {
    let f = Fixture::new();
    f.install("probe", "probe", None);
    let first = f.plugins_report();
    assert_eq!(first[0]["cache"], json!("compiled"), "{first}");
    assert_eq!(first[0]["grants"], json!([]), "no manifest means no grants");
    let second = f.plugins_report();
    assert_eq!(second[0]["cache"], json!("hit"), "{second}");
    // A pin that matches loads.
    let digest = second[0]["sha256"].as_str().unwrap_or_default().to_string();
    std::fs::write(
        f.plugins().join("probe.toml"),
        format!("[plugin]\nsha256 = \"{digest}\"\n"),
    )
    .expect("write");
    assert_eq!(f.plugins_report()[0]["status"], json!("loaded"));
}

#[tokio::test]
async fn completions_are_routed_to_the_plugin_that_owns_the_prompt_or_template() {
    use rmcp::model::{ArgumentInfo, CompleteRequestParams, Reference};
    let f = Fixture::new();
    f.install("probe", "probe", None);
    let client = f.connect().await;
    let complete = |r: Reference, arg: &str, value: &str| {
        client.complete(CompleteRequestParams::new(r, ArgumentInfo::new(arg, value)))
    };
    let names = complete(Reference::for_prompt("probe_greet"), "name", "al")
        .await
        .expect("complete a prompt argument");
    assert_eq!(names.completion.values, vec!["alice", "albert"]);
    assert_eq!(names.completion.total, Some(2));
    let texts = complete(
        Reference::for_resource("probe://echo/{text}"),
        "text",
        "hel",
    )
    .await
    .expect("complete a template variable");
    assert_eq!(texts.completion.values, vec!["hello", "help"]);
    // Unknown prompts and templates are refused with what to list; a plugin's own refusal
    // (an argument it cannot complete) arrives as invalid params.
    let e = complete(Reference::for_prompt("probe_nope"), "name", "")
        .await
        .expect_err("unknown prompt")
        .to_string();
    assert!(
        e.contains("unknown prompt") && e.contains("prompts/list"),
        "{e}"
    );
    let e = complete(Reference::for_resource("nope://{x}"), "x", "")
        .await
        .expect_err("unknown template")
        .to_string();
    assert!(e.contains("resources/templates/list"), "{e}");
    let e = complete(Reference::for_prompt("probe_greet"), "mood", "")
        .await
        .expect_err("argument the plugin cannot complete")
        .to_string();
    assert!(e.contains("nothing to complete for `mood`"), "{e}");
    // The capability is announced.
    let info = client.peer_info().expect("server info");
    assert!(info.capabilities.completions.is_some());
}

/// `pier serve` on raw pipes, with the probe plugin.
fn raw_pier(f: &Fixture) -> std::process::Child {
    f.install("probe", "probe", None);
    f.spawn_raw(&[])
}

/// Peak resident memory of a process, from /proc, in MiB.
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .expect("VmHWM")
}

/// How long a raw test waits for one answer.
const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

const INIT_LINE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
"#;

#[test]
fn an_endless_line_is_refused_while_it_is_read() {
    let f = Fixture::new();
    let mut child = raw_pier(&f);
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let answers = Answers::read(child.stdout.take().expect("stdout"));
    stdin.write_all(INIT_LINE.as_bytes()).expect("write");
    // 200 MiB without a newline, then the newline and a good request.
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..200 {
        stdin.write_all(&chunk).expect("write the long line");
    }
    stdin
        .write_all(b"\n{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}\n")
        .expect("write");
    stdin.flush().expect("flush");
    let answers: Vec<Value> = (0..3).map(|_| answers.next(WAIT)).collect();
    assert_eq!(answers[0]["id"], 0);
    assert_eq!(answers[1]["error"]["code"], -32600);
    assert!(
        answers[1]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too large")),
        "{}",
        answers[1]
    );
    assert_eq!(answers[2]["id"], 9);
    // The line was never held whole: pier's peak stays far below its 200 MiB.
    let peak = peak_mib(pid);
    assert!(
        peak < 150,
        "pier peaked at {peak} MiB reading a 200 MiB line"
    );
    drop(stdin);
    assert!(child.wait().expect("wait").success());
}

#[test]
fn unread_answers_are_bounded_and_pier_exits_when_stdin_closes() {
    // 10,000 calls whose answers are never read: pier stops reading stdin instead of queueing.
    let f = Fixture::new();
    let mut child = raw_pier(&f);
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let _stdout = child.stdout.take().expect("stdout");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(INIT_LINE.as_bytes());
        let pad = "p".repeat(200);
        for i in 1..=10_000 {
            let line = format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"tools/call\",\"params\":{{\"name\":\"probe_echo\",\"arguments\":{{\"pad\":\"{pad}\"}}}}}}\n"
            );
            if stdin.write_all(line.as_bytes()).is_err() {
                return i;
            }
        }
        10_001
    });
    std::thread::sleep(std::time::Duration::from_secs(4));
    let peak = peak_mib(pid);
    let kept_reading = writer.is_finished();
    let _ = child.kill();
    let _ = child.wait();
    let _ = writer.join();
    assert!(
        !kept_reading,
        "pier kept reading stdin with nobody reading its answers"
    );
    assert!(peak < 150, "pier peaked at {peak} MiB with answers unread");

    // A few hundred answers (more than the stdout pipe holds), stdin closed, stdout never
    // read: pier still exits.
    let f = Fixture::new();
    let mut child = raw_pier(&f);
    let mut stdin = child.stdin.take().expect("stdin");
    let _stdout = child.stdout.take().expect("stdout");
    stdin.write_all(INIT_LINE.as_bytes()).expect("write");
    let pad = "p".repeat(200);
    for i in 1..=400 {
        let line = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"tools/call\",\"params\":{{\"name\":\"probe_echo\",\"arguments\":{{\"pad\":\"{pad}\"}}}}}}\n"
        );
        stdin.write_all(line.as_bytes()).expect("write");
    }
    drop(stdin);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let exited = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    if exited.is_none() {
        let _ = child.kill();
    }
    assert!(exited.is_some(), "pier did not exit after stdin closed");
}

#[test]
fn a_reused_id_in_flight_and_ill_typed_params_get_clear_errors() {
    let f = Fixture::new();
    let mut child = raw_pier(&f);
    let mut stdin = child.stdin.take().expect("stdin");
    let answers = Answers::read(child.stdout.take().expect("stdout"));
    stdin.write_all(INIT_LINE.as_bytes()).expect("write");
    stdin
        .write_all(
            concat!(
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"probe_sleep","arguments":{"ms":500}}}"#,
                "\n",
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"probe_echo","arguments":{}}}"#,
                "\n",
                r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":5}}"#,
                "\n",
            )
            .as_bytes(),
        )
        .expect("write");
    stdin.flush().expect("flush");
    let answers: Vec<Value> = (0..4).map(|_| answers.next(WAIT)).collect();
    let sevens: Vec<&Value> = answers.iter().filter(|a| a["id"] == 7).collect();
    assert_eq!(sevens.len(), 2, "{answers:?}");
    assert!(
        sevens.iter().any(|a| a["error"]["code"] == -32600
            && a["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("already used"))),
        "{answers:?}"
    );
    assert!(
        sevens
            .iter()
            .any(|a| a["result"]["isError"] != true && a.get("result").is_some()),
        "the first request is answered: {answers:?}"
    );
    let eight = answers.iter().find(|a| a["id"] == 8).expect("id 8");
    assert_eq!(eight["error"]["code"], -32602, "{eight}");
    drop(stdin);
    assert!(child.wait().expect("wait").success());
}

#[test]
fn a_manifest_that_is_not_a_regular_file_fails_its_plugin() {
    let f = Fixture::new();
    f.install("probe", "dangling", None);
    f.install("probe", "escaping", None);
    f.install("probe", "fine", None);
    let plugins = f.plugins();
    std::os::unix::fs::symlink("nowhere.toml", plugins.join("dangling.toml")).expect("symlink");
    std::fs::write(f.path().join("outside.toml"), "[grants]\n").expect("write");
    std::os::unix::fs::symlink("../outside.toml", plugins.join("escaping.toml")).expect("symlink");
    // A FIFO named *.wasm is skipped (with a warning) instead of blocking the scan.
    let fifo = std::process::Command::new("mkfifo")
        .arg(plugins.join("pipe.wasm"))
        .status()
        .expect("mkfifo");
    assert!(fifo.success());
    let report = f.plugins_report();
    let status = |name: &str| -> (String, String) {
        let p = report
            .as_array()
            .and_then(|a| a.iter().find(|p| p["name"] == name))
            .unwrap_or_else(|| panic!("{name} missing from {report}"));
        (
            p["status"].as_str().unwrap_or_default().to_string(),
            p.to_string(),
        )
    };
    let (s, whole) = status("dangling");
    assert!(s == "failed" && whole.contains("leads nowhere"), "{whole}");
    let (s, whole) = status("escaping");
    assert!(
        s == "failed" && whole.contains("outside the plugin folder"),
        "{whole}"
    );
    assert_eq!(status("fine").0, "loaded");
    assert!(
        report
            .as_array()
            .is_some_and(|a| !a.iter().any(|p| p["name"] == "pipe")),
        "{report}"
    );
}

#[test]
fn answers_to_slow_calls_still_come_after_stdin_closes() {
    // A script pipes its requests in and closes stdin at once; a call longer than the exit
    // grace is still answered, because its answer is written as soon as it exists.
    let f = Fixture::new();
    let mut child = raw_pier(&f);
    let mut stdin = child.stdin.take().expect("stdin");
    let answers = Answers::read(child.stdout.take().expect("stdout"));
    stdin.write_all(INIT_LINE.as_bytes()).expect("write");
    stdin
        .write_all(
            concat!(
                r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"probe_sleep","arguments":{"ms":3500}}}"#,
                "\n"
            )
            .as_bytes(),
        )
        .expect("write");
    drop(stdin);
    let first = answers.next(WAIT);
    assert_eq!(first["id"], 0);
    let slow = answers.next(WAIT);
    assert_eq!(slow["id"], 2, "{slow}");
    assert!(slow.get("result").is_some(), "{slow}");
    assert!(child.wait().expect("wait").success());
}

#[tokio::test]
async fn the_read_only_switch_hides_and_refuses_every_write_tool() {
    let f = Fixture::new();
    let files = f.dir("files");
    f.install(
        "filesystem",
        "filesystem",
        Some(&files_manifest(&[(&files, "rw")])),
    );
    f.install("probe", "probe", None);
    let config = f.path().join("pier.toml");
    std::fs::write(&config, "read_only = true\n").expect("pier.toml");
    let config = config.display().to_string();
    for args in [vec!["--read-only"], vec!["--config", config.as_str()]] {
        let c = f.connect_with(&args, &[]).await;
        let listed = tool_names(&c).await;
        assert!(
            listed.contains(&"filesystem_read_text_file".to_string())
                && listed.contains(&"probe_echo".to_string()),
            "{args:?}: {listed:?}"
        );
        for write in [
            "filesystem_write_file",
            "filesystem_edit_file",
            "filesystem_move_file",
        ] {
            assert!(!listed.contains(&write.to_string()), "{args:?}: {listed:?}");
        }
        let msg = call(
            &c,
            "filesystem_write_file",
            json!({"path": files.join("x.txt").display().to_string(), "content": "x"}),
        )
        .await
        .expect_err("a write while read-only")
        .to_string();
        assert!(
            msg.contains("not annotated read-only") && msg.contains("--read-only"),
            "{msg}"
        );
        assert!(!files.join("x.txt").exists());
        ok(&c, "probe_echo", json!({})).await;
        c.cancel().await.expect("close");
    }
}

/// Connects under `config`, where the policy lets only the probe plugin load.
async fn only_probe_serves(f: &Fixture, config: &str) {
    let c = f.connect_with(&["--config", config], &[]).await;
    let listed = tool_names(&c).await;
    assert!(
        !listed.is_empty() && listed.iter().all(|t| t.starts_with("probe_")),
        "only the probe plugin serves: {listed:?}"
    );
    ok(&c, "probe_echo", json!({})).await;
    let refused = call(&c, "filesystem_list_allowed_directories", json!({}))
        .await
        .expect_err("not loaded");
    assert!(refused.to_string().contains("filesystem"), "{refused}");
    c.cancel().await.expect("close");
}

/// A plugin's entry in `pier plugins --json`.
fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{name} missing from {report}"))
}

fn status_of(report: &Value, name: &str) -> String {
    entry(report, name)["status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn reason_of(report: &Value, name: &str) -> String {
    entry(report, name)["reason"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// `sha256sum` of a file, as an administrator would take it.
fn sha256_of(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_plugin_policy_decides_what_loads_and_says_why() {
    let f = Fixture::new();
    f.install("probe", "probe", None);
    f.install("filesystem", "filesystem", None);
    f.install("hostile", "hostile", None);
    f.install("probe", "unlisted", None);
    let probe = sha256_of(&f.plugins().join("probe.wasm"));
    let config = f.path().join("pier.toml");
    std::fs::write(
        &config,
        format!(
            r#"[policy]
require_approval = true
blocked = ["host*"]

[[policy.allowed]]
name = "probe"
sha256 = "{probe}"

[[policy.allowed]]
name = "filesystem"
sha256 = "{}"

[[policy.allowed]]
name = "hostile"
"#,
            "0".repeat(64)
        ),
    )
    .expect("pier.toml");
    let config = config.display().to_string();
    only_probe_serves(&f, &config).await;

    // `pier plugins` applies the same policy and gives each refusal its reason.
    let report = f.plugins_report_with(&["--config", &config]);
    assert_eq!(status_of(&report, "probe"), "loaded");
    let why = reason_of(&report, "filesystem");
    assert!(
        why.contains("approved") && why.contains(&"0".repeat(64)),
        "{why}"
    );
    let why = reason_of(&report, "hostile");
    assert!(
        why.contains("[policy].blocked") && why.contains("host*"),
        "{why}"
    );
    let why = reason_of(&report, "unlisted");
    assert!(
        why.contains("require_approval")
            && why.contains(&format!("name = \"unlisted\" sha256 = \"{probe}\"")),
        "{why}"
    );
}

/// Runs the pier binary with `args`: whether it succeeded, its stdout and its stderr.
fn run_pier(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let out = std::process::Command::new(pier_e2e::pier_bin())
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("run pier");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn version_ranges_read_the_signed_version_or_the_declared_one() {
    let f = Fixture::new();
    let os = |s: &str| std::ffi::OsString::from(s);
    let key = f.path().join("acme.key");
    let (made, public, _) = run_pier(&[&os("keygen"), &os("--out"), key.as_os_str()]);
    assert!(made, "keygen");
    let public = public.trim().to_string();
    f.install("probe", "probe", None);
    f.install("probe", "old", None);
    f.install("probe", "fine", Some("[plugin]\nversion = \"1.2.0\"\n"));
    f.install("probe", "declared", Some("[plugin]\nversion = \"2.0.0\"\n"));
    f.install("probe", "liar", Some("[plugin]\nversion = \"1.5.0\"\n"));
    for (name, version) in [("probe", "1.4.0"), ("old", "0.9.0"), ("liar", "0.9.0")] {
        let wasm = f.plugins().join(format!("{name}.wasm"));
        let (signed, _, why) = run_pier(&[
            &os("sign"),
            wasm.as_os_str(),
            &os("--key"),
            key.as_os_str(),
            &os("--version"),
            &os(version),
        ]);
        assert!(signed, "{why}");
    }
    let (good, said, _) = run_pier(&[&os("verify"), f.plugins().join("old.wasm").as_os_str()]);
    assert!(good && said.contains("version 0.9.0"), "{said}");
    let config = f.path().join("pier.toml");
    let mut policy = format!(
        "[policy]\nrequire_approval = true\n[[policy.publishers]]\nname = \"acme\"\nkey = \"{public}\"\n"
    );
    for name in ["probe", "old", "liar"] {
        policy.push_str(&format!(
            "[[policy.allowed]]\nname = \"{name}\"\npublisher = \"acme\"\nversion = \">=1.0.0, <2\"\n"
        ));
    }
    for name in ["fine", "declared"] {
        policy.push_str(&format!(
            "[[policy.allowed]]\nname = \"{name}\"\nversion = \"^1\"\n"
        ));
    }
    std::fs::write(&config, policy).expect("pier.toml");
    let config = config.display().to_string();
    let report = f.plugins_report_with(&["--config", &config]);
    assert_eq!(status_of(&report, "probe"), "loaded");
    assert_eq!(status_of(&report, "fine"), "loaded");
    let why = reason_of(&report, "old");
    assert!(
        why.contains("version >=1.0.0, <2") && why.contains("version 0.9.0 (signed)"),
        "{why}"
    );
    let why = reason_of(&report, "declared");
    assert!(
        why.contains("version ^1") && why.contains("version 2.0.0 (declared by its manifest)"),
        "{why}"
    );
    let why = reason_of(&report, "liar");
    assert!(
        why.contains("declares version 1.5.0") && why.contains("signed version 0.9.0"),
        "{why}"
    );
}

#[tokio::test]
async fn signed_plugins_load_and_unsigned_or_tampered_ones_are_refused() {
    let f = Fixture::new();
    let pier = run_pier;
    let os = |s: &str| std::ffi::OsString::from(s);
    let key = f.path().join("acme.key");
    let (made, public, _) = pier(&[&os("keygen"), &os("--out"), key.as_os_str()]);
    assert!(made, "keygen");
    let public = public.trim().to_string();
    assert!(public.starts_with("ed25519:"), "{public}");
    let (again, _, why) = pier(&[&os("keygen"), &os("--out"), key.as_os_str()]);
    assert!(!again && why.contains("never overwritten"), "{why}");

    f.install("probe", "probe", None);
    f.install("filesystem", "filesystem", None);
    f.install("probe", "tampered", None);
    for name in ["probe", "tampered"] {
        let wasm = f.plugins().join(format!("{name}.wasm"));
        let (signed, _, why) =
            pier(&[&os("sign"), wasm.as_os_str(), &os("--key"), key.as_os_str()]);
        assert!(signed, "{why}");
    }
    // Change the signed build afterwards: its signature no longer matches.
    std::fs::copy(
        pier_e2e::plugin_wasm("filesystem"),
        f.plugins().join("tampered.wasm"),
    )
    .expect("replace");
    let probe = f.plugins().join("probe.wasm");
    let (good, said, _) = pier(&[&os("verify"), probe.as_os_str(), &os("--key"), &os(&public)]);
    assert!(good && said.contains("good signature"), "{said}");
    let tampered = f.plugins().join("tampered.wasm");
    let (bad, _, why) = pier(&[&os("verify"), tampered.as_os_str()]);
    assert!(!bad && why.contains("does not match"), "{why}");

    let config = f.path().join("pier.toml");
    std::fs::write(
        &config,
        format!(
            "[policy]\nrequire_signature = true\n\n[[policy.publishers]]\nname = \"acme\"\nkey = \"{public}\"\n"
        ),
    )
    .expect("pier.toml");
    let config = config.display().to_string();
    only_probe_serves(&f, &config).await;
    let report = f.plugins_report_with(&["--config", &config]);
    let why = reason_of(&report, "filesystem");
    assert!(
        why.contains("not signed") && why.contains("pier sign filesystem.wasm"),
        "{why}"
    );
    let why = reason_of(&report, "tampered");
    assert!(why.contains("does not match"), "{why}");
    assert_eq!(status_of(&report, "probe"), "loaded");
}
