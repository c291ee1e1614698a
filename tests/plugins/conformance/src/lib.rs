//! The fixtures `@modelcontextprotocol/conformance` expects of a server under test: tools
//! `test_simple_text`, `test_sampling`, `test_input_required_result_elicitation`, ...,
//! `json_schema_2020_12_tool`, resources under `test://`, and prompts `test_simple_prompt`, ...
//! Installed with `[plugin] prefix = ""`, so pier exposes exactly these names. Each answer is
//! what the suite's scenario text asks for. The questions to the client go through
//! `host.ask`, so the same fixture serves a 2025-11-25 session (server-to-client requests) and a
//! 2026-07-28 request (`InputRequiredResult` rounds). What pier cannot do yet is listed in
//! `tests/conformance/expected-failures.yml`.

use std::time::Duration;

use pier_sdk::host::{self, AskError, Elicited, InputRequest, LogLevel};

use pier_sdk::{
    CallContext, CallResult, CompletionTarget, Completions, Content, Error, Media, Plugin, Prompt,
    PromptArgument, PromptMessage, PromptResult, Prompts, ResourceBody, ResourceContents,
    ResourceInfo, ResourceTemplate, Resources, Role, Tool, ToolError, Tools, Value, json,
};

/// A 1x1 red pixel PNG.
const PNG: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0,
    0, 0, 31, 21, 196, 137, 0, 0, 0, 13, 73, 68, 65, 84, 120, 218, 99, 252, 207, 192, 240, 31, 0,
    5, 5, 2, 0, 95, 200, 241, 210, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];
/// One millisecond of 8-bit mono silence at 8 kHz, as WAV.
const WAV: &[u8] = &[
    82, 73, 70, 70, 44, 0, 0, 0, 87, 65, 86, 69, 102, 109, 116, 32, 16, 0, 0, 0, 1, 0, 1, 0, 64,
    31, 0, 0, 64, 31, 0, 0, 1, 0, 8, 0, 100, 97, 116, 97, 8, 0, 0, 0, 128, 128, 128, 128, 128, 128,
    128, 128,
];

fn png() -> Content {
    Content::Image(Media {
        data: PNG.to_vec(),
        mime_type: "image/png".into(),
    })
}

fn text_resource(uri: &str, mime: &str, text: &str) -> ResourceContents {
    ResourceContents {
        uri: uri.into(),
        mime_type: Some(mime.into()),
        body: ResourceBody::Text(text.into()),
    }
}

fn result(content: Vec<Content>) -> CallResult {
    CallResult {
        content,
        structured: None,
        is_error: false,
    }
}

struct Conformance;

type Outcome = Result<CallResult, ToolError>;

fn pause() {
    std::thread::sleep(Duration::from_millis(50));
}

fn logging(_: &mut Conformance, _: &CallContext, _: Value) -> Outcome {
    pier_sdk::host::log(LogLevel::Info, "Tool execution started");
    pause();
    pier_sdk::host::log(LogLevel::Info, "Tool processing data");
    pause();
    pier_sdk::host::log(LogLevel::Info, "Tool execution completed");
    Ok(CallResult::text("Tool with logging executed successfully"))
}

fn progress(_: &mut Conformance, cx: &CallContext, _: Value) -> Outcome {
    for (i, step) in [0.0, 50.0, 100.0].into_iter().enumerate() {
        if i > 0 {
            pause();
        }
        pier_sdk::host::progress(&cx.request_id, step, Some(100.0), None);
    }
    Ok(CallResult::text("Tool with progress executed successfully"))
}

fn multiple(_: &mut Conformance, _: &CallContext, _: Value) -> Outcome {
    Ok(result(vec![
        Content::Text("Multiple content types test:".into()),
        png(),
        Content::Embedded(text_resource(
            "test://mixed-content-resource",
            "application/json",
            r#"{"test":"data","value":123}"#,
        )),
    ]))
}

impl Plugin for Conformance {
    fn new() -> Self {
        Conformance
    }

