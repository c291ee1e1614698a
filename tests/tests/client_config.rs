//! `pier config` on sample config files of the four clients: pier's entry added in the
//! client's own shape, every other entry (and comment) kept, a backup made, idempotent.

use std::path::Path;
use std::process::Command;

use pier_e2e::{Fixture, pier_bin};
use serde_json::{Value, json};

fn pier_config(home: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(pier_bin())
        .arg("config")
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .expect("run pier config");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn json_of(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read config");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON ({e}):\n{text}", path.display()))
}

/// Runs the same `pier config` twice on `file` (holding `before`) and checks the edit.
fn check_client(f: &Fixture, client: &str, file: &Path, before: &str, args: &[&str]) -> Value {
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file, before).expect("write sample");
    let mut all = vec!["--client", client];
    all.extend_from_slice(args);
    let (ok, out) = pier_config(f.path(), &all);
    assert!(ok, "{out}");
    assert!(out.contains("added pier"), "{out}");
    let backup = format!("{}.bak", file.display());
    assert_eq!(
        std::fs::read_to_string(&backup).expect("backup"),
        before,
        "backup differs"
    );
    let after = std::fs::read_to_string(file).expect("read");

    // Idempotent: the second run changes nothing and makes no new backup.
    std::fs::remove_file(&backup).expect("remove backup");
    let (ok, out) = pier_config(f.path(), &all);
    assert!(ok && out.contains("already up to date"), "{out}");
    assert_eq!(std::fs::read_to_string(file).expect("read"), after);
    assert!(!Path::new(&backup).exists(), "a backup for no change");
    serde_json::from_str(&strip_line_comments(&after)).unwrap_or_else(|e| panic!("{e}: {after}"))
}

/// VS Code's files allow `//` comments; drop them (whole lines, or after ` //`) to check the
/// JSON. The samples have no ` //` inside strings.
fn strip_line_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| l.split(" //").next().unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn claude_desktop_default_path_keeps_other_servers() {
    let f = Fixture::new();
    let file = f.path().join(".config/Claude/claude_desktop_config.json");
    let before = r#"{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"]
    }
  },
  "globalShortcut": "Ctrl+Space"
}
"#;
    let plugins = f.plugins();
    let plugins = plugins.to_str().expect("utf-8");
    let v = check_client(
        &f,
        "claude",
        &file,
        before,
        &["--plugins", plugins, "--env", "RUST_LOG=warn"],
    );
    assert_eq!(v["globalShortcut"], "Ctrl+Space");
    assert_eq!(v["mcpServers"]["filesystem"]["command"], "npx");
    let pier = &v["mcpServers"]["pier"];
    assert_eq!(
        pier["command"],
        json!(
            pier_bin()
                .canonicalize()
                .expect("bin")
                .display()
                .to_string()
        )
    );
    assert_eq!(pier["args"], json!(["serve", "--plugins", plugins]));
    assert_eq!(pier["env"]["RUST_LOG"], "warn");
    // The untouched part of the file is byte for byte the same.
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.starts_with("{\n  \"mcpServers\": {\n    \"filesystem\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/Users/me/Desktop\"]\n    },\n    \"pier\": {"), "{text}");
    assert!(
        text.ends_with("  },\n  \"globalShortcut\": \"Ctrl+Space\"\n}\n"),
        "{text}"
    );

    // Claude Desktop's file cannot hold a remote server: say so, change nothing.
    let (ok, out) = pier_config(
        f.path(),
        &["--client", "claude", "--url", "http://127.0.0.1:8080/mcp"],
    );
    assert!(!ok && out.contains("Connectors"), "{out}");
}

