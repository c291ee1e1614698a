//! The filesystem plugin through the real pier binary and rmcp's client: the tool surface, every
//! tool on a happy path and a refused path, and the sandbox escapes that hurt other servers.

use pier_e2e::{Fixture, files_manifest, ok, structured, text, tool_error};
use serde_json::json;

const REFERENCE_TOOLS: [&str; 14] = [
    "read_text_file",
    "read_file",
    "read_media_file",
    "read_multiple_files",
    "write_file",
    "edit_file",
    "create_directory",
    "list_directory",
    "list_directory_with_sizes",
    "directory_tree",
    "move_file",
    "search_files",
    "get_file_info",
    "list_allowed_directories",
];

/// Names of the top-level entries of a directory_tree result.
fn top_names(r: &rmcp::model::CallToolResult) -> Vec<String> {
    structured(r)["tree"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn fixture() -> (Fixture, std::path::PathBuf, std::path::PathBuf) {
    let f = Fixture::new();
    let rw = f.dir("work");
    let ro = f.dir("docs");
    std::fs::write(ro.join("guide.md"), "# Guide\nline two\nline three\n").expect("write");
    f.install(
        "filesystem",
        "filesystem",
        Some(&files_manifest(&[(&rw, "rw"), (&ro, "ro")])),
    );
    (f, rw, ro)
}

#[tokio::test]
async fn tools_list_names_schemas_and_annotations() {
    let (f, _, _) = fixture();
    let client = f.connect().await;
    let tools = client.list_all_tools().await.expect("tools/list");
    for name in REFERENCE_TOOLS.iter().chain(["grep"].iter()) {
        let full = format!("filesystem_{name}");
        let t = tools
            .iter()
            .find(|t| t.name == full)
            .unwrap_or_else(|| panic!("{full} missing"));
        assert_eq!(
            t.input_schema.get("type"),
            Some(&json!("object")),
            "{full} input schema"
        );
        assert!(t.output_schema.is_some(), "{full} has no output schema");
        let a = t.annotations.as_ref().expect("annotations");
        assert_eq!(a.open_world_hint, Some(false), "{full} is closed-world");
    }
    let ann = |n: &str| {
        tools
            .iter()
            .find(|t| t.name == format!("filesystem_{n}"))
            .and_then(|t| t.annotations.clone())
            .expect("annotations")
    };
    assert_eq!(ann("read_text_file").read_only_hint, Some(true));
    assert_eq!(ann("write_file").read_only_hint, Some(false));
    assert_eq!(ann("write_file").destructive_hint, Some(true));
    assert_eq!(ann("create_directory").destructive_hint, Some(false));
    assert_eq!(ann("edit_file").idempotent_hint, Some(false));
    client.cancel().await.ok();
}

#[tokio::test]
async fn every_tool_works_on_a_happy_path() {
    let (f, rw, ro) = fixture();
    let c = f.connect().await;
    let p = |rel: &str| rw.join(rel).display().to_string();

    let dirs = ok(&c, "filesystem_list_allowed_directories", json!({})).await;
    let listed = structured(&dirs)["directories"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        listed.contains(&json!({"path": rw.display().to_string(), "mode": "rw"})),
        "{listed:?}"
    );
    assert!(
        listed.contains(&json!({"path": ro.display().to_string(), "mode": "ro"})),
        "{listed:?}"
    );

    // write_file, then read it back in several ways.
    let body: String = (1..=50).map(|i| format!("line {i}\n")).collect();
    let w = ok(
        &c,
        "filesystem_write_file",
        json!({"path": p("notes.txt"), "content": body}),
    )
    .await;
    assert_eq!(structured(&w)["created"], json!(true));
    let r = ok(
        &c,
        "filesystem_read_text_file",
        json!({"path": p("notes.txt")}),
    )
    .await;
    assert_eq!(structured(&r)["content"], json!(body));
    assert_eq!(structured(&r)["totalLines"], json!(50));
    let head = ok(
        &c,
        "filesystem_read_text_file",
        json!({"path": p("notes.txt"), "head": 2}),
    )
    .await;
    assert_eq!(text(&head), "line 1\nline 2\n");
    let tail = ok(
        &c,
        "filesystem_read_file",
        json!({"path": p("notes.txt"), "tail": 1}),
    )
    .await;
    assert_eq!(text(&tail), "line 50\n");
    let range = ok(
        &c,
        "filesystem_read_text_file",
        json!({"path": p("notes.txt"), "offset": 10, "limit": 2}),
    )
    .await;
    assert_eq!(structured(&range)["content"], json!("line 10\nline 11\n"));
    assert_eq!(structured(&range)["startLine"], json!(10));
    let capped = ok(
        &c,
        "filesystem_read_text_file",
        json!({"path": p("notes.txt"), "maxBytes": 20}),
    )
    .await;
    assert_eq!(structured(&capped)["truncated"], json!(true));
    assert!(text(&capped).contains("[truncated"), "{}", text(&capped));
    let window = ok(
        &c,
        "filesystem_read_text_file",
        json!({"path": p("notes.txt"), "byteOffset": 7, "maxBytes": 7}),
    )
    .await;
    assert_eq!(structured(&window)["content"], json!("line 2\n"));
    assert_eq!(structured(&window)["endByte"], json!(14));
    assert!(text(&window).contains("byteOffset=14"), "{}", text(&window));
    // Relative paths resolve against the first granted directory.
    let rel = ok(
        &c,
        "filesystem_read_text_file",
        json!({"path": "notes.txt", "head": 1}),
    )
    .await;
    assert_eq!(text(&rel), "line 1\n");

    // read_multiple_files: one failure does not fail the call.
    let m = ok(
        &c,
        "filesystem_read_multiple_files",
        json!({"paths": [p("notes.txt"), p("missing.txt")]}),
    )
    .await;
    let files = structured(&m)["files"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(files.len(), 2);
    assert!(
        files[1]["error"]
            .as_str()
            .unwrap_or("")
            .contains("not found"),
        "{files:?}"
    );

    // read_media_file returns an image block.
    let png: Vec<u8> = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
    std::fs::write(rw.join("dot.png"), &png).expect("write png");
    let media = ok(
        &c,
        "filesystem_read_media_file",
        json!({"path": p("dot.png")}),
    )
    .await;
    let img = media.content[0].as_image().expect("image block");
    assert_eq!(img.mime_type, "image/png");

    // edit_file keeps CRLF, refuses ambiguity, checks the expected hash, and dry-runs.
    std::fs::write(rw.join("crlf.txt"), "alpha\r\nbeta\r\nbeta\r\ngamma\r\n").expect("write");
    let amb = tool_error(
        &c,
        "filesystem_edit_file",
        json!({"path": p("crlf.txt"), "edits": [{"oldText": "beta", "newText": "x"}]}),
    )
    .await;
    assert!(amb.contains("matches 2 places"), "{amb}");
    let stale = tool_error(&c, "filesystem_edit_file", json!({"path": p("crlf.txt"), "expectedSha256": "00", "edits": [{"oldText": "alpha", "newText": "x"}]})).await;
    assert!(stale.contains("changed since it was read"), "{stale}");
    let dry = ok(&c, "filesystem_edit_file", json!({"path": p("crlf.txt"), "dryRun": true, "edits": [{"oldText": "alpha\n", "newText": "ALPHA\n"}]})).await;
    assert!(
        structured(&dry)["diff"]
            .as_str()
            .unwrap_or("")
            .contains("+ALPHA"),
        "{}",
        text(&dry)
    );
    assert_eq!(
        std::fs::read_to_string(rw.join("crlf.txt")).expect("read"),
        "alpha\r\nbeta\r\nbeta\r\ngamma\r\n"
    );
    let sha = ok(
        &c,
        "filesystem_read_text_file",
        json!({"path": p("crlf.txt")}),
    )
    .await;
    let sha = structured(&sha)["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ok(&c, "filesystem_edit_file", json!({"path": p("crlf.txt"), "expectedSha256": sha, "edits": [{"oldText": "gamma", "newText": "delta"}]})).await;
    assert_eq!(
        std::fs::read_to_string(rw.join("crlf.txt")).expect("read"),
        "alpha\r\nbeta\r\nbeta\r\ndelta\r\n"
    );

    // Directories and listings.
    ok(
        &c,
        "filesystem_create_directory",
        json!({"path": p("a/b/c")}),
    )
    .await;
    assert!(rw.join("a/b/c").is_dir());
    std::fs::write(rw.join("a/b/c/deep.txt"), "needle here\n").expect("write");
    std::fs::write(rw.join("a/big.txt"), "x".repeat(5000)).expect("write");
    let list = ok(&c, "filesystem_list_directory", json!({"path": p("a")})).await;
    assert_eq!(text(&list), "[DIR] b\n[FILE] big.txt");
    let sized = ok(
        &c,
        "filesystem_list_directory_with_sizes",
        json!({"path": p("a"), "sortBy": "size"}),
    )
    .await;
    let mut listed = structured(&list).clone();
    assert!(
        listed["path"].as_str().is_some_and(|p| p.ends_with("/a")),
        "{listed}"
    );
    listed.as_object_mut().map(|o| o.remove("path"));
    assert_eq!(
        listed,
        json!({"directories": ["b"], "files": ["big.txt"], "truncated": false})
    );
    assert_eq!(structured(&sized)["files"], json!(["big.txt"]));
    assert_eq!(structured(&sized)["sizes"], json!([5000]));
    assert_eq!(structured(&sized)["totalSize"], json!(5000));
    assert!(
        text(&sized).contains("Total: 1 files, 1 directories"),
        "{}",
        text(&sized)
    );

    // directory_tree honours .gitignore and maxDepth.
    std::fs::create_dir_all(rw.join("node_modules/pkg")).expect("mkdir");
    std::fs::write(rw.join(".gitignore"), "node_modules/\n").expect("write");
    let tree = ok(&c, "filesystem_directory_tree", json!({"path": p(".")})).await;
    let names = top_names(&tree);
    assert!(
        names.contains(&"a".to_string()) && !names.contains(&"node_modules".to_string()),
        "{names:?}"
    );
    let shallow = ok(
        &c,
        "filesystem_directory_tree",
        json!({"path": p("a"), "maxDepth": 1}),
    )
    .await;
    assert_eq!(structured(&shallow)["truncated"], json!(true));
    let all = ok(
        &c,
        "filesystem_directory_tree",
        json!({"path": p("."), "respectGitignore": false, "excludePatterns": ["a"]}),
    )
    .await;
    let names = top_names(&all);
    assert!(
        names.contains(&"node_modules".to_string()) && !names.contains(&"a".to_string()),
        "{names:?}"
    );

    // search_files and grep.
    let found = ok(
        &c,
        "filesystem_search_files",
        json!({"path": p("."), "pattern": "*.txt"}),
    )
    .await;
    let matches = structured(&found)["matches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(matches.contains(&json!(p("a/b/c/deep.txt"))), "{matches:?}");
    let none = ok(
        &c,
        "filesystem_search_files",
        json!({"path": p("."), "pattern": "*.nothing"}),
    )
    .await;
    assert_eq!(text(&none), "No matches found");
    let g = ok(
        &c,
        "filesystem_grep",
        json!({"path": p("."), "pattern": "NEEDLE", "caseInsensitive": true, "include": "*.txt"}),
    )
    .await;
    assert_eq!(
        structured(&g)["matches"][0]["path"],
        json!(p("a/b/c/deep.txt"))
    );
    assert_eq!(structured(&g)["matches"][0]["line"], json!(1));
    let bad = c
        .call_tool(
            rmcp::model::CallToolRequestParams::new("filesystem_grep").with_arguments(
                json!({"path": p("."), "pattern": "("})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("call");
    assert_eq!(bad.is_error, Some(true));

    // move_file never overwrites.
    ok(
        &c,
        "filesystem_move_file",
        json!({"source": p("notes.txt"), "destination": p("moved.txt")}),
    )
    .await;
    assert!(rw.join("moved.txt").exists() && !rw.join("notes.txt").exists());
    let clash = tool_error(
        &c,
        "filesystem_move_file",
        json!({"source": p("moved.txt"), "destination": p("crlf.txt")}),
    )
    .await;
    assert!(clash.contains("already exists"), "{clash}");

    // get_file_info.
    let info = ok(
        &c,
        "filesystem_get_file_info",
        json!({"path": p("moved.txt")}),
    )
    .await;
    assert_eq!(structured(&info)["type"], json!("file"));
    assert_eq!(structured(&info)["size"], json!(body.len()));
    assert_eq!(structured(&info)["writable"], json!(true));
    c.cancel().await.ok();
}

#[tokio::test]
async fn escapes_are_refused_and_the_host_keeps_serving() {
    let f = Fixture::new();
    let allowed = f.dir("x/allowed");
    let evil = f.dir("x/allowed_evil");
    let ro = f.dir("x/readonly");
    let outside = f.dir("outside");
    std::fs::write(outside.join("secret.txt"), "TOP SECRET").expect("write");
    std::fs::write(evil.join("secret.txt"), "EVIL SECRET").expect("write");
    std::fs::write(ro.join("keep.txt"), "keep").expect("write");
    std::os::unix::fs::symlink(outside.join("secret.txt"), allowed.join("link.txt"))
        .expect("symlink");
    std::os::unix::fs::symlink(&outside, allowed.join("linkdir")).expect("symlink");
    f.install(
        "filesystem",
        "filesystem",
        Some(&files_manifest(&[(&allowed, "rw"), (&ro, "ro")])),
    );
    let c = f.connect().await;
    let a = |rel: &str| allowed.join(rel).display().to_string();

    let attempts = [
        (
            "filesystem_read_text_file",
            json!({"path": a("../../outside/secret.txt")}),
        ),
        (
            "filesystem_read_text_file",
            json!({"path": outside.join("secret.txt").display().to_string()}),
        ),
        ("filesystem_read_text_file", json!({"path": "/etc/passwd"})),
        (
            "filesystem_read_text_file",
            json!({"path": evil.join("secret.txt").display().to_string()}),
        ),
        ("filesystem_read_text_file", json!({"path": a("link.txt")})),
        (
            "filesystem_read_text_file",
            json!({"path": a("linkdir/secret.txt")}),
        ),
        ("filesystem_list_directory", json!({"path": a("linkdir")})),
        (
            "filesystem_write_file",
            json!({"path": a("linkdir/planted.txt"), "content": "x"}),
        ),
        (
            "filesystem_write_file",
            json!({"path": ro.join("new.txt").display().to_string(), "content": "x"}),
        ),
        (
            "filesystem_edit_file",
            json!({"path": ro.join("keep.txt").display().to_string(), "edits": [{"oldText": "keep", "newText": "gone"}]}),
        ),
        (
            "filesystem_move_file",
            json!({"source": ro.join("keep.txt").display().to_string(), "destination": a("stolen.txt")}),
        ),
        (
            "filesystem_search_files",
            json!({"path": "/", "pattern": "*"}),
        ),
    ];
    for (tool, args) in attempts {
        let msg = tool_error(&c, tool, args.clone()).await;
        assert!(!msg.contains("SECRET"), "{tool}({args}) leaked: {msg}");
        // After every refusal, a normal call still works.
        let still = ok(&c, "filesystem_list_allowed_directories", json!({})).await;
        assert!(text(&still).contains("Allowed directories"));
    }
    assert!(
        !outside.join("planted.txt").exists(),
        "write through a symlink escaped"
    );
    assert_eq!(
        std::fs::read_to_string(ro.join("keep.txt")).expect("read"),
        "keep"
    );

    // Denials say what to grant.
    let out = tool_error(
        &c,
        "filesystem_read_text_file",
        json!({"path": "/etc/passwd"}),
    )
    .await;
    assert!(
        out.contains("outside the directories granted")
            && out.contains("[grants].files")
            && out.contains("filesystem.toml"),
        "{out}"
    );
    let sibling = tool_error(
        &c,
        "filesystem_read_text_file",
        json!({"path": evil.join("secret.txt").display().to_string()}),
    )
    .await;
    assert!(
        sibling.contains("outside the directories granted"),
        "{sibling}"
    );
    let ro_msg = tool_error(
        &c,
        "filesystem_write_file",
        json!({"path": ro.join("new.txt").display().to_string(), "content": "x"}),
    )
    .await;
    assert!(
        ro_msg.contains("read-only") && ro_msg.contains("mode = \"rw\""),
        "{ro_msg}"
    );
    c.cancel().await.ok();
}

fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[tokio::test]
async fn special_files_are_refused_before_they_are_opened() {
    let (f, rw, ro) = fixture();
    let fifo = rw.join("pipe");
    mkfifo(&fifo);
    std::os::unix::fs::symlink("pipe", rw.join("to-pipe")).expect("symlink");
    let client = f.connect().await;
    // Opening a FIFO for reading would wait for a writer that never comes; each of these must
    // answer at once with what the path is.
    let pipe = fifo.display().to_string();
    let link = rw.join("to-pipe").display().to_string();
    for (tool, args) in [
        ("filesystem_read_text_file", json!({"path": pipe})),
        ("filesystem_read_text_file", json!({"path": link})),
        ("filesystem_read_file", json!({"path": pipe})),
        (
            "filesystem_read_text_file",
            json!({"path": pipe, "byteOffset": 0}),
        ),
        ("filesystem_read_media_file", json!({"path": pipe})),
        (
            "filesystem_edit_file",
            json!({"path": link, "edits": [{"oldText": "a", "newText": "b"}]}),
        ),
    ] {
        let e = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            tool_error(&client, tool, args.clone()),
        )
        .await
        .unwrap_or_else(|_| panic!("{tool} {args} blocked on the FIFO"));
        assert!(e.contains("not a regular file"), "{tool}: {e}");
    }
    let many = ok(
        &client,
        "filesystem_read_multiple_files",
        json!({"paths": [pipe, ro.join("guide.md").display().to_string()]}),
    )
    .await;
    assert!(
        text(&many).contains("not a regular file"),
        "{}",
        text(&many)
    );
    assert!(text(&many).contains("line two"), "{}", text(&many));
    // grep walks past it, and pier keeps serving.
    std::fs::write(rw.join("notes.txt"), "a line\n").expect("write");
    let found = ok(
        &client,
        "filesystem_grep",
        json!({"path": rw.display().to_string(), "pattern": "line"}),
    )
    .await;
    assert!(text(&found).contains("notes.txt"), "{}", text(&found));
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_very_deep_tree_is_walked_without_crashing_and_capped() {
    let (f, rw, _) = fixture();
    let client = f.connect().await;
    // 2,020 nested folders in one call, then a tree with an absurd maxDepth, five times:
    // answered every time (capped), and the plugin's circuit stays closed for everyone.
    let mut deep = rw.join("deep");
    for _ in 0..2019 {
        deep = deep.join("d");
    }
    ok(
        &client,
        "filesystem_create_directory",
        json!({"path": deep.display().to_string()}),
    )
    .await;
    for _ in 0..5 {
        let r = ok(
            &client,
            "filesystem_directory_tree",
            json!({"path": rw.join("deep").display().to_string(), "maxDepth": 100000}),
        )
        .await;
        assert_eq!(structured(&r)["truncated"], true);
        assert_eq!(structured(&r)["entries"], 50);
    }
    let found = ok(
        &client,
        "filesystem_search_files",
        json!({"path": rw.display().to_string(), "pattern": "d", "maxDepth": 100000}),
    )
    .await;
    // `deep` at depth 1, then `d` down to the cap of 1,000 levels.
    assert_eq!(
        structured(&found)["matches"].as_array().map(Vec::len),
        Some(999)
    );
    assert_eq!(structured(&found)["truncated"], true);
    ok(&client, "filesystem_list_allowed_directories", json!({})).await;
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
#[allow(deprecated)] // resources/subscribe is what 2025-11-25 clients send
async fn a_subscriber_hears_of_files_the_plugin_changes() {
    use rmcp::model::{ReadResourceRequestParams, ResourceContents, SubscribeRequestParams};
    let (f, rw, _ro) = fixture();
    let c = f.connect().await;
    let templates = c
        .list_all_resource_templates()
        .await
        .expect("resources/templates/list");
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "file:///{+path}"),
        "{templates:?}"
    );
    let file = rw.join("notes one.md");
    std::fs::write(&file, "first\n").expect("write");
    let uri = format!("file://{}", file.display()).replace(' ', "%20");
    c.subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .expect("resources/subscribe");
    let path = file.display().to_string();
    ok(
        &c,
        "filesystem_write_file",
        json!({"path": path, "content": "second\n"}),
    )
    .await;
    ok(
        &c,
        "filesystem_edit_file",
        json!({"path": path, "edits": [{"oldText": "second", "newText": "third"}], "dryRun": true}),
    )
    .await;
    ok(
        &c,
        "filesystem_edit_file",
        json!({"path": path, "edits": [{"oldText": "second", "newText": "third"}]}),
    )
    .await;
    let updates = || {
        c.service()
            .updated
            .lock()
            .map(|u| u.clone())
            .unwrap_or_default()
    };
    let two = async {
        while updates().len() < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), two)
        .await
        .expect("notifications/resources/updated for both writes");
    // The dry run sent none.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let heard = updates();
    assert_eq!(heard, vec![uri.clone(), uri.clone()]);
    let read = c
        .read_resource(ReadResourceRequestParams::new(uri.clone()))
        .await
        .expect("resources/read");
    let body = match &read.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("not text: {other:?}"),
    };
    assert_eq!(body, "third\n");
}