    fn tools(&self, tools: &mut Tools<Self>) {
        let plain = |name: &str, description: &str| Tool::new(name, description).read_only();
        tools
            .add(
                plain("test_simple_text", "Returns one text block."),
                |_, _, _: Value| {
                    Ok(CallResult::text(
                        "This is a simple text response for testing.",
                    ))
                },
            )
            .add(
                plain("test_image_content", "Returns a PNG image."),
                |_, _, _: Value| Ok(result(vec![png()])),
            )
            .add(
                plain("test_audio_content", "Returns a WAV clip."),
                |_, _, _: Value| {
                    Ok(result(vec![Content::Audio(Media {
                        data: WAV.to_vec(),
                        mime_type: "audio/wav".into(),
                    })]))
                },
            )
            .add(
                plain("test_embedded_resource", "Returns an embedded text resource."),
                |_, _, _: Value| {
                    Ok(result(vec![Content::Embedded(text_resource(
                        "test://embedded-resource",
                        "text/plain",
                        "This is an embedded resource content.",
                    ))]))
                },
            )
            .add(
                plain(
                    "test_multiple_content_types",
                    "Returns text, an image and a resource.",
                ),
                multiple,
            )
            .add(
                plain("test_tool_with_logging", "Logs three messages while it runs."),
                logging,
            )
            .add(
                plain("test_error_handling", "Always fails with a tool error."),
                |_, _, _: Value| {
                    Err(ToolError::Failed(
                        "This tool intentionally returns an error for testing".into(),
                    ))
                },
            )
            .add(
                plain(
                    "test_tool_with_progress",
                    "Reports progress 0, 50 and 100 of 100.",
                ),
                progress,
            )
            .add(
                Tool::new(
                    "json_schema_2020_12_tool",
                    "Tool with JSON Schema 2020-12 features",
                )
                .read_only()
                .input_schema(json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "$defs": {
                        "address": {
                            "$anchor": "addressDef",
                            "type": "object",
                            "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
                        }
                    },
                    "properties": {
                        "name": {"type": "string"},
                        "address": {"$ref": "#/$defs/address"},
                        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                        "phone": {"type": "string"},
                        "email": {"type": "string"}
                    },
                    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
                    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
                    "then": {"required": ["phone"]},
                    "else": {"required": ["email"]},
                    "additionalProperties": false
                })),
                |_, _, args: Value| Ok(CallResult::text(format!("received {args}"))),
            );
        asking(tools);
        tasks(tools);
    }
}

/// Sleeps `ms` in steps, stopping early if the call is cancelled; true if it was.
fn nap(cx: &CallContext, ms: u64) -> bool {
    let mut slept = 0;
    while slept < ms {
        if host::cancelled(&cx.request_id) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
        slept += 20;
    }
    false
}

/// The tasks extension's fixtures (unprefixed names, as its scenarios call them).
fn tasks(tools: &mut Tools<Conformance>) {
    let tool = |name: &str, description: &str| Tool::new(name, description).read_only();
    tools
        .add(
            tool("greet", "Greets someone (never a task).").input_schema(json!({
                "type": "object", "properties": {"name": {"type": "string"}}
            })),
            |_, _, args: Value| {
                let name = args["name"].as_str().unwrap_or("world");
                Ok(CallResult::text(format!("Hello, {name}!")))
            },
        )
        .add(
            tool("slow_compute", "Sleeps `seconds`, then answers (a task).").input_schema(json!({
                "type": "object",
                "properties": {"seconds": {"type": "number"}, "label": {"type": "string"}}
            })),
            |_, cx, args: Value| {
                let seconds = args["seconds"].as_f64().unwrap_or(1.0).clamp(0.0, 120.0);
                if nap(cx, (seconds * 1000.0) as u64) {
                    return Err(ToolError::Failed("cancelled".into()));
                }
                let label = args["label"].as_str().unwrap_or("");
                Ok(CallResult::text(format!(
                    "computed {label} after {seconds} s"
                )))
            },
        )
        .add(
            tool(
                "confirm_delete",
                "Asks before it pretends to delete `filename` (a task).",
            )
            .input_schema(json!({
                "type": "object", "properties": {"filename": {"type": "string"}}
            })),
            |_, cx, args: Value| {
                let file = args["filename"].as_str().unwrap_or("");
                let schema = json!({"confirm": {"type": "boolean"}});
                let got = one(
                    cx,
                    "confirm",
                    form(&format!("Delete {file}?"), schema, &["confirm"]),
                )?;
                let yes = got["action"] == "accept" && got["content"]["confirm"] != false;
                Ok(CallResult::text(if yes {
                    format!("Deleted {file}")
                } else {
                    format!("Kept {file}")
                }))
            },
        )
        .add(
            tool("multi_input", "Asks two things at once (a task)."),
            |_, cx, _: Value| {
                let questions = [
                    ("first", name_form("First name?")),
                    ("last", name_form("Last name?")),
                ];
                let answers = host::ask(&cx.request_id, &questions, false).map_err(asked)?;
                Ok(CallResult::text(format!(
                    "{} {}",
                    field(answer(&answers, "first"), "name"),
                    field(answer(&answers, "last"), "name")
                )))
            },
        )
        .add(
            tool("failing_job", "Fails after a moment (a task, required)."),
            |_, cx, _: Value| {
                nap(cx, 1000);
                Err(ToolError::Failed(
                    "the job failed, as it always does".into(),
                ))
            },
        )
        .add(
            tool("protocol_error_job", "Crashes (a task)."),
            |_, _, _: Value| -> Outcome { panic!("the job crashed, as it always does") },
        )
        .add(
            tool(
                "test_tool_with_task",
                "Asks the user's name, then works on (a task, required).",
            ),
            |_, cx, _: Value| {
                let got = one(cx, "user_name", name_form("What is your name?"))?;
                Ok(CallResult::text(format!("Hello, {}!", field(&got, "name"))))
            },
        );
}

