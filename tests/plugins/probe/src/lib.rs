//! A plugin for pier's own tests. Each tool does one thing a test needs to observe: report its
//! call context and config, spin forever, allocate past its memory cap, panic, report progress,
//! count calls (to see instance replacement), read an environment variable. It also offers one
//! resource, one template and one prompt so their routing is tested end to end.

use pier_sdk::{
    CallContext, CallResult, CompletionTarget, Completions, Content, Error, Plugin, Prompt,
    PromptArgument, PromptMessage, PromptResult, Prompts, ResourceBody, ResourceContents,
    ResourceInfo, ResourceTemplate, Resources, Role, Tool, ToolError, Tools, Value, json,
};
use serde::Deserialize;

/// The instance's state: calls it has served (to see instance replacement).
struct Probe {
    calls: u64,
    /// What the last `wait_cancel` saw: `Some(true)` when the client cancelled it.
    last_cancel: Option<bool>,
}

#[derive(Deserialize)]
struct Mb {
    mb: usize,
}

#[derive(Deserialize)]
struct Name {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Ms {
    ms: u64,
}

type Outcome = Result<CallResult, ToolError>;

/// Counts the call, then runs `f`.
fn counted<A>(
    f: impl Fn(&mut Probe, &CallContext, A) -> Outcome,
) -> impl Fn(&mut Probe, &CallContext, A) -> Outcome {
    move |probe, cx, args| {
        probe.calls += 1;
        f(probe, cx, args)
    }
}

fn echo(_: &mut Probe, cx: &CallContext, args: Value) -> Outcome {
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

fn spin(_: &mut Probe, _: &CallContext, _: Value) -> Outcome {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn alloc(_: &mut Probe, _: &CallContext, a: Mb) -> Outcome {
    let mut v: Vec<u8> = Vec::with_capacity(a.mb * 1024 * 1024);
    v.resize(a.mb * 1024 * 1024, 1);
    Ok(CallResult::text(format!("allocated {} bytes", v.len())))
}

fn progress(_: &mut Probe, cx: &CallContext, _: Value) -> Outcome {
    for i in 1..=3 {
        let step = format!("step {i}");
        pier_sdk::host::progress(&cx.request_id, i as f64, Some(3.0), Some(&step));
    }
    Ok(CallResult::text("done"))
}

/// Waits up to `ms` for the client to cancel the call, checking `host.cancelled` every 10 ms,
/// and remembers whether it did (`last_cancel` tells a later call).
fn wait_cancel(probe: &mut Probe, cx: &CallContext, a: Ms) -> Outcome {
    let started = std::time::Instant::now();
    let mut cancelled = false;
    while started.elapsed().as_millis() < u128::from(a.ms) {
        if pier_sdk::host::cancelled(&cx.request_id) {
            cancelled = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    probe.last_cancel = Some(cancelled);
    Ok(CallResult::text(format!("cancelled: {cancelled}")))
}

fn env(_: &mut Probe, _: &CallContext, a: Name) -> Outcome {
    Ok(match std::env::var(&a.name) {
        Ok(v) => CallResult::text(v),
        Err(_) => CallResult::error(format!("{} is not set", a.name)),
    })
}

fn sleep(_: &mut Probe, _: &CallContext, a: Ms) -> Outcome {
    let until = std::time::Instant::now() + std::time::Duration::from_millis(a.ms);
    while std::time::Instant::now() < until {}
    Ok(CallResult::text("slept"))
}

impl Plugin for Probe {
    fn new() -> Self {
        Probe {
            calls: 0,
            last_cancel: None,
        }
    }

    fn tools(&self, tools: &mut Tools<Self>) {
        let schema = |props: Value, req: &[&str]| json!({"type": "object", "properties": props, "required": req});
        tools
            .add(
                Tool::new("echo", "Returns its arguments, call context and config.")
                    .read_only()
                    .input_schema(json!({"type": "object"}))
                    .output_schema(json!({"type": "object"})),
                counted(echo),
            )
            .add(
                Tool::new("spin", "Loops forever (tests the timeout).").read_only(),
                counted(spin),
            )
            .add(
                Tool::new(
                    "alloc",
                    "Allocates and touches `mb` MiB (tests the memory cap).",
                )
                .read_only()
                .input_schema(schema(json!({"mb": {"type": "integer"}}), &["mb"])),
                counted(alloc),
            )
            .add(
                Tool::new("panic", "Panics (tests trap recovery).").read_only(),
                counted(|_, _, _: Value| panic!("probe was asked to panic")),
            )
            .add(
                Tool::new("count", "Counts calls served by this instance.").read_only(),
                counted(|probe, _, _: Value| Ok(CallResult::text(probe.calls.to_string()))),
            )
            .add(
                Tool::new("progress", "Reports three progress steps.").read_only(),
                counted(progress),
            )
            .add(
                Tool::new("env", "Reads an environment variable.")
                    .read_only()
                    .input_schema(schema(json!({"name": {"type": "string"}}), &["name"])),
                counted(env),
            )
            .add(
                Tool::new("sleep", "Busy-waits `ms` milliseconds, then answers.")
                    .read_only()
                    .input_schema(schema(json!({"ms": {"type": "integer"}}), &["ms"])),
                counted(sleep),
            )
            .add(
                Tool::new(
                    "wipe",
                    "Pretends to delete `what` (its confirmation is the test).",
                )
                .destructive(true)
                .input_schema(schema(json!({"what": {"type": "string"}}), &["what"])),
                |_, _, a: Value| Ok(CallResult::text(format!("wiped {}", a["what"]))),
            )
            .add(
                Tool::new(
                    "wait_cancel",
                    "Waits up to `ms` for the call to be cancelled.",
                )
                .read_only()
                .input_schema(schema(json!({"ms": {"type": "integer"}}), &["ms"])),
                wait_cancel,
            )
            .add(
                Tool::new(
                    "ticks",
                    "Sleeps 20 ms at a time on the SDK's executor for `ms` while a background \
                     task sleeps longer; returns how many sleeps ended.",
                )
                .read_only()
                .input_schema(schema(json!({"ms": {"type": "integer"}}), &["ms"])),
                |_, _, a: Ms| {
                    use pier_sdk::rt;
                    use std::time::{Duration, Instant};
                    let started = Instant::now();
                    rt::spawn(async { rt::sleep(Duration::from_secs(3)).await });
                    let ticks = rt::block_on(async {
                        let mut ticks = 0;
                        while started.elapsed().as_millis() < u128::from(a.ms) {
                            rt::sleep(Duration::from_millis(20)).await;
                            ticks += 1;
                        }
                        ticks
                    });
                    Ok(CallResult::text(format!("{ticks} ticks")))
                },
            )
            .add(
                Tool::new("touch", "Announces that probe://hello changed.").read_only(),
                |_, _, _: Value| {
                    pier_sdk::host::resource_updated("probe://hello");
                    Ok(CallResult::text("touched"))
                },
            )
            .add(
                Tool::new(
                    "last_cancel",
                    "What the last wait_cancel of this instance saw.",
                )
                .read_only(),
                |probe, _, _: Value| Ok(CallResult::text(format!("{:?}", probe.last_cancel))),
            );
        // `[config].extra_tool` adds a tool by that name, so tests can provoke name collisions.
        if let Some(name) = pier_sdk::host::config("extra_tool") {
            tools.add(
                Tool::new(&name, "Extra tool named by [config].extra_tool.").read_only(),
                counted(|_, _, _: Value| Ok(CallResult::text("extra"))),
            );
        }
    }
}

impl Resources for Probe {
    fn resources(&mut self, _cx: &CallContext) -> Result<Vec<ResourceInfo>, Error> {
        Ok(vec![ResourceInfo {
            uri: "probe://hello".into(),
            name: "hello".into(),
            title: Some("Hello".into()),
            description: None,
            mime_type: Some("text/plain".into()),
            size: None,
        }])
    }

    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        vec![ResourceTemplate {
            uri_template: "probe://echo/{text}".into(),
            name: "echo".into(),
            title: None,
            description: Some("Echoes the text in the URI".into()),
            mime_type: Some("text/plain".into()),
        }]
    }

    fn read_resource(
        &mut self,
        _cx: &CallContext,
        uri: &str,
    ) -> Result<Vec<ResourceContents>, Error> {
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
}

impl Prompts for Probe {
    fn prompts(&self) -> Vec<Prompt> {
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
        &mut self,
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
}

impl Completions for Probe {
    fn complete(
        &mut self,
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

impl pier_sdk::About for Probe {
    fn about(&self, _tools: &[Tool]) -> pier_sdk::PluginInfo {
        let icon = pier_sdk::Icon {
            src: "data:image/svg+xml;base64,PHN2Zy8+".into(),
            mime_type: Some("image/svg+xml".into()),
            sizes: vec!["any".into()],
            theme: None,
        };
        let bad = pier_sdk::Icon {
            src: "http://example.com/plain.png".into(),
            ..icon.clone()
        };
        pier_sdk::PluginInfo {
            instructions: Some("Probe answers the end-to-end tests.".into()),
            icons: vec![("echo".into(), vec![icon, bad])],
            // Only wipe: echo is destructive by MCP's default annotations, and must not ask.
            confirm: vec!["wipe".into()],
            tasks: Vec::new(),
        }
    }
}

pier_sdk::export_plugin!(Probe, resources, prompts, completions, about);