#[test]
fn cursor_default_path_with_an_http_entry() {
    let f = Fixture::new();
    let file = f.path().join(".cursor/mcp.json");
    let before = "{\n\t\"mcpServers\": {\n\t\t\"linear\": {\"url\": \"https://mcp.linear.app/sse\"}\n\t}\n}\n";
    let v = check_client(
        &f,
        "cursor",
        &file,
        before,
        &[
            "--url",
            "http://127.0.0.1:8080/mcp",
            "--header",
            "Authorization: Bearer ${env:PIER_TOKEN}",
        ],
    );
    assert_eq!(
        v["mcpServers"]["linear"]["url"],
        "https://mcp.linear.app/sse"
    );
    assert_eq!(
        v["mcpServers"]["pier"],
        json!({"url": "http://127.0.0.1:8080/mcp", "headers": {"Authorization": "Bearer ${env:PIER_TOKEN}"}})
    );
    // The file's tab indentation is kept for the new entry.
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains("\n\t\t\"pier\": {\n\t\t\t\"url\""), "{text}");
}

#[test]
fn vscode_servers_with_type_and_comments_kept() {
    let f = Fixture::new();
    let file = f.path().join(".config/Code/User/mcp.json");
    let before = r#"{
  // Servers for Copilot agent mode
  "servers": {
    "github": {
      "type": "http",
      "url": "https://api.githubcopilot.com/mcp/"
    }, // hosted
  },
  "inputs": [
    {"type": "promptString", "id": "token", "description": "Token", "password": true}
  ]
}
"#;
    let v = check_client(
        &f,
        "vscode",
        &file,
        before,
        &[
            "--url",
            "http://127.0.0.1:8080/mcp",
            "--header",
            "Authorization: Bearer ${input:token}",
        ],
    );
    assert_eq!(v["servers"]["github"]["type"], "http");
    assert_eq!(v["inputs"][0]["id"], "token");
    assert_eq!(
        v["servers"]["pier"],
        json!({"type": "http", "url": "http://127.0.0.1:8080/mcp", "headers": {"Authorization": "Bearer ${input:token}"}})
    );
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(
        text.contains("// Servers for Copilot agent mode") && text.contains("}, // hosted"),
        "{text}"
    );

    // Switching the entry to stdio replaces it (a backup again), still under `servers`.
    let (ok, out) = pier_config(f.path(), &["--client", "vscode", "--identity", "me"]);
    assert!(ok && out.contains("updated pier"), "{out}");
    let text = std::fs::read_to_string(&file).expect("read");
    let v: Value = serde_json::from_str(&strip_line_comments(&text)).expect("json");
    assert_eq!(v["servers"]["pier"]["type"], "stdio");
    assert_eq!(
        v["servers"]["pier"]["args"],
        json!(["serve", "--identity", "me"])
    );
}

#[test]
fn kiro_and_any_file_by_path() {
    let f = Fixture::new();
    let file = f.path().join(".kiro/settings/mcp.json");
    let before = r#"{"mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"], "disabled": false, "autoApprove": []}}}"#;
    let v = check_client(&f, "kiro", &file, before, &[]);
    assert_eq!(v["mcpServers"]["fetch"]["autoApprove"], json!([]));
    assert_eq!(v["mcpServers"]["pier"]["args"], json!(["serve"]));

    // Any file by path: a workspace .vscode/mcp.json takes VS Code's shape, even when new.
    let ws = f.path().join("project/.vscode/mcp.json");
    let (ok, out) = pier_config(f.path(), &["--client", ws.to_str().expect("utf-8")]);
    assert!(ok, "{out}");
    assert_eq!(json_of(&ws)["servers"]["pier"]["type"], "stdio");

    // --print shows the snippet and writes nothing.
    let untouched = f.path().join("other.json");
    let (ok, out) = pier_config(
        f.path(),
        &["--client", untouched.to_str().expect("utf-8"), "--print"],
    );
    assert!(ok && !untouched.exists(), "{out}");
    let snippet: Value = serde_json::from_str(&out).expect("snippet is JSON");
    assert!(snippet["mcpServers"]["pier"]["command"].is_string());

    // A broken file is refused with its position, and left as it was.
    let broken = f.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"mcpServers\": {,}\n}\n").expect("write");
    let (ok, out) = pier_config(f.path(), &["--client", broken.to_str().expect("utf-8")]);
    assert!(!ok && out.contains("line 2"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&broken).expect("read"),
        "{\n  \"mcpServers\": {,}\n}\n"
    );
}