/// A tool error for a question the client could not answer.
fn asked(e: AskError) -> ToolError {
    ToolError::Failed(format!("could not ask the client: {}", e.message()))
}

fn form(message: &str, properties: Value, required: &[&str]) -> InputRequest {
    let params = json!({
        "message": message,
        "requestedSchema": {"type": "object", "properties": properties, "required": required},
    });
    InputRequest::Elicit(params.to_string())
}

fn sampling(text: &str, max_tokens: u32) -> InputRequest {
    let params = json!({
        "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
        "maxTokens": max_tokens,
    });
    InputRequest::Sample(params.to_string())
}

/// The answer under `key`, as asked.
fn answer<'a>(answers: &'a [(String, Value)], key: &str) -> &'a Value {
    answers
        .iter()
        .find(|(k, _)| k == key)
        .map_or(&Value::Null, |(_, v)| v)
}

fn completed(elicited: &Elicited) -> String {
    match elicited {
        Elicited::Accept(content) => {
            format!(
                "Elicitation completed: action=accept, content={}",
                Value::Object(content.clone())
            )
        }
        Elicited::Decline => "Elicitation completed: action=decline, content={}".into(),
        Elicited::Cancel => "Elicitation completed: action=cancel, content={}".into(),
    }
}

fn one(cx: &CallContext, key: &str, question: InputRequest) -> Result<Value, ToolError> {
    let answers = host::ask(&cx.request_id, &[(key, question)], false).map_err(asked)?;
    Ok(answer(&answers, key).clone())
}

fn name_form(message: &str) -> InputRequest {
    form(message, json!({"name": {"type": "string"}}), &["name"])
}

fn field<'a>(elicit: &'a Value, name: &str) -> &'a str {
    elicit["content"][name].as_str().unwrap_or("")
}

