//! The fixtures `@modelcontextprotocol/conformance` expects of a server under test: tools
//! `test_simple_text`, `test_image_content`, ..., resources under `test://`, and prompts
//! `test_simple_prompt`, ... Installed as `test.wasm`, so pier's `<plugin>_<tool>` naming gives
//! exactly those names. Each answer is what the suite's scenario text asks for; what pier itself
//! cannot do yet (sampling, elicitation, subscriptions) is absent on purpose and
//! listed in `tests/conformance/expected-failures.yml`.

use std::time::Duration;

use pier_sdk::host::LogLevel;

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
                plain("simple_text", "Returns one text block."),
                |_, _, _: Value| {
                    Ok(CallResult::text(
                        "This is a simple text response for testing.",
                    ))
                },
            )
            .add(
                plain("image_content", "Returns a PNG image."),
                |_, _, _: Value| Ok(result(vec![png()])),
            )
            .add(
                plain("audio_content", "Returns a WAV clip."),
                |_, _, _: Value| {
                    Ok(result(vec![Content::Audio(Media {
                        data: WAV.to_vec(),
                        mime_type: "audio/wav".into(),
                    })]))
                },
            )
            .add(
                plain("embedded_resource", "Returns an embedded text resource."),
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
                    "multiple_content_types",
                    "Returns text, an image and a resource.",
                ),
                multiple,
            )
            .add(
                plain("tool_with_logging", "Logs three messages while it runs."),
                logging,
            )
            .add(
                plain("error_handling", "Always fails with a tool error."),
                |_, _, _: Value| {
                    Err(ToolError::Failed(
                        "This tool intentionally returns an error for testing".into(),
                    ))
                },
            )
            .add(
                plain(
                    "tool_with_progress",
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
                            "type": "object",
                            "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
                        }
                    },
                    "properties": {
                        "name": {"type": "string"},
                        "address": {"$ref": "#/$defs/address"}
                    },
                    "additionalProperties": false
                })),
                |_, _, args: Value| Ok(CallResult::text(format!("received {args}"))),
            );
    }
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
            prompt("simple_prompt", "A prompt without arguments", vec![]),
            prompt(
                "prompt_with_arguments",
                "A prompt with two arguments",
                vec![
                    arg("arg1", "First test argument"),
                    arg("arg2", "Second test argument"),
                ],
            ),
            prompt(
                "prompt_with_embedded_resource",
                "A prompt that embeds a resource",
                vec![arg("resourceUri", "URI of the resource to embed")],
            ),
            prompt("prompt_with_image", "A prompt with an image", vec![]),
        ]
    }

    fn get_prompt(
        &mut self,
        _cx: &CallContext,
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
            "simple_prompt" => vec![user(Content::Text(
                "This is a simple prompt for testing.".into(),
            ))],
            "prompt_with_arguments" => vec![user(Content::Text(format!(
                "Prompt with arguments: arg1='{}', arg2='{}'",
                get("arg1")?,
                get("arg2")?
            )))],
            "prompt_with_embedded_resource" => {
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
            "prompt_with_image" => vec![
                user(png()),
                user(Content::Text("Please analyze the image above.".into())),
            ],
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

pier_sdk::export_plugin!(Conformance, resources, prompts, completions);
