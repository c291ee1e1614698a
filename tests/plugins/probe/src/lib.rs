//! A plugin for pier's own tests. Each tool does one thing a test needs to observe: report its
//! call context and config, spin forever, allocate past its memory cap, panic, report progress,
//! count calls (to see instance replacement), read an environment variable. It also offers one
//! resource, one template and one prompt so their routing is tested end to end.

use std::sync::atomic::{AtomicU64, Ordering};

use pier_sdk::{
    CallContext, CallResult, CompletionTarget, Content, Error, Plugin, Prompt, PromptArgument,
    PromptMessage, PromptResult, ResourceBody, ResourceContents, ResourceInfo, ResourceTemplate,
    Role, Tool, Value, json,
};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Probe;

fn num(args: &Value, key: &str) -> Result<u64, Error> {
    args.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::InvalidParams(format!("`{key}` must be a non-negative integer")))
}

impl Plugin for Probe {
    fn tools() -> Vec<Tool> {
        let schema = |props: Value, req: &[&str]| json!({"type": "object", "properties": props, "required": req});
        // `[config].extra_tool` adds a tool by that name, so tests can provoke name collisions.
        let extra = pier_sdk::host::config("extra_tool")
            .map(|name| Tool::new(&name, "Extra tool named by [config].extra_tool.").read_only());
        let mut tools = vec![
            Tool::new("echo", "Returns its arguments, call context and config.")
                .read_only()
                .input_schema(json!({"type": "object"}))
                .output_schema(json!({"type": "object"})),
            Tool::new("spin", "Loops forever (tests the timeout).").read_only(),
            Tool::new(
                "alloc",
                "Allocates and touches `mb` MiB (tests the memory cap).",
            )
            .read_only()
            .input_schema(schema(json!({"mb": {"type": "integer"}}), &["mb"])),
            Tool::new("panic", "Panics (tests trap recovery).").read_only(),
            Tool::new("count", "Counts calls served by this instance.").read_only(),
            Tool::new("progress", "Reports three progress steps.").read_only(),
            Tool::new("env", "Reads an environment variable.")
                .read_only()
                .input_schema(schema(json!({"name": {"type": "string"}}), &["name"])),
            Tool::new("sleep", "Busy-waits `ms` milliseconds, then answers.")
                .read_only()
                .input_schema(schema(json!({"ms": {"type": "integer"}}), &["ms"])),
        ];
        tools.extend(extra);
        tools
    }

    fn call(cx: &CallContext, name: &str, args: Value) -> Result<CallResult, Error> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        match name {
            "echo" => {
                let out = json!({
                    "args": args,
                    "requestId": cx.request_id,
                    "identity": cx.identity,
                    "session": cx.session,
                    "config": pier_sdk::host::config_all(),
                    "plugin": pier_sdk::host::plugin_name(),
                    "manifest": pier_sdk::host::manifest_path(),
                });
                Ok(CallResult::structured(out.to_string(), &out))
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
            "panic" => panic!("probe was asked to panic"),
            "count" => Ok(CallResult::text(CALLS.load(Ordering::SeqCst).to_string())),
            "progress" => {
                for i in 1..=3 {
                    pier_sdk::host::progress(
                        &cx.request_id,
                        i as f64,
                        Some(3.0),
                        Some(&format!("step {i}")),
                    );
                }
                Ok(CallResult::text("done"))
            }
            "env" => {
                let key = args.get("name").and_then(Value::as_str).unwrap_or_default();
                Ok(match std::env::var(key) {
                    Ok(v) => CallResult::text(v),
                    Err(_) => CallResult::error(format!("{key} is not set")),
                })
            }
            "sleep" => {
                let ms = num(&args, "ms")?;
                let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
                while std::time::Instant::now() < until {}
                Ok(CallResult::text("slept"))
            }
            other => Err(Error::unknown_tool(other)),
        }
    }

    fn resources(_cx: &CallContext) -> Result<Vec<ResourceInfo>, Error> {
        Ok(vec![ResourceInfo {
            uri: "probe://hello".into(),
            name: "hello".into(),
            title: Some("Hello".into()),
            description: None,
            mime_type: Some("text/plain".into()),
            size: None,
        }])
    }

    fn resource_templates() -> Vec<ResourceTemplate> {
        vec![ResourceTemplate {
            uri_template: "probe://echo/{text}".into(),
            name: "echo".into(),
            title: None,
            description: Some("Echoes the text in the URI".into()),
            mime_type: Some("text/plain".into()),
        }]
    }

    fn read_resource(_cx: &CallContext, uri: &str) -> Result<Vec<ResourceContents>, Error> {
        let text = match uri {
            "probe://hello" => "hello from probe".to_string(),
            u if u.starts_with("probe://echo/") => u["probe://echo/".len()..].to_string(),
            _ => return Err(Error::NotFound(format!("no resource {uri}"))),
        };
        Ok(vec![ResourceContents {
            uri: uri.into(),
            mime_type: Some("text/plain".into()),
            body: ResourceBody::Text(text),
        }])
    }

    fn prompts() -> Vec<Prompt> {
        vec![Prompt {
            name: "greet".into(),
            title: None,
            description: Some("Greets someone".into()),
            arguments: vec![PromptArgument {
                name: "name".into(),
                title: None,
                description: None,
                required: true,
            }],
        }]
    }

    fn get_prompt(
        _cx: &CallContext,
        name: &str,
        args: Vec<(String, String)>,
    ) -> Result<PromptResult, Error> {
        if name != "greet" {
            return Err(Error::NotFound(format!("no prompt {name}")));
        }
        let who = args
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| Error::InvalidParams("`name` is required".into()))?;
        Ok(PromptResult {
            description: None,
            messages: vec![PromptMessage {
                role: Role::User,
                content: Content::Text(format!("Say hello to {who}.")),
            }],
        })
    }

    fn complete(
        _cx: &CallContext,
        target: &CompletionTarget,
        argument: &str,
        value: &str,
        _context: &[(String, String)],
    ) -> Result<Vec<String>, Error> {
        let choices: &[&str] = match (target, argument) {
            (CompletionTarget::Prompt(p), "name") if p == "greet" => &["alice", "albert", "bob"],
            (CompletionTarget::ResourceTemplate(_), "text") => &["hello", "help", "world"],
            _ => {
                return Err(Error::InvalidParams(format!(
                    "nothing to complete for `{argument}`"
                )));
            }
        };
        Ok(choices
            .iter()
            .filter(|c| c.starts_with(value))
            .map(|c| c.to_string())
            .collect())
    }
}

pier_sdk::export_plugin!(Probe);