/// The fixtures that ask the client: the 2025-11-25 scenarios (sampling, elicitation and its
/// schemas) and the 2026-07-28 input-required ones, through the same `host.ask`.
fn asking(tools: &mut Tools<Conformance>) {
    let tool = |name: &str, description: &str| Tool::new(name, description).read_only();
    tools
        .add(
            tool("test_sampling", "Asks the client's model to answer a prompt.").input_schema(json!({
                "type": "object",
                "properties": {"prompt": {"type": "string"}},
                "required": ["prompt"]
            })),
            |_, cx, args: Value| {
                let prompt = args["prompt"].as_str().unwrap_or("");
                let text = host::sample(&cx.request_id, "sample", prompt, 100).map_err(asked)?;
                Ok(CallResult::text(format!("LLM response: {text}")))
            },
        )
        .add(
            tool("test_elicitation", "Asks the user for a username and email.").input_schema(json!({
                "type": "object",
                "properties": {"message": {"type": "string"}},
                "required": ["message"]
            })),
            |_, cx, args: Value| {
                let message = args["message"].as_str().unwrap_or("");
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"}
                    },
                    "required": ["username", "email"]
                });
                let got = host::elicit(&cx.request_id, "user", message, schema).map_err(asked)?;
                Ok(CallResult::text(format!("User response: {}", completed(&got))))
            },
        )
        .add(
            tool("test_elicitation_sep1034_defaults", "A form with a default for every type."),
            |_, cx, _: Value| {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "default": "John Doe"},
                        "age": {"type": "integer", "default": 30},
                        "score": {"type": "number", "default": 95.5},
                        "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
                        "verified": {"type": "boolean", "default": true}
                    }
                });
                let got = host::elicit(&cx.request_id, "defaults", "Check the defaults", schema)
                    .map_err(asked)?;
                Ok(CallResult::text(completed(&got)))
            },
        )
        .add(
            tool("test_elicitation_sep1330_enums", "A form with the five enum shapes."),
            |_, cx, _: Value| {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                        "titledSingle": {"type": "string", "oneOf": [
                            {"const": "value1", "title": "First Option"},
                            {"const": "value2", "title": "Second Option"},
                            {"const": "value3", "title": "Third Option"}
                        ]},
                        "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                            "enumNames": ["Option One", "Option Two", "Option Three"]},
                        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                        "titledMulti": {"type": "array", "items": {"anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"}
                        ]}}
                    }
                });
                let got = host::elicit(&cx.request_id, "enums", "Pick some options", schema)
                    .map_err(asked)?;
                Ok(CallResult::text(completed(&got)))
            },
        )
        .add(
            tool("test_input_required_result_elicitation", "Asks the user's name."),
            |_, cx, _: Value| {
                let got = one(cx, "user_name", name_form("What is your name?"))?;
                Ok(CallResult::text(format!("Hello, {}!", field(&got, "name"))))
            },
        )
        .add(
            tool("test_input_required_result_sampling", "Asks the model a question."),
            |_, cx, _: Value| {
                let got = one(cx, "capital_question", sampling("What is the capital of France?", 100))?;
                let text = got["content"]["text"].as_str().unwrap_or("");
                Ok(CallResult::text(format!("The model said: {text}")))
            },
        )
        .add(
            tool("test_input_required_result_list_roots", "Asks for the client's roots."),
            |_, cx, _: Value| {
                let got = one(cx, "client_roots", InputRequest::ListRoots)?;
                let uris: Vec<&str> = got["roots"]
                    .as_array()
                    .map(|r| r.iter().filter_map(|x| x["uri"].as_str()).collect())
                    .unwrap_or_default();
                Ok(CallResult::text(format!("Roots: {}", uris.join(", "))))
            },
        )
        .add(
            tool("test_input_required_result_request_state", "Asks for a confirmation."),
            |_, cx, _: Value| {
                let schema = json!({"ok": {"type": "boolean"}});
                let got = one(cx, "confirm", form("Please confirm", schema, &["ok"]))?;
                // pier checked the returned state's signature before this run began.
                Ok(CallResult::text(format!("state-ok: confirmed={}", got["content"]["ok"])))
            },
        )
        .add(
            tool("test_input_required_result_multiple_inputs", "Asks three things at once."),
            |_, cx, _: Value| {
                let questions = [
                    ("user_name", name_form("What is your name?")),
                    ("greeting", sampling("Generate a greeting", 50)),
                    ("client_roots", InputRequest::ListRoots),
                ];
                let answers = host::ask(&cx.request_id, &questions, false).map_err(asked)?;
                let name = field(answer(&answers, "user_name"), "name");
                let greeting = answer(&answers, "greeting")["content"]["text"].as_str().unwrap_or("");
                let roots = answer(&answers, "client_roots")["roots"].as_array().map_or(0, Vec::len);
                Ok(CallResult::text(format!("{greeting}, {name}; {roots} root(s)")))
            },
        )
        .add(
            tool("test_input_required_result_multi_round", "Asks two questions, one after the other."),
            |_, cx, _: Value| {
                let first = one(cx, "step1", name_form("Step 1: What is your name?"))?;
                let schema = json!({"color": {"type": "string"}});
                let second = one(cx, "step2", form("Step 2: What is your favorite color?", schema, &["color"]))?;
                Ok(CallResult::text(format!(
                    "{} likes {}",
                    field(&first, "name"),
                    field(&second, "color")
                )))
            },
        )
        .add(
            tool("test_input_required_result_tampered_state", "Asks for a confirmation."),
            |_, cx, _: Value| {
                let schema = json!({"ok": {"type": "boolean"}});
                one(cx, "confirm", form("Please confirm", schema, &["ok"]))?;
                Ok(CallResult::text("confirmed"))
            },
        )
        .add(
            tool("test_missing_capability", "Needs sampling, and refuses to run without it."),
            |_, cx, _: Value| {
                let questions = [("needed", sampling("Say yes", 10))];
                host::ask(&cx.request_id, &questions, true).map_err(asked)?;
                Ok(CallResult::text("the client can sample"))
            },
        )
        .add(
            tool("test_input_required_result_capabilities", "Asks the user, or else the model."),
            |_, cx, _: Value| {
                let asked_user = host::ask(&cx.request_id, &[("user_name", name_form("What is your name?"))], false);
                let text = match asked_user {
                    Ok(answers) => format!("the user said {}", field(answer(&answers, "user_name"), "name")),
                    // No elicitation: the model answers instead.
                    Err(AskError::Unsupported(_)) => {
                        let got = one(cx, "model_name", sampling("Suggest a name", 20))?;
                        format!("the model said {}", got["content"]["text"].as_str().unwrap_or(""))
                    }
                    Err(e) => return Err(asked(e)),
                };
                Ok(CallResult::text(text))
            },
        )
        .add(
            tool("test_streaming_elicitation", "Asks the user's name."),
            |_, cx, _: Value| {
                let got = one(cx, "user_name", name_form("What is your name?"))?;
                Ok(CallResult::text(format!("Hello, {}!", field(&got, "name"))))
            },
        )
        .add(
            tool("test_logging_tool", "Logs while it runs."),
            logging,
        );
}

impl Resources for Conformance {
    fn resources(&mut self, _cx: &CallContext) -> Result<Vec<ResourceInfo>, Error> {
        let info = |uri: &str, name: &str, description: &str, mime: &str| ResourceInfo {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: Some(description.into()),
            mime_type: Some(mime.into()),
            size: None,
        };
        Ok(vec![
            info(
                "test://static-text",
                "static-text",
                "A static text resource",
                "text/plain",
            ),
            info(
                "test://static-binary",
                "static-binary",
                "A static PNG",
                "image/png",
            ),
            info(
                "test://example-resource",
                "example-resource",
                "Embedded by a prompt",
                "text/plain",
            ),
            info(
                "test://watched-resource",
                "watched-resource",
                "A resource to subscribe to",
                "text/plain",
            ),
        ])
    }

    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        vec![ResourceTemplate {
            uri_template: "test://template/{id}/data".into(),
            name: "template".into(),
            title: None,
            description: Some("Data for an id".into()),
            mime_type: Some("application/json".into()),
        }]
    }

    fn read_resource(
        &mut self,
        _cx: &CallContext,
        uri: &str,
    ) -> Result<Vec<ResourceContents>, Error> {
        let contents = match uri {
            "test://static-text" => text_resource(
                uri,
                "text/plain",
                "This is the content of the static text resource.",
            ),
            "test://static-binary" => ResourceContents {
                uri: uri.into(),
                mime_type: Some("image/png".into()),
                body: ResourceBody::Blob(PNG.to_vec()),
            },
            "test://example-resource" | "test://watched-resource" => {
                text_resource(uri, "text/plain", "This is an example resource.")
            }
            _ => {
                let id = uri
                    .strip_prefix("test://template/")
                    .and_then(|rest| rest.strip_suffix("/data"))
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                    .ok_or_else(|| Error::NotFound(format!("no resource {uri}")))?;
                let body =
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
                text_resource(uri, "application/json", &body.to_string())
            }
        };
        Ok(vec![contents])
    }
}

impl Prompts for Conformance {
    fn prompts(&self) -> Vec<Prompt> {
        let arg = |name: &str, description: &str| PromptArgument {
            name: name.into(),
            title: None,
            description: Some(description.into()),
            required: true,
        };
        let prompt = |name: &str, description: &str, arguments| Prompt {
            name: name.into(),
            title: None,
            description: Some(description.into()),
            arguments,
        };
        vec![
            prompt("test_simple_prompt", "A prompt without arguments", vec![]),
            prompt(
                "test_prompt_with_arguments",
                "A prompt with two arguments",
                vec![
                    arg("arg1", "First test argument"),
                    arg("arg2", "Second test argument"),
                ],
            ),
            prompt(
                "test_prompt_with_embedded_resource",
                "A prompt that embeds a resource",
                vec![arg("resourceUri", "URI of the resource to embed")],
            ),
            prompt("test_prompt_with_image", "A prompt with an image", vec![]),
            prompt(
                "test_input_required_result_prompt",
                "A prompt that asks the user for its context",
                vec![],
            ),
        ]
    }

    fn get_prompt(
        &mut self,
        cx: &CallContext,
        name: &str,
        args: Vec<(String, String)>,
    ) -> Result<PromptResult, Error> {
        let get = |key: &str| {
            args.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| Error::InvalidParams(format!("`{key}` is required")))
        };
        let user = |content| PromptMessage {
            role: Role::User,
            content,
        };
        let messages = match name {
            "test_simple_prompt" => vec![user(Content::Text(
                "This is a simple prompt for testing.".into(),
            ))],
            "test_prompt_with_arguments" => vec![user(Content::Text(format!(
                "Prompt with arguments: arg1='{}', arg2='{}'",
                get("arg1")?,
                get("arg2")?
            )))],
            "test_prompt_with_embedded_resource" => {
                let uri = get("resourceUri")?;
                vec![
                    user(Content::Embedded(text_resource(
                        &uri,
                        "text/plain",
                        "Embedded resource content for testing.",
                    ))),
                    user(Content::Text(
                        "Please process the embedded resource above.".into(),
                    )),
                ]
            }
            "test_prompt_with_image" => vec![
                user(png()),
                user(Content::Text("Please analyze the image above.".into())),
            ],
            "test_input_required_result_prompt" => {
                let schema = json!({"context": {"type": "string"}});
                let question = form("What context should the prompt use?", schema, &["context"]);
                let answers = host::ask(&cx.request_id, &[("user_context", question)], false)
                    .map_err(|e| {
                        Error::Internal(format!("could not ask the client: {}", e.message()))
                    })?;
                let context = field(answer(&answers, "user_context"), "context");
                vec![user(Content::Text(format!("Use this context: {context}")))]
            }
            other => return Err(Error::NotFound(format!("no prompt {other}"))),
        };
        Ok(PromptResult {
            description: None,
            messages,
        })
    }
}

impl Completions for Conformance {
    fn complete(
        &mut self,
        _cx: &CallContext,
        target: &CompletionTarget,
        _argument: &str,
        value: &str,
        _context: &[(String, String)],
    ) -> Result<Vec<String>, Error> {
        let choices: &[&str] = match target {
            CompletionTarget::Prompt(_) => &["paris", "park", "party", "test", "testValue1"],
            CompletionTarget::ResourceTemplate(_) => &["123", "456"],
        };
        Ok(choices
            .iter()
            .filter(|c| c.starts_with(value))
            .map(|c| c.to_string())
            .collect())
    }
}

impl pier_sdk::About for Conformance {
    fn about(&self, _tools: &[Tool]) -> pier_sdk::PluginInfo {
        use pier_sdk::TaskSupport::{Optional, Required};
        let tasks = [
            ("slow_compute", Optional),
            ("confirm_delete", Optional),
            ("multi_input", Optional),
            ("failing_job", Required),
            ("protocol_error_job", Optional),
            ("test_tool_with_task", Required),
        ];
        pier_sdk::PluginInfo {
            instructions: None,
            icons: Vec::new(),
            confirm: Vec::new(),
            tasks: tasks.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
        }
    }
}

pier_sdk::export_plugin!(Conformance, resources, prompts, completions, about);
